"""SQS handler: FeedbackScored (from the bus) → the reading kept on the review it is about."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from services.reviews.domain.readings import keep_reading
from services.reviews.handlers.puller import reviews
from shared import events
from shared.observability import logger

log = logger("reviews")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        envelope = events.Envelope.model_validate(json.loads(record.body)["detail"])
        scored = events.FeedbackScored.model_validate(envelope.data)
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as e:
        log.error("unreadable reading", message_id=record.message_id, reason=str(e)[:500])
        raise
    log.set_correlation_id(envelope.correlation_id or record.message_id)
    kept = keep_reading(reviews().store, envelope.shop_id, scored)
    log.info("reading", shop_id=envelope.shop_id, key=scored.key, kept=kept.value)


@log.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
