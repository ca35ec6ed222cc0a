"""SQS handler: SES bounces and complaints → the shop's suppression list (partial batch failures)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.feedback import bootstrap
from services.feedback.domain.surveys import bounces
from shared.clock import utcnow
from shared.errors import BadRequest
from shared.observability import Counts, counted, logger

log = logger("feedback")
metrics = Counts("feedback")
# The suppression reason a notification carries → the metric counting its addresses.
FEEDBACK_METRICS = {"bounced": "SesBounces", "complained": "SesComplaints"}
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    log.set_correlation_id(record.message_id)
    try:
        feedback = bounces.parse(json.loads(record.body))
    except (BadRequest, json.JSONDecodeError) as e:
        # Retrying cannot make it readable: it goes to the dead-letter queue for a person to look at.
        log.error("unreadable mail notification", reason=str(e))
        raise
    built = bootstrap.surveys()
    count = bounces.act(built.surveys, feedback, utcnow(), built.publisher)
    log.info("mail notification", suppressed=count)
    for item in feedback:  # after acting: a retried record is counted once it went through
        metrics.count(FEEDBACK_METRICS[item.reason.value])


@log.inject_lambda_context(clear_state=True)
@counted(metrics)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
