"""Each SQS record logs under its own id from its first line (issue 16, operations): an unreadable
message used to be logged under the previous record's correlation id, so the two could not be told
apart in CloudWatch."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.feedback.handlers import events as feedback_events
from services.notifier.handlers import events as notifier_events
from services.reviews.handlers import events as reviews_events

pytestmark = pytest.mark.unit


def _record(message_id: str, body: str) -> SQSRecord:
    return SQSRecord({"messageId": message_id, "body": body, "attributes": {"ApproximateReceiveCount": "1"}})


@pytest.mark.parametrize("module", [feedback_events, notifier_events, reviews_events])
def test_an_unreadable_record_is_logged_under_its_own_id(module: Any) -> None:
    handler = module.log.registered_handler
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        module.log.set_correlation_id("the-previous-record")
        with pytest.raises(Exception):  # noqa: B017 (whatever the parser raises, the record fails)
            module.record_handler(_record("m-unreadable", "not json"))
    finally:
        handler.setStream(previous)
    logged = [json.loads(line) for line in written.getvalue().splitlines() if line.startswith("{")]
    entries = [e for e in logged if e.get("level") in ("ERROR", "WARNING")]
    assert entries, "the unreadable record was not logged"
    assert {e.get("correlation_id") for e in entries} == {"m-unreadable"}
