"""The notifier's records: what it keeps of answers and mentions, the cases it opens, the alerts it
batches, and a shop's rules for all of it.

Answers and mentions are kept here (not read from the services that own them) because the notifier
hears of them on the bus: its digest and churn risk need their history, and services never read each
other's tables. Personal fields (email, first name, comment) are erased with the customer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.sentiment import Sentiment, ThemeScore

SurveyType = Literal["nps", "csat", "ces"]


class SurveyAnswer(BaseModel):
    """The newest revision of a survey answer, with the scoring service's reading when it came."""

    invite_id: str
    revision: int
    survey_type: str
    score: int
    answered_at: datetime
    comment: str | None = None
    order_id: str = ""
    order_name: str = ""
    customer_key: str | None = None
    email: str | None = None
    first_name: str | None = None
    language: str = "en"
    brand_name: str = ""  # the survey's brand and From address (ResponseRecorded)
    brand_sender: str = ""
    sentiment: Sentiment | None = None
    themes: list[ThemeScore] = Field(default_factory=list)


class Mention(BaseModel):
    """A review or mention as scored (FeedbackScored for a mention carries all the notifier needs)."""

    mention_id: str
    revision: int
    source: str
    rating: float | None = None
    url: str | None = None
    excerpt: str = ""
    sentiment: Sentiment | None = None
    themes: list[ThemeScore] = Field(default_factory=list)
    scored_at: datetime
    published_at: datetime | None = None
    takes_replies: bool | None = None  # False: cxloop cannot post a reply at its source


class RuleKind(StrEnum):
    DETRACTOR = "detractor"  # NPS 0..max_score
    UNHAPPY_CSAT = "unhappy_csat"  # CSAT 1..max_score
    HIGH_EFFORT = "high_effort"  # CES min_score..7
    NEGATIVE_MENTION = "negative_mention"  # a review or mention read as negative, or rated low
    KEYWORD = "keyword"  # a watched word in a comment or a mention
    THEME_SURGE = "theme_surge"  # one negative theme far above its usual daily count
    CHURN_RISK = "churn_risk"  # a valuable customer crossed the risk threshold
    SOURCE_HEALTH = "source_health"  # a review source's connection broke, or recovered


class Delivery(StrEnum):
    IMMEDIATE = "immediate"  # within the sender's next run (a minute), a burst grouped per minute
    HOURLY = "hourly"
    DAILY = "daily"


WINDOW_SECONDS = {Delivery.IMMEDIATE: 60, Delivery.HOURLY: 3600, Delivery.DAILY: 86400}


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: RuleKind
    enabled: bool = True
    delivery: Delivery = Delivery.IMMEDIATE
    # Destination names (AlertSettings.destinations); empty: every destination.
    destinations: tuple[str, ...] = ()
    max_score: int | None = None  # detractor, unhappy_csat
    min_score: int | None = None  # high_effort
    min_confidence: float = Field(default=0.7, ge=0, le=1)  # negative_mention
    max_rating_share: float = Field(default=0.4, ge=0, le=1)  # negative_mention: 2 of 5 stars
    keywords: tuple[str, ...] = ()  # keyword
    surge_min: int = Field(default=5, ge=1)  # theme_surge: negative readings of the theme in a day
    surge_ratio: float = Field(default=3.0, ge=1)  # ... and this many times its daily average
    opens_case: bool = True


class DestinationKind(StrEnum):
    SLACK = "slack"
    EMAIL = "email"


class Destination(BaseModel):
    """Where alerts go. A Slack webhook's URL is a credential: it lives in Secrets Manager, not here."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: DestinationKind
    address: str | None = None  # email


class ReplyMode(StrEnum):
    OFF = "off"
    APPROVAL = "approval"  # the alert carries an approve link; nothing goes out before a click
    AUTOMATIC = "automatic"  # sent after ``reply_hold_minutes`` unless the owner stops it


DEFAULT_KEYWORDS = ("refund", "chargeback", "lawyer", "scam", "fraud", "never arrived", "broken", "complaint")


def default_rules() -> tuple[Rule, ...]:
    """Loud where one event matters (a public bad review, a watched word), batched where a bad day would
    otherwise be fifty messages."""
    return (
        Rule(kind=RuleKind.DETRACTOR, max_score=6, delivery=Delivery.HOURLY),
        Rule(kind=RuleKind.UNHAPPY_CSAT, max_score=2, delivery=Delivery.HOURLY),
        Rule(kind=RuleKind.HIGH_EFFORT, min_score=5, delivery=Delivery.DAILY),
        Rule(kind=RuleKind.NEGATIVE_MENTION, delivery=Delivery.IMMEDIATE),
        Rule(kind=RuleKind.KEYWORD, keywords=DEFAULT_KEYWORDS, delivery=Delivery.IMMEDIATE),
        Rule(kind=RuleKind.THEME_SURGE, delivery=Delivery.IMMEDIATE, opens_case=False),
        Rule(kind=RuleKind.CHURN_RISK, delivery=Delivery.DAILY, opens_case=False),
        Rule(kind=RuleKind.SOURCE_HEALTH, delivery=Delivery.IMMEDIATE, opens_case=False),
    )


class AlertSettings(BaseModel):
    """A shop's alerting and closed-loop choices (one item beside its profile, sk ``NOTIFY``)."""

    rules: tuple[Rule, ...] = Field(default_factory=default_rules)
    destinations: tuple[Destination, ...] = ()  # none: the owner's e-mail
    reply_mode: ReplyMode = ReplyMode.APPROVAL
    reply_hold_minutes: int = Field(default=15, ge=0)
    # The address replies come from (a verified SES identity; None: the survey's sender, which the
    # customer answered), always under the survey's brand name, and the one customers' answers reach.
    reply_from: str | None = None
    reply_to: str | None = None
    first_reply_target_hours: float = Field(default=24.0, gt=0)
    churn_threshold: float = Field(default=0.7, gt=0, lt=1)
    # A customer is valuable when their last year's spend is at least this (0: everyone).
    churn_min_spend: float = Field(default=0.0, ge=0)
    digest_destinations: tuple[str, ...] = ()  # none: every destination

    def rule(self, kind: RuleKind) -> Rule | None:
        return next((r for r in self.rules if r.kind is kind and r.enabled), None)


class CaseStatus(StrEnum):
    OPEN = "open"
    REPLIED = "replied"
    RESOLVED = "resolved"


class ReplyState(StrEnum):
    NONE = "none"  # reply mode off, or nothing to reply to (no address)
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"  # automatic, due at reply_due_at
    SENT = "sent"
    SUPPRESSED = "suppressed"  # the customer unsubscribed (or bounced): never mailed
    FAILED = "failed"  # the mail provider refused it for good
    REQUESTED = "requested"  # a public review: handed to the reviews service's reply path
    POSTED = "posted"  # a review whose source takes no replies: the owner says they posted it there


class CaseEvent(BaseModel):
    at: datetime
    what: str  # opened, alerted, reply_scheduled, reply_sent, approved, resolved, ...
    by: str = "cxloop"
    note: str = ""


class Case(BaseModel):
    """One unhappy customer or negative review to close the loop on."""

    case_id: str
    shop_id: str
    subject: Literal["response", "mention"]
    subject_id: str  # invite_id or mention_id
    status: CaseStatus = CaseStatus.OPEN
    rules: list[RuleKind] = Field(default_factory=list)
    opened_at: datetime
    target_at: datetime  # first reply due by
    first_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    # Who and what: an answer's customer, or a review's source.
    customer_key: str | None = None
    first_name: str | None = None
    email: str | None = None
    survey_type: str | None = None
    score: int | None = None
    comment: str | None = None
    order_id: str = ""
    order_name: str = ""
    source: str | None = None
    rating: float | None = None
    url: str | None = None
    # The survey's brand and From address: a reply to the customer is written and sent under them.
    brand_name: str = ""
    brand_sender: str = ""
    takes_replies: bool | None = None  # a review's source: False, the owner posts the reply by hand
    themes: list[ThemeScore] = Field(default_factory=list)
    reply_state: ReplyState = ReplyState.NONE
    reply_due_at: datetime | None = None
    # While a sender holds the case to mail its reply: nobody else sends, approves or closes it.
    reply_claimed_until: datetime | None = None
    reply_subject: str | None = None
    reply_text: str | None = None
    history: list[CaseEvent] = Field(default_factory=list)
    # The same customer's case resolved in the 30 days before this one opened (a re-contact).
    recontact_of: str | None = None
    version: int = 0

    @property
    def by_hand(self) -> bool:
        """A review whose source takes no replies through cxloop: the owner posts the reply there."""
        return self.subject == "mention" and self.takes_replies is False

    @property
    def negative_themes(self) -> list[str]:
        return [t.theme for t in self.themes if t.sentiment == "negative"]

    def overdue(self, now: datetime) -> bool:
        return self.first_reply_at is None and self.status is CaseStatus.OPEN and now > self.target_at


class Alert(BaseModel):
    """One rule firing for one subject; ``key`` makes it happen once however often the event comes."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    key: str  # rule#subject, e.g. detractor#response:inv-1
    rule: RuleKind
    delivery: Delivery
    at: datetime
    title: str  # "NPS 3 from Ana (order #1042)"
    text: str = ""  # the comment or excerpt, shortened
    url: str | None = None  # a review's page
    case_id: str | None = None
    approve_url: str | None = None
    customer_key: str | None = None  # whom it names (erased with them)
    # What the owner reads first, taken from the case when the batch is sent (a comment often comes
    # after the score): the score on its scale, or a review's stars, and the order.
    score: int | None = None
    survey_type: str | None = None
    rating: float | None = None
    order_name: str = ""


class AlertBatch(BaseModel):
    """The alerts for one destination in one delivery window: sent as one message."""

    shop_id: str
    destination: str
    window: str  # delivery + window start, e.g. hourly#2026-11-22T18:00
    due_at: datetime
    count: int = 0
    by_rule: dict[str, int] = Field(default_factory=dict)
    samples: list[Alert] = Field(default_factory=list)  # the first MAX_SAMPLES, for the message
    state: Literal["open", "closed", "sent", "held"] = "open"
    attempts: int = 0


MAX_SAMPLES = 10
