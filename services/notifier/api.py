"""The notifier's published interface: what another service (the owner's dashboard) may read of it and
ask of it: the day totals, the feed, cases and their replies, customers at risk, the retention snapshot,
the alert settings.
The rest of the service is private to it; `make lint` (import-linter) keeps it so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.notifier.adapters.dynamo_views import BadPosition, FeedFilter, Position
from services.notifier.domain import churn_refresh, replies, retention_snapshot
from services.notifier.domain.drivers import Drivers, cost_text, drivers
from services.notifier.domain.emerging import Emerging
from services.notifier.domain.model import AlertSettings, Case, CaseEvent, Mention, ReplyMode, SurveyAnswer
from services.notifier.domain.ports import Customer, RiskRun
from services.notifier.domain.replies import ReplyRefused, by_hand
from services.notifier.domain.retention_snapshot import RetentionSnapshot, definitions
from services.notifier.domain.service_kpis import ServiceKpis, service_kpis
from services.notifier.domain.tallies import DayTotals, histogram, mention_at, summed, with_prefix
from shared.tenancy import Shop

if TYPE_CHECKING:
    from services.notifier.adapters.dynamo_views import DynamoViews
    from services.notifier.bootstrap import Notifier
    from shared.settings import NotifierSettings as Config

__all__ = [
    "AlertSettings",
    "BadPosition",
    "Case",
    "CaseEvent",
    "Customer",
    "DayTotals",
    "Drivers",
    "Emerging",
    "FeedFilter",
    "Mention",
    "NotifierApi",
    "Position",
    "ReplyMode",
    "ReplyRefused",
    "RetentionSnapshot",
    "RiskRun",
    "ServiceKpis",
    "SurveyAnswer",
    "build_notifier_api",
    "by_hand",
    "cost_text",
    "definitions",
    "drivers",
    "histogram",
    "mention_at",
    "service_kpis",
    "summed",
    "with_prefix",
]


@dataclass(frozen=True)
class NotifierApi:
    notifier: Notifier
    views: DynamoViews

    def shop(self, shop_id: str) -> Shop | None:
        return self.notifier.shops.get(shop_id)

    def alert_settings(self, shop_id: str, *, fresh: bool = False) -> AlertSettings:
        return self.notifier.settings.get(shop_id, fresh=fresh)

    def save_alert_settings(self, shop_id: str, settings: AlertSettings) -> None:
        self.notifier.settings.put(shop_id, settings)

    def days(self, shop_id: str, first: date, last: date) -> list[DayTotals]:
        return self.views.days(shop_id, first, last)

    def emerging(self, shop_id: str) -> Emerging | None:
        """The emerging topics as the daily job last found them (one item)."""
        return self.notifier.store.emerging(shop_id)

    def open_cases(self, shop_id: str, now: datetime) -> tuple[int, int]:
        """(open, overdue)."""
        return self.views.open_cases(shop_id, now)

    def feed(
        self, shop_id: str, chosen: FeedFilter, limit: int, after: Position | None
    ) -> tuple[list[SurveyAnswer | Mention], Position | None]:
        """Newest first; BadPosition for a position this list did not give out."""
        return self.views.feed(shop_id, chosen, limit, after)

    def cases(
        self, shop_id: str, status: str | None, limit: int, after: Position | None
    ) -> tuple[list[Case], Position | None]:
        return self.views.cases(shop_id, status, limit, after)

    def at_risk(
        self, shop_id: str, limit: int, after: Position | None
    ) -> tuple[list[Customer], Position | None]:
        return self.views.at_risk(shop_id, limit, after)

    def risk_run(self, shop_id: str, now: datetime) -> RiskRun:
        """When the customers at risk were computed, computing them first if an order or an answer came
        since, or a day went by (``churn_refresh.current``)."""
        return churn_refresh.current(self.notifier.intake(), shop_id, now)

    def retention(self, shop_id: str, now: datetime) -> RetentionSnapshot | None:
        """The shop's retention snapshot of this month (last month's before the first daily run of this
        one): one or two reads, never the orders."""
        return retention_snapshot.latest(self.notifier.retention(), shop_id, now)

    def case(self, shop_id: str, case_id: str) -> Case | None:
        return self.notifier.store.case(shop_id, case_id)

    def draft(self, case: Case) -> str | None:
        """The reply the owner would send now, if the case still waits for one."""
        if case.reply_state not in replies.SENDABLE:
            return None
        shop = self.shop(case.shop_id)
        if shop is None:
            return None
        return replies.current_draft(case, shop, self.alert_settings(case.shop_id)).text

    def approve(self, shop_id: str, case_id: str, now: datetime, text: str | None = None) -> Case:
        """The owner's reply (edited, or the draft as it is). Raises ReplyRefused, LookupError."""
        return replies.approve(self.notifier.reply_deps(), shop_id, case_id, now, text)

    def posted(self, shop_id: str, case_id: str, now: datetime, text: str | None = None) -> Case:
        """The owner posted the reply at a source that takes none from cxloop. Raises ReplyRefused,
        LookupError."""
        return replies.posted(self.notifier.reply_deps(), shop_id, case_id, now, text)

    def resolve(self, shop_id: str, case_id: str, now: datetime) -> Case:
        """Resolved by the owner; an unsent reply is not sent. Raises LookupError."""
        return replies.close(self.notifier.reply_deps(), shop_id, case_id, now, by="owner")

    def link_keys(self) -> list[bytes]:
        """The keys that sign the notifier's links; the dashboard signs its sessions with them too."""
        keys: list[bytes] = self.notifier.link_keys().keys()
        return keys


def build_notifier_api(config: Config, **overrides: Any) -> NotifierApi:
    from services.notifier.adapters.dynamo_views import DynamoViews
    from services.notifier.bootstrap import build_notifier

    notifier = build_notifier(config, **overrides)
    return NotifierApi(notifier, DynamoViews(notifier.client("dynamodb"), config.notifier_table))
