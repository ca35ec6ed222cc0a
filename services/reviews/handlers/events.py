"""SQS handler: what the reviews service hears from the bus (partial batch failures).

- FeedbackScored about a review → the reading kept on the review (the newest revision wins);
- ShopErased → the shop's reviews, connections and source credentials deleted;
- ReviewReplyRequested (the owner approved a reply in the notifier) → posted through the source, and
  what became of it told back (ReviewReplyResult): only a posted reply makes the notifier's case replied.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.reviews import bootstrap
from services.reviews.domain.erasure import erase_shop
from services.reviews.domain.readings import keep_reading
from services.reviews.domain.replies import post_reply
from shared import events
from shared.clock import utcnow
from shared.observability import logger

log = logger("reviews")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    log.set_correlation_id(record.message_id)  # until the message names its own: never the last one's
    try:
        detail_type, envelope = events.from_queue(record.body)
        scored = (
            events.FeedbackScored.model_validate(envelope.data)
            if detail_type == events.FEEDBACK_SCORED
            else None
        )
    except ValueError as e:
        log.error("unreadable event", message_id=record.message_id, reason=str(e)[:500])
        raise
    log.set_correlation_id(envelope.correlation_id or record.message_id)
    built = bootstrap.reviews()
    if scored is not None:
        kept = keep_reading(built.store, envelope.shop_id, scored)
        log.info("reading", shop_id=envelope.shop_id, key=scored.key, kept=kept.value)
    elif detail_type == events.REVIEW_REPLY_REQUESTED:
        _reply(built, envelope)
    elif detail_type == events.SHOP_ERASED:
        deleted = erase_shop(built.store, built.credentials, envelope.shop_id)
        log.info("shop erased", shop_id=envelope.shop_id, deleted=deleted)
    else:
        log.warning("ignored event", detail_type=detail_type)


def _reply(built: Any, envelope: events.Envelope) -> None:
    request = events.ReviewReplyRequested.model_validate(envelope.data)
    review = built.store.get(envelope.shop_id, request.mention_id)
    done = review.owner_reply if review else None
    if done is not None and done.text == request.text.strip() and done.status.value != "failed":
        log.info("reply already posted", shop_id=envelope.shop_id, mention_id=request.mention_id)
        _tell(built, envelope, request, done.status.value, done.detail)  # the first telling may be lost
        return  # a redelivery: the source has this reply already
    try:
        reply = post_reply(
            built.store,
            built.deps.connectors,
            built.credentials,
            envelope.shop_id,
            request.mention_id,
            request.text,
            utcnow(),
        )
    except (LookupError, ValueError) as e:
        # Another shop's review, a deleted one, an empty text: retrying cannot help.
        log.warning(
            "reply not posted", shop_id=envelope.shop_id, mention_id=request.mention_id, reason=str(e)
        )
        _tell(built, envelope, request, "failed", str(e)[:300])
        return
    log.info("reply", shop_id=envelope.shop_id, mention_id=request.mention_id, status=reply.status.value)
    _tell(built, envelope, request, reply.status.value, reply.detail)


def _tell(
    built: Any, envelope: events.Envelope, request: events.ReviewReplyRequested, status: str, detail: str
) -> None:
    result = events.ReviewReplyResult.model_validate(
        {"mention_id": request.mention_id, "case_id": request.case_id, "status": status, "detail": detail}
    )
    built.replies.publish(
        events.REVIEW_REPLY_RESULT, envelope.shop_id, result.model_dump(mode="json"), envelope.correlation_id
    )


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
