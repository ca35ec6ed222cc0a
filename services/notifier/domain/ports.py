"""What the notifier needs from the outside, in its own words (DynamoDB, mail, Slack, the bus)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from services.notifier.domain.model import Alert, AlertBatch, AlertSettings, Case, Mention, SurveyAnswer
from services.notifier.domain.tallies import DayTotals

if TYPE_CHECKING:
    from services.notifier.domain.emerging import Emerging
from shared.sentiment import Sentiment, ThemeScore


class Added(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # this alert was raised before: nothing changed
    CLOSED = "closed"  # the batch was closed by the sender meanwhile: use another window


@dataclass(frozen=True)
class BatchRef:
    shop_id: str
    destination: str
    window: str


@dataclass(frozen=True)
class DestinationState:
    broken: bool = False
    reason: str = ""
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class OrderLine:
    order_id: str
    at: datetime
    total: float
    cancelled: bool = False
    currency: str | None = None


@dataclass(frozen=True)
class CustomerValue:
    """A customer's spend to date and predicted spend over the next 12 months (the shop's currency)."""

    to_date: float
    next_year: float


@dataclass(frozen=True)
class Customer:
    customer_key: str
    orders: tuple[OrderLine, ...] = ()
    first_name: str | None = None
    email: str | None = None
    risk: float | None = None
    at_risk: bool = False
    reasons: tuple[str, ...] = ()
    value: CustomerValue | None = None  # from the daily run's lifetime-value fit (decision 125)

    @property
    def currency(self) -> str | None:
        """Of their latest order that says (a shop sells in one currency, or mostly)."""
        newest_first = sorted(self.orders, key=lambda o: o.at, reverse=True)
        return next((o.currency for o in newest_first if o.currency), None)


@dataclass(frozen=True)
class ValueRun:
    """The daily run's lifetime-value fit of a shop: totals and the model, or why there are no values."""

    computed_at: datetime
    currency: str | None = None
    customers: int = 0  # with a kept order
    repeaters: int = 0  # with purchases on two days or more
    reason: str | None = None  # set: no values (too little history, or no fit)
    to_date: float | None = None
    next_year: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class RiskRun:
    """When a shop's churn risk was last computed, and the bar a customer's spend had to reach to count
    as valuable then (the shop's own top quarter, or its minimum if higher)."""

    computed_at: datetime
    valuable_from: float
    currency: str | None = None
    customers: int = 0  # with at least one order
    judged: int = 0  # with enough history to judge (two orders or more)
    value: ValueRun | None = None  # the last lifetime-value fit (kept beside the run, its own attribute)


class SettingsSource(Protocol):
    def get(self, shop_id: str, *, fresh: bool = False) -> AlertSettings: ...


class NotifierStore(Protocol):
    # Answers and mentions, newest revision kept.
    def put_answer(self, shop_id: str, answer: SurveyAnswer) -> bool:
        """Store unless a newer revision is there; True if this revision is the newest (stored now, or
        stored before: a redelivery)."""
        ...

    def put_reading(
        self,
        shop_id: str,
        invite_id: str,
        revision: int,
        sentiment: Sentiment | None,
        themes: list[ThemeScore],
    ) -> None: ...

    def answer(self, shop_id: str, invite_id: str) -> SurveyAnswer | None:
        """With the reading when it is of the same revision."""
        ...

    def put_mention(self, shop_id: str, mention: Mention) -> bool: ...

    def answers_since(self, shop_id: str, since: datetime) -> list[SurveyAnswer]: ...

    def mentions_since(self, shop_id: str, since: datetime) -> list[Mention]: ...

    # Alerts and their batches.
    def add_alert(self, alert: Alert, ref: BatchRef, due_at: datetime) -> Added: ...

    def due_batches(self, now: datetime, limit: int) -> list[BatchRef]: ...

    def close_batch(self, ref: BatchRef) -> AlertBatch | None:
        """Open → closed, so no alert joins a batch being sent; the batch as closed (None: gone or sent)."""
        ...

    def finish_batch(self, ref: BatchRef, outcome: str, retry_at: datetime | None = None) -> None:
        """sent; held (a broken destination: kept, not due); or due again at ``retry_at``."""
        ...

    def held_batches(self, shop_id: str, destination: str) -> list[BatchRef]: ...

    def release_batch(self, ref: BatchRef, now: datetime) -> None:
        """A held batch is due again (its destination was fixed)."""
        ...

    def destination_state(self, shop_id: str, name: str) -> DestinationState: ...

    def set_destination_state(self, shop_id: str, name: str, state: DestinationState) -> bool:
        """True if it changed (so a broken destination is reported once)."""
        ...

    # Cases.
    def open_case(self, case: Case) -> bool:
        """Create unless it exists; True if created."""
        ...

    def case(self, shop_id: str, case_id: str) -> Case | None: ...

    def save_case(self, case: Case, expected_version: int) -> bool:
        """Write ``case`` (version already bumped) if the stored one is still ``expected_version``."""
        ...

    def cases(self, shop_id: str, since: datetime | None = None) -> list[Case]: ...

    def customer_cases(self, shop_id: str, customer_key: str) -> list[Case]:
        """A customer's cases (to tell a re-contact)."""
        ...

    def days(self, shop_id: str, first: str, last: str) -> list[DayTotals]:
        """The days' totals between two ISO dates, both included."""
        ...

    def phrase_weeks(self, shop_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        """{week's Monday: {phrase: texts}} of the weeks counted between two Mondays (ISO)."""
        ...

    def put_phrase_week(self, shop_id: str, week: str, counts: dict[str, int]) -> None: ...

    def put_emerging(self, shop_id: str, found: Emerging) -> None: ...

    def emerging(self, shop_id: str) -> Emerging | None: ...

    def due_replies(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(shop_id, case_id) of cases whose automatic reply is due."""
        ...

    # Theme surges, survey sends, suppressions, customers.
    def count_theme(self, shop_id: str, theme: str, day: str, subject: str) -> int:
        """Count ``subject`` once in the theme's day; the day's count."""
        ...

    def theme_counts(self, shop_id: str, theme: str, days: Sequence[str]) -> list[int]: ...

    def add_sent(self, shop_id: str, day: str, survey_type: str, count: int, run_id: str) -> None: ...

    def sent_between(self, shop_id: str, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        """{day: {survey_type: count}}."""
        ...

    def suppress(self, shop_id: str, email_hash: str, reason: str, at: datetime) -> None: ...

    def is_suppressed(self, shop_id: str, email_hash: str) -> bool: ...

    def add_order(
        self, shop_id: str, customer_key: str, line: OrderLine, contact: dict[str, str]
    ) -> None: ...

    def customers(self, shop_id: str) -> list[Customer]: ...

    def set_risk(
        self, shop_id: str, customer_key: str, risk: float, at_risk: bool, reasons: Sequence[str]
    ) -> bool:
        """Store the day's risk; True if the customer crossed into at-risk with it."""
        ...

    def risk_run(self, shop_id: str) -> RiskRun | None: ...

    def put_risk_run(self, shop_id: str, run: RiskRun) -> None:
        """The run's own figures; the lifetime-value fit beside it (``value``) is left as it is."""
        ...

    def set_value(self, shop_id: str, customer_key: str, value: CustomerValue) -> None: ...

    def put_value_run(self, shop_id: str, run: ValueRun) -> None:
        """Stored on the risk run's item (``RiskRun.value``): one read gives the at-risk page both."""
        ...

    def mark_once(self, shop_id: str, key: str, expires_at: datetime) -> bool:
        """A marker (digest sent for a week, owner told of a broken destination); True the first time."""
        ...

    def is_marked(self, shop_id: str, key: str) -> bool: ...

    def unmark(self, shop_id: str, key: str) -> None: ...

    # Privacy.
    def erase_customer(self, shop_id: str, customer_keys: Sequence[str], order_ids: Sequence[str]) -> int: ...

    def erase_shop(self, shop_id: str) -> int: ...


class Publisher(Protocol):
    def publish(
        self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str
    ) -> None: ...
