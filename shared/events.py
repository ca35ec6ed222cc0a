"""The event catalogue: every detail type on the cxloop bus (and the AWS ones cxloop reads), the model of
each cxloop event's data, and the one envelope and publisher every service uses.

The envelope's shape is pinned by a contract test: consumers in other services rely on it. Who publishes
and who consumes each event is declared in shared/topology.py and written to docs/events.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.clock import utcnow
from shared.sentiment import Flag, Reading, Sentiment, ThemeScore

SOURCE_PREFIX = "cxloop."

# cxloop's events (EventBridge detail-type): the only spelling of each name in the code.
RESPONSE_RECORDED = "ResponseRecorded"
MENTION_INGESTED = "MentionIngested"
FEEDBACK_SCORED = "FeedbackScored"
REVIEW_REPLY_REQUESTED = "ReviewReplyRequested"
REVIEW_REPLY_RESULT = "ReviewReplyResult"
ORDER_RECORDED = "OrderRecorded"
SURVEYS_SENT = "SurveysSent"
CONTACT_SUPPRESSED = "ContactSuppressed"
SOURCE_FAILING = "SourceFailing"
SOURCE_RECOVERED = "SourceRecovered"
CUSTOMER_ERASED = "CustomerErased"
CUSTOMER_DATA_EXPORTED = "CustomerDataExported"
SHOP_ERASED = "ShopErased"
# SES's events on the account's default bus (their shape is AWS's; feedback/domain/surveys/bounces.py).
SES_BOUNCED = "Email Bounced"
SES_COMPLAINED = "Email Complaint Received"
AWS_EVENTS = (SES_BOUNCED, SES_COMPLAINED)
# PutEvents takes at most this many entries per call.
MAX_ENTRIES = 10


class Envelope(BaseModel):
    name: str
    version: int = 1
    shop_id: str
    correlation_id: str = ""
    occurred_at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)


class ResponseRecorded(BaseModel):
    """A survey answer, or a change to it. Consumers keep the highest ``revision`` per invitation
    (the same revision may arrive twice; a lower one after a higher one is stale)."""

    invite_id: str
    revision: int
    survey_type: str
    score: int
    answered_at: datetime
    comment: str | None = None
    follow_up_question: str | None = None
    follow_up_answer: str | None = None
    order_id: str
    platform: str
    order_name: str = ""
    customer_key: str | None = None
    # For the closed loop (a reply to the customer); erased with the person (CustomerErased).
    email: str | None = None
    first_name: str | None = None
    language: str = "en"
    # The survey's brand (its name and From address): the closed-loop reply comes from them, as the
    # survey did. Empty in events published before they were carried.
    brand_name: str = ""
    brand_sender: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.invite_id}#{self.revision}"


class UnreadableMessage(ValueError):
    """A queue message that is not an EventBridge event carrying a cxloop envelope."""


def from_queue(body: str) -> tuple[str, Envelope]:
    """An EventBridge event as a rule delivers it to SQS → (detail-type, envelope)."""
    try:
        event = json.loads(body)
        return str(event["detail-type"]), Envelope.model_validate(event["detail"])
    except (ValueError, KeyError, TypeError) as e:  # pydantic's ValidationError is a ValueError
        raise UnreadableMessage(f"not an EventBridge event with a cxloop envelope: {str(e)[:300]}") from e


class PublishRefused(RuntimeError):
    """EventBridge refused entries of a PutEvents call; the call's other entries (and earlier calls')
    are on the bus. ``refused`` pairs each refused entry's correlation id with EventBridge's reason."""

    def __init__(self, detail_type: str, refused: list[tuple[str, str]], of: int) -> None:
        self.refused = refused
        reasons = json.dumps(refused)[:500]
        super().__init__(f"EventBridge refused {len(refused)} of {of} {detail_type}: {reasons}")


class EventBridgePublisher:
    """Publishes envelopes to the cxloop bus: one event per call, or many, ten per PutEvents call."""

    def __init__(self, client: Any, bus_name: str, service: str) -> None:
        self._client = client
        self._bus = bus_name
        self._source = SOURCE_PREFIX + service

    def publish(self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str) -> None:
        self.publish_many(detail_type, shop_id, [(detail, correlation_id)])

    def publish_many(
        self, detail_type: str, shop_id: str, details: Sequence[tuple[dict[str, Any], str]]
    ) -> None:
        """``details``: (data, correlation id) pairs. Stops at the first call with a refused entry
        (PublishRefused), so a caller that marks what it announced can publish the rest again."""
        for start in range(0, len(details), MAX_ENTRIES):
            chunk = details[start : start + MAX_ENTRIES]
            entries = [self._entry(detail_type, shop_id, data, corr) for data, corr in chunk]
            result = self._client.put_events(Entries=entries)
            if result.get("FailedEntryCount"):
                refused = [
                    (corr, f"{answer.get('ErrorCode', '?')}: {answer.get('ErrorMessage', '')}")
                    for (_, corr), answer in zip(chunk, result["Entries"], strict=False)
                    if answer.get("ErrorCode")
                ]
                raise PublishRefused(detail_type, refused, len(chunk))

    def _entry(
        self, detail_type: str, shop_id: str, data: dict[str, Any], correlation_id: str
    ) -> dict[str, str]:
        envelope = Envelope(name=detail_type, shop_id=shop_id, correlation_id=correlation_id, data=data)
        return {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": detail_type,
            "Detail": envelope.model_dump_json(),
        }


class MentionIngested(BaseModel):
    """A review or social mention pulled from a public source (services/reviews). ``mention_id`` is
    stable per source item; an edited review comes again with a higher ``revision``."""

    mention_id: str
    source: str  # google, trustpilot, yelp, app_store, reddit, yotpo, csv ...
    text: str
    revision: int = 1
    title: str | None = None
    rating: float | None = None  # on the source's own scale, see rating_scale
    rating_scale: int | None = None
    url: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None  # as the source reports it, if it does
    # Whether cxloop can post a reply to it at its source; False for imported and pushed reviews and
    # sources without a reply API (the owner posts there by hand). None: not said (older events).
    takes_replies: bool | None = None

    @property
    def idempotency_key(self) -> str:
        return f"{self.mention_id}#{self.revision}"


class FeedbackScored(BaseModel):
    """The model's reading of a survey comment or a mention. ``subject`` says which; ``key`` is the
    subject's idempotency key, so a consumer that stores it keeps one reading per revision."""

    subject: Literal["response", "mention"]
    subject_id: str  # invite_id or mention_id
    revision: int
    key: str
    sentiment: Sentiment | None  # None: flagged, see flags (a person should read it)
    themes: list[ThemeScore] = Field(default_factory=list)
    language: str
    flags: list[Flag] = Field(default_factory=list)
    taxonomy: str
    model_version: str
    scored_at: datetime
    # Enough of the subject for an alert without a lookup: the survey score, or the source and rating.
    survey_type: str | None = None
    score: int | None = None
    order_id: str | None = None
    source: str | None = None
    rating: float | None = None
    url: str | None = None
    published_at: datetime | None = None  # a mention's, as its source gives it
    excerpt: str = ""
    takes_replies: bool | None = None  # a mention's, as MentionIngested says

    def reading(self) -> Reading:
        """What the owning service keeps on its record."""
        return Reading(
            revision=self.revision,
            sentiment=self.sentiment,
            themes=self.themes,
            language=self.language,
            flags=list(self.flags),
            model_version=self.model_version,
            scored_at=self.scored_at,
        )


class ReviewReplyRequested(BaseModel):
    """The owner approved a public reply to a review (notifier → reviews, which posts it at the source)."""

    mention_id: str
    text: str
    case_id: str = ""


class ReviewReplyResult(BaseModel):
    """What became of a ReviewReplyRequested (reviews → notifier): posted at the source, refused by it,
    or not possible there (the owner posts it by hand). Only ``posted`` makes the case replied."""

    mention_id: str
    case_id: str = ""
    status: Literal["posted", "failed", "unsupported"]
    detail: str = ""


class OrderRecorded(BaseModel):
    """An order as the feedback service last stored it, for the notifier's churn risk. Carries the
    customer's key, and their address so the owner can write to a customer at risk (the notifier keeps
    it with their orders and erases it with them); sent again on every change (a cancellation), so
    consumers keep the newest per order."""

    order_id: str
    platform: str
    customer_key: str
    placed_at: datetime
    total: float = 0.0
    currency: str | None = None
    cancelled: bool = False
    first_name: str | None = None
    email: str | None = None


class SurveysSent(BaseModel):
    """How many survey e-mails one dispatcher run sent, per survey type (for response rates)."""

    run_id: str
    day: str  # yyyy-mm-dd (UTC)
    counts: dict[str, int]


class ContactSuppressed(BaseModel):
    """A customer must not be mailed again by this shop (unsubscribed, bounced, complained); the address
    only as its digest (``email_digest``)."""

    email_hash: str
    reason: str


class SourceFailing(BaseModel):
    """A review source has failed for ``alert_after`` (reviews → notifier, which alerts the owner once)."""

    source: str
    kind: str  # auth / transient / config ... (the reviews service's error kinds)
    status: int | None = None  # the source's HTTP status, if it answered
    since: datetime
    message: str


class SourceRecovered(BaseModel):
    """The first success of a source after its SourceFailing."""

    source: str
    since: datetime


class CustomerErased(BaseModel):
    """A person was erased from the feedback service (a GDPR request); consumers erase their copies."""

    customer_keys: list[str]
    orders: list[str] = Field(default_factory=list)


class CustomerDataExported(BaseModel):
    """A person's data was exported on request (stored for 30 days, see ``cxloop customer exports``)."""

    request_id: str
    customer_keys: list[str]


class ShopErased(BaseModel):
    """A shop uninstalled and asked to be forgotten: every service deletes what it holds of the shop."""

    records_deleted: int = 0


# Each cxloop event and the model of its data (AWS_EVENTS have AWS's shapes).
CATALOGUE: dict[str, type[BaseModel]] = {
    RESPONSE_RECORDED: ResponseRecorded,
    MENTION_INGESTED: MentionIngested,
    FEEDBACK_SCORED: FeedbackScored,
    REVIEW_REPLY_REQUESTED: ReviewReplyRequested,
    REVIEW_REPLY_RESULT: ReviewReplyResult,
    ORDER_RECORDED: OrderRecorded,
    SURVEYS_SENT: SurveysSent,
    CONTACT_SUPPRESSED: ContactSuppressed,
    SOURCE_FAILING: SourceFailing,
    SOURCE_RECOVERED: SourceRecovered,
    CUSTOMER_ERASED: CustomerErased,
    CUSTOMER_DATA_EXPORTED: CustomerDataExported,
    SHOP_ERASED: ShopErased,
}
DETAIL_TYPES = (*CATALOGUE, *AWS_EVENTS)


def email_digest(email: str) -> str:
    """The one digest of an address that services exchange instead of the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
