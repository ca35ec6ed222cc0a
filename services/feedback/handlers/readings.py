"""SQS handler: FeedbackScored (from the bus) → the reading kept on the answered invitation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.feedback import bootstrap
from services.feedback.domain.surveys.readings import keep_reading
from shared import events
from shared.observability import logger

log = logger("feedback")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    log.set_correlation_id(record.message_id)  # until the message names its own: never the last one's
    try:
        _, envelope = events.from_queue(record.body)
        scored = events.FeedbackScored.model_validate(envelope.data)
    except ValueError as e:
        # Retrying cannot make it readable: it goes to the dead-letter queue for a person to look at.
        log.error("unreadable reading", message_id=record.message_id, reason=str(e)[:500])
        raise
    log.set_correlation_id(envelope.correlation_id or record.message_id)
    kept = keep_reading(bootstrap.surveys().surveys, envelope.shop_id, scored)
    log.info("reading", shop_id=envelope.shop_id, key=scored.key, kept=kept.value)


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
