"""What the API and the pages show: the shapes of its answers and requests (the OpenAPI schemas)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.dashboard.domain.reports import MetricsReport, ThemeRow
from services.notifier.api import (
    Case,
    CaseEvent,
    Customer,
    Drivers,
    Emerging,
    Mention,
    RetentionSnapshot,
    ServiceKpis,
    SurveyAnswer,
    by_hand,
    mention_at,
)
from shared.sentiment import Sentiment, ThemeScore

Kind = Literal["response", "mention"]
SentimentLabel = Literal["positive", "neutral", "negative"]
Band = Literal["promoter", "passive", "detractor", "satisfied", "unsatisfied", "low_effort", "high_effort"]

# A score band as the survey type and the scores it spans.
BANDS: dict[str, tuple[str, int, int]] = {
    "promoter": ("nps", 9, 10),
    "passive": ("nps", 7, 8),
    "detractor": ("nps", 0, 6),
    "satisfied": ("csat", 4, 5),
    "unsatisfied": ("csat", 1, 2),
    "low_effort": ("ces", 1, 3),
    "high_effort": ("ces", 5, 7),
}


class ErrorBody(BaseModel):
    code: str = Field(description="bad_request, unauthorized, not_found, conflict, ...")
    message: str
    details: list[str] = Field(default_factory=list)


class Error(BaseModel):
    error: ErrorBody


class Me(BaseModel):
    shop_id: str
    shop_name: str
    key_id: str


class FeedItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the invitation id of an answer, the mention id of a review")
    kind: Kind
    channel: str = Field(description="email for survey answers; the source of a review (google, ...)")
    at: datetime
    survey_type: str | None = None
    score: int | None = None
    rating: float | None = None
    text: str = Field(default="", description="the comment, or the review's excerpt")
    first_name: str | None = None
    order_name: str = ""
    url: str | None = None
    sentiment: Sentiment | None = None
    themes: list[ThemeScore] = Field(default_factory=list)


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: no more")


class CaseView(BaseModel):
    case_id: str
    status: str
    subject: Kind
    subject_id: str
    opened_at: datetime
    target_at: datetime
    overdue: bool
    first_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    first_name: str | None = None
    survey_type: str | None = None
    score: int | None = None
    comment: str | None = None
    order_name: str = ""
    source: str | None = None
    rating: float | None = None
    url: str | None = None
    themes: list[ThemeScore] = Field(default_factory=list)
    reply_state: str
    reply_text: str | None = None
    draft: str | None = Field(default=None, description="the reply drafted for it, while one can be sent")
    by_hand: str | None = Field(
        default=None,
        description="set when the review's source takes no replies through cxloop: what to do instead "
        "(copy the draft, post it at `url`, then POST /cases/{case_id}/posted)",
    )
    history: list[CaseEvent] = Field(default_factory=list)


class CasePage(BaseModel):
    items: list[CaseView]
    next_cursor: str | None


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000, description="the reply as it should be sent")


class CustomerAtRisk(BaseModel):
    customer_key: str
    first_name: str | None = None
    email: str | None = Field(default=None, description="where the owner writes to them (this shop's own)")
    risk: float = Field(ge=0, le=1)
    reasons: list[str]
    orders: int
    last_order_at: datetime | None = None
    spend_last_year: float
    spend_total: float = Field(default=0.0, description="all their orders kept here, not cancelled")
    currency: str | None = Field(default=None, description="ISO 4217, of their latest order")
    value_to_date: float | None = Field(
        default=None, description="spend to date in `value_currency`, as the daily run saw it"
    )
    value_next_year: float | None = Field(
        default=None,
        description="predicted spend in the next 12 months (BG/NBD x Gamma-Gamma, the shop's own fit); "
        "null when the shop has no fit (`value_reason`) or the customer is newer than the last daily run",
    )


class CustomerPage(BaseModel):
    items: list[CustomerAtRisk]
    next_cursor: str | None
    computed_at: datetime | None = Field(
        default=None, description="when the risk was computed (again on reading after an order or answer)"
    )
    valuable_from: float | None = Field(
        default=None, description="the total spend that counts as valuable: the shop's top quarter"
    )
    currency: str | None = None
    rule: str = Field(default="", description="who is listed, in words")
    value_currency: str | None = Field(default=None, description="ISO 4217 of the lifetime values")
    value_reason: str | None = Field(
        default=None, description="why there are no predicted values (too little history, or not run yet)"
    )
    value_computed_at: datetime | None = Field(default=None, description="when the values were fitted")


class RetentionReport(BaseModel):
    """Cohorts, repeat and churn rates, RFM segments and who moved, as the daily run last computed them."""

    snapshot: RetentionSnapshot | None = Field(
        description="null until the shop's first daily run; every rate carries its n and 95% interval"
    )
    definitions: dict[str, str] = Field(description="what each figure counts, in words")


class SuppressionView(BaseModel):
    at: datetime
    invite_id: str
    reason: str
    order_name: str = ""
    email_masked: str = ""
    detail: str = ""


class SuppressionPage(BaseModel):
    items: list[SuppressionView]
    next_cursor: str | None


class ThemesReport(BaseModel):
    start: date
    end: date
    previous_start: date
    previous_end: date
    themes: list[ThemeRow]
    drivers: Drivers | None = Field(
        default=None,
        description="what each theme named negatively cost NPS (survey answers) and the mean stars "
        "(rated reviews) in the period, costliest first, with n and a 95 % interval (decision 122)",
    )
    emerging: Emerging | None = Field(
        default=None,
        description="phrases rising this week in texts no theme caught, as the daily job last found "
        "them (decision 124); null before its first run",
    )


class ServiceReport(BaseModel):
    """How well the loop was closed: over the period, and week by week (Monday to Sunday, UTC)."""

    total: ServiceKpis
    weeks: list[ServiceKpis] = Field(description="oldest first")


class Overview(BaseModel):
    shop_id: str
    shop_name: str
    metrics: MetricsReport
    themes: ThemesReport
    open_cases: int
    overdue_cases: int


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Literal["shopify", "woocommerce", "bigcommerce"]
    customer_id: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    order_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )


class ErasureReceipt(BaseModel):
    customer_keys: int
    orders_anonymised: int
    records_deleted: int


def feed_item(record: SurveyAnswer | Mention) -> FeedItem:
    if isinstance(record, SurveyAnswer):
        return FeedItem(
            id=record.invite_id,
            kind="response",
            channel="email",
            at=record.answered_at.astimezone(UTC),
            survey_type=record.survey_type,
            score=record.score,
            text=record.comment or "",
            first_name=record.first_name,
            order_name=record.order_name,
            sentiment=record.sentiment,
            themes=record.themes,
        )
    return FeedItem(
        id=record.mention_id,
        kind="mention",
        channel=record.source,
        at=mention_at(record),
        rating=record.rating,
        text=record.excerpt,
        url=record.url,
        sentiment=record.sentiment,
        themes=record.themes,
    )


def case_view(case: Case, now: datetime, draft: str | None) -> CaseView:
    return CaseView(
        **case.model_dump(
            include={
                "case_id", "subject", "subject_id", "opened_at", "target_at", "first_reply_at",
                "resolved_at", "first_name", "survey_type", "score", "comment", "order_name", "source",
                "rating", "url", "themes", "reply_text", "history",
            }
        ),
        status=case.status.value,
        reply_state=case.reply_state.value,
        overdue=case.overdue(now),
        draft=draft,
        by_hand=by_hand(case) if case.by_hand else None,
    )  # fmt: skip


def customer_at_risk(customer: Customer, now: datetime, valued: bool = False) -> CustomerAtRisk:
    """``valued``: the shop's last lifetime-value fit gave figures (not a reason): the stored ones count."""
    live = [o for o in customer.orders if not o.cancelled]
    year_ago = now.timestamp() - 365 * 86400
    return CustomerAtRisk(
        customer_key=customer.customer_key,
        first_name=customer.first_name,
        email=customer.email,
        risk=customer.risk or 0.0,
        reasons=list(customer.reasons),
        orders=len(live),
        last_order_at=max((o.at for o in live), default=None),
        spend_last_year=round(sum(o.total for o in live if o.at.timestamp() >= year_ago), 2),
        spend_total=round(sum(o.total for o in live), 2),
        currency=customer.currency,
        value_to_date=customer.value.to_date if valued and customer.value else None,
        value_next_year=customer.value.next_year if valued and customer.value else None,
    )
