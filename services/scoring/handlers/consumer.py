"""SQS handler: ResponseRecorded and MentionIngested (from the bus) → FeedbackScored, partial failures.

The whole batch is read first and scored in one model call per shop; then each record publishes its
reading on its own, so one failure is retried alone. Re-scoring is harmless (the same text gives the
same reading) and FeedbackScored carries the subject's idempotency key for its consumers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.scoring import bootstrap
from services.scoring.domain.scoring import Subject, score_all, scored_event, subject_of
from shared import events
from shared.clock import utcnow
from shared.errors import BadRequest
from shared.observability import logger

log = logger("scoring")
processor = BatchProcessor(event_type=EventType.SQS)


def read(body: str) -> Subject | None:
    """An EventBridge event as a rule delivers it to SQS; BadRequest if it is not one we read."""
    try:
        detail_type, envelope = events.from_queue(body)
    except events.UnreadableMessage as e:
        raise BadRequest(str(e)) from e
    return subject_of(detail_type, envelope)


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    prepared: dict[str, Subject | BadRequest | None] = {}
    for record in event.get("Records", []):
        try:
            prepared[record["messageId"]] = read(record["body"])
        except BadRequest as e:
            prepared[record["messageId"]] = e
    built = bootstrap.scoring()
    subjects = [s for s in prepared.values() if isinstance(s, Subject)]
    readings = score_all(subjects, built.score, built.taxonomies)
    now = utcnow()

    def record_handler(record: SQSRecord) -> None:
        log.set_correlation_id(record.message_id)  # until the message names its own
        outcome = prepared[record.message_id]
        if isinstance(outcome, BadRequest):
            # Retrying cannot make it readable: it goes to the dead-letter queue for a person to see.
            log.error("unreadable event", message_id=record.message_id, reason=str(outcome))
            raise outcome
        if outcome is None:
            log.info("nothing to score", message_id=record.message_id)
            return
        log.set_correlation_id(outcome.correlation_id or record.message_id)
        scored = scored_event(outcome, readings[outcome.key], now)
        built.publisher.publish(
            events.FEEDBACK_SCORED, outcome.shop_id, scored.model_dump(mode="json"), outcome.correlation_id
        )
        log.info(
            "feedback scored",
            shop_id=outcome.shop_id,
            subject=outcome.subject,
            key=outcome.key,
            label=scored.sentiment.label if scored.sentiment else None,
            themes=[t.theme for t in scored.themes],
            flags=scored.flags,
        )

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
