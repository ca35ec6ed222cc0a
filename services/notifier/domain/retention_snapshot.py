"""A shop's retention snapshot: one record per shop and month, rewritten by the daily run from every
customer's order history (one query of the shop's customers), so the dashboard, the API and the digest
read one item instead of the orders (decisions 119-121)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.notifier.domain import retention, rfm
from services.notifier.domain.model import SurveyAnswer
from services.notifier.domain.ports import Customer, NotifierStore
from services.notifier.domain.retention import HORIZON_QUANTILE, ChurnMonth, Cohort, Horizon, Rate
from shared.metrics import Metric, nps

MAX_MOVERS = 50  # named in the snapshot; the counts cover everyone
YEAR = timedelta(days=365)


class SegmentStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment: rfm.Segment
    label: str
    rule: str
    customers: int
    revenue: float  # spend in the last 365 days, in the snapshot's currency
    nps: Metric  # each member's latest NPS answer of the last 365 days


class Move(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: rfm.Segment
    target: rfm.Segment
    customers: int


class Mover(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_key: str
    name: str
    source: rfm.Segment
    target: rfm.Segment
    spend: float


class RetentionSnapshot(BaseModel):
    """Everything the retention page, the API and the digest show, as of ``computed_at``."""

    model_config = ConfigDict(frozen=True)

    month: str
    computed_at: datetime
    currency: str | None
    customers: int  # with a kept order
    other_currency_orders: int = 0  # kept orders in another currency: not in any revenue figure
    horizon: Horizon
    repeat_rate: Rate
    churn: list[ChurnMonth]  # oldest first; the last is the running month
    cohorts: list[Cohort]
    segments: list[SegmentStats]
    moves: list[Move]  # since the end of last month, largest first
    movers: list[Mover]  # up to MAX_MOVERS of them, biggest spenders first
    entered: int  # first purchase this month (new, not moved)

    def last_full_month(self) -> ChurnMonth | None:
        return next((c for c in reversed(self.churn) if not c.partial), None)


def definitions(h: Horizon | None) -> dict[str, str]:
    """The definitions behind the figures, in words (the API, the page and the digest state them)."""
    if h is None:
        reorder = f"the {HORIZON_QUANTILE:.0%} quantile of this shop's gaps between repeat purchases"
    elif h.days is None:
        reorder = (
            f"not known yet: {h.gaps} gap(s) between repeat purchases, at least {retention.MIN_GAPS} needed"
        )
    else:
        reorder = (
            f"{h.days} days: {h.quantile:.0%} of this shop's {h.gaps} repeat purchases came within it "
            f"(the median gap is {h.median_gap} days)"
        )
    return {
        "purchase": "a day with at least one order that was not cancelled (UTC)",
        "cohort": "customers by the month of their first purchase; each cell is the share buying again "
        "in that month after it",
        "repeat_rate": "customers with two purchases or more, of all customers with one",
        "reorder_horizon": reorder,
        "churn_rate": "of the customers active when a month began (a purchase within the reorder horizon "
        "before it), the share whose silence passed the horizon during the month",
        "segments": "recency, frequency and spend each scored 1-5 against this shop's customers "
        "(quintiles); FM is the mean of F and M; one purchase is 'new' within the horizon, else "
        "'hibernating'; revenue is the last 365 days'; NPS is each member's latest answer of the year",
        "moves": "each customer's segment at the end of last month against today, with the same horizon",
    }


def _latest_nps(answers: Sequence[SurveyAnswer]) -> dict[str, int]:
    latest: dict[str, SurveyAnswer] = {}
    for a in sorted(answers, key=lambda a: a.answered_at):
        if a.customer_key and a.survey_type == "nps":
            latest[a.customer_key] = a
    return {k: a.score for k, a in latest.items()}


def _segments(
    scored: Sequence[rfm.Scored], people: Sequence[retention.History], answers: dict[str, int], day: date
) -> list[SegmentStats]:
    revenue = {h.customer_key: rfm.revenue_in_year(h, day) for h in people}
    return [
        SegmentStats(
            segment=s,
            label=rfm.LABELS[s],
            rule=rfm.RULES[s],
            customers=sum(x.segment is s for x in scored),
            revenue=round(sum(revenue[x.customer_key] for x in scored if x.segment is s), 2),
            nps=nps(answers[x.customer_key] for x in scored if x.segment is s and x.customer_key in answers),
        )
        for s in rfm.Segment
    ]


def _moves(
    people: Sequence[retention.History], today: date, days: int | None
) -> tuple[list[Move], list[Mover], int]:
    start = today.replace(day=1)
    before = {x.customer_key: x for x in rfm.score(people, start - timedelta(days=1), days)}
    after = rfm.score(people, today, days)
    moved = [(before[x.customer_key], x) for x in after if x.customer_key in before]
    moved = [(a, b) for a, b in moved if a.segment is not b.segment]
    counts = Counter((a.segment, b.segment) for a, b in moved)
    moves = [
        Move(source=s, target=t, customers=n)
        for (s, t), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
    ]
    movers = [
        Mover(customer_key=b.customer_key, name=b.name, source=a.segment, target=b.segment, spend=b.monetary)
        for a, b in sorted(moved, key=lambda ab: (-ab[1].monetary, ab[1].customer_key))[:MAX_MOVERS]
    ]
    return moves, movers, len(after) - len(before)


def build(customers: Sequence[Customer], answers: Sequence[SurveyAnswer], now: datetime) -> RetentionSnapshot:
    """From the shop's customers (their kept orders before ``now``) and the last year's answers."""
    currency = retention.main_currency(customers, now)
    people = retention.histories(customers, now, currency)
    today = now.astimezone(UTC).date()
    reorder = retention.horizon(people)
    scored = rfm.score(people, today, reorder.days)
    moves, movers, entered = _moves(people, today, reorder.days)
    other = sum(
        1
        for c in customers
        for o in c.orders
        if not o.cancelled and o.at < now and o.currency and currency and o.currency != currency
    )
    return RetentionSnapshot(
        month=retention.month_name(retention.month_of(today)),
        computed_at=now,
        currency=currency,
        customers=len(people),
        other_currency_orders=other,
        horizon=reorder,
        repeat_rate=retention.repeat_rate(people),
        churn=retention.churn_trend(people, today, reorder.days),
        cohorts=retention.cohorts(people, today),
        segments=_segments(scored, people, _latest_nps(answers), today),
        moves=moves,
        movers=movers,
        entered=entered,
    )


class RetentionStore(Protocol):
    def put(self, shop_id: str, snapshot: RetentionSnapshot) -> None: ...

    def get(self, shop_id: str, month: str) -> RetentionSnapshot | None: ...


def refresh(
    store: NotifierStore, snapshots: RetentionStore, shop_id: str, now: datetime
) -> RetentionSnapshot:
    """The daily run's part: the month's snapshot, from one query of the shop's customers and one of the
    last year's answers."""
    snapshot = build(store.customers(shop_id), store.answers_since(shop_id, now - YEAR), now)
    snapshots.put(shop_id, snapshot)
    return snapshot


def latest(snapshots: RetentionStore, shop_id: str, now: datetime) -> RetentionSnapshot | None:
    """This month's snapshot, or last month's before the month's first daily run (at most two reads)."""
    index = retention.month_of(now.astimezone(UTC).date())
    return snapshots.get(shop_id, retention.month_name(index)) or snapshots.get(
        shop_id, retention.month_name(index - 1)
    )
