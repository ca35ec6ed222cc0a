"""SQS handler: what the notifier hears from the bus (partial batch failures; a failing record is
retried, then dead-lettered; an event the notifier has no use for is acknowledged).

- ResponseRecorded → the answer kept; the shop's rules; a case; alerts in their batches;
- FeedbackScored → the reading kept (answers) or the mention's rules and case (reviews), theme surges;
- OrderRecorded → the customer's order history (churn risk);
- SurveysSent → the sent counts (response rates in the digest);
- ContactSuppressed → never reply to that address;
- SourceFailing, SourceRecovered → the owner told (a review source's connection);
- ReviewReplyResult → a public reply's case replied once the site took it, else the owner's again;
- CustomerErased, ShopErased → erased here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.notifier.bootstrap import notifier
from services.notifier.domain import housekeeping, intake, replies
from shared import events
from shared.clock import utcnow
from shared.observability import logger

log = logger("notifier")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    log.set_correlation_id(record.message_id)  # until the message names its own: never the last one's
    try:
        detail_type, envelope = events.from_queue(record.body)
    except ValueError as e:
        log.error("unreadable event", message_id=record.message_id, reason=str(e)[:500])
        raise
    log.set_correlation_id(envelope.correlation_id or record.message_id)
    handled = handle(detail_type, envelope, utcnow())
    log.info("event", detail_type=detail_type, shop_id=envelope.shop_id, handled=handled)


def handle(detail_type: str, envelope: events.Envelope, now: datetime) -> str:
    """What was done, in a word (for the log); raises ValueError for a body of the wrong shape."""
    built, shop_id, data = notifier(), envelope.shop_id, envelope.data
    if detail_type == events.RESPONSE_RECORDED:
        alerts = intake.on_response(
            built.intake(), shop_id, events.ResponseRecorded.model_validate(data), now
        )
        return f"{len(alerts)} alerts"
    if detail_type == events.FEEDBACK_SCORED:
        alerts = intake.on_scored(built.intake(), shop_id, events.FeedbackScored.model_validate(data), now)
        return f"{len(alerts)} alerts"
    if detail_type == events.REVIEW_REPLY_RESULT:
        return replies.on_reply_result(
            built.store, shop_id, events.ReviewReplyResult.model_validate(data), now
        )
    if detail_type in (events.SOURCE_FAILING, events.SOURCE_RECOVERED):
        return f"{len(intake.on_source_health(built.intake(), shop_id, detail_type, data, now))} alerts"
    return housekeeping.handle(built.store, built.hooks(), detail_type, shop_id, data, now)


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
