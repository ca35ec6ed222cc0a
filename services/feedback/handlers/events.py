"""SQS handler: queued webhooks → normalised records, with partial batch failures.

A record that fails is reported back alone; SQS redelivers it, and after the queue's
maxReceiveCount it lands in the dead-letter queue (``cxloop dlq list|replay``). A permanent defect
(an event that names no order) is not a failure: the use case dead-letters it at once with its
reason, and the record is acknowledged.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.feedback import bootstrap
from services.feedback.domain.model import QueuedEvent
from services.feedback.domain.orders.processing import process
from shared import topology
from shared.clock import utcnow
from shared.observability import logger

log = logger("feedback")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    log.set_correlation_id(record.message_id)  # until the message names its own: never the last one's
    receives = int(record.attributes.approximate_receive_count or 1)
    try:
        message = QueuedEvent.model_validate_json(record.body)
    except ValueError:
        log.exception("unreadable message", message_id=record.message_id, receive_count=receives)
        raise
    log.set_correlation_id(message.correlation_id or record.message_id)
    try:
        receipt = process(message, bootstrap.consumer().deps, utcnow())
    except Exception:
        # Reported back as a batch item failure: SQS retries it, then dead-letters it. On the last
        # receive the raw event stops being pending, so the sweeper leaves it to the dead-letter queue.
        log.exception("event failed", message_id=record.message_id, receive_count=receives)
        if receives >= topology.FEEDBACK_EVENTS.max_receive_count:
            bootstrap.consumer().raw_events.give_up(message.stored(), utcnow())
        raise
    if receipt.dead_lettered:
        log.warning(
            "event dead-lettered",
            message_id=record.message_id,
            shop_id=message.shop_id,
            topic=message.topic,
            reason=receipt.dead_lettered,
        )
        return
    if receipt.warnings:
        log.warning("fields dropped", shop_id=message.shop_id, topic=message.topic, warnings=receipt.warnings)
    log.info(
        "event processed",
        shop_id=message.shop_id,
        platform=message.platform.value,
        topic=message.topic,
        applied=len(receipt.applied),
        stale=len(receipt.stale),
        redacted=receipt.redacted,
        receive_count=receives,
    )


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
