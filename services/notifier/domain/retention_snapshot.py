"""A shop's retention snapshot: one record per shop and month, rewritten by the daily run from every
customer's order history (one query of the shop's customers), so the dashboard, the API and the digest
read one item instead of the orders (decisions 119-121)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.notifier.domain import retention, rfm
from services.notifier.domain.model import SurveyAnswer
from services.notifier.domain.ports import Customer, CustomerValue, NotifierStore, ValueRun
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
    value_to_date: float | None = None  # members' spend to date (None: no lifetime-value fit)
    value_next_year: float | None = None  # members' predicted spend in the next 12 months


class CohortValue(BaseModel):
    """A first-purchase month's customers: what they spent to date and are predicted to next year."""

    model_config = ConfigDict(frozen=True)

    month: str
    customers: int
    to_date: float
    next_year: float


class ValueSummary(BaseModel):
    """The daily run's lifetime-value fit (decision 125): the shop's totals, or why there are none."""

    model_config = ConfigDict(frozen=True)

    reason: str | None = None  # set: no figures (too little history, or no fit)
    customers: int = 0
    repeaters: int = 0
    to_date: float | None = None
    next_year: float | None = None
    model: str | None = None


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
    value: ValueSummary | None = None  # None: a snapshot from before the daily run valued customers
    cohort_values: list[CohortValue] = []  # the same months as ``cohorts``; empty without a fit

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
        "lifetime_value": "to date: a customer's spend so far; next 12 months: the spend predicted by the "
        "shop's own BG/NBD model (how often customers buy, and the chance they have left) times its "
        "Gamma-Gamma model (what they spend a purchase), fitted daily on the orders in the shop's "
        "currency; not discounted",
    }


def _latest_nps(answers: Sequence[SurveyAnswer]) -> dict[str, int]:
    latest: dict[str, SurveyAnswer] = {}
    for a in sorted(answers, key=lambda a: a.answered_at):
        if a.customer_key and a.survey_type == "nps":
            latest[a.customer_key] = a
    return {k: a.score for k, a in latest.items()}


def _sum(values: Mapping[str, CustomerValue] | None, keys: Sequence[str], part: str) -> float | None:
    if values is None:
        return None
    found = [values[k] for k in keys if k in values]
    return round(sum(v.to_date if part == "to_date" else v.next_year for v in found), 2)


def _segments(
    scored: Sequence[rfm.Scored],
    people: Sequence[retention.History],
    answers: dict[str, int],
    day: date,
    values: Mapping[str, CustomerValue] | None = None,
) -> list[SegmentStats]:
    revenue = {h.customer_key: rfm.revenue_in_year(h, day) for h in people}
    members = {s: [x.customer_key for x in scored if x.segment is s] for s in rfm.Segment}
    return [
        SegmentStats(
            segment=s,
            label=rfm.LABELS[s],
            rule=rfm.RULES[s],
            customers=sum(x.segment is s for x in scored),
            revenue=round(sum(revenue[x.customer_key] for x in scored if x.segment is s), 2),
            nps=nps(answers[x.customer_key] for x in scored if x.segment is s and x.customer_key in answers),
            value_to_date=_sum(values, members[s], "to_date"),
            value_next_year=_sum(values, members[s], "next_year"),
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


def _cohort_values(
    people: Sequence[retention.History], cohorts: Sequence[Cohort], values: Mapping[str, CustomerValue]
) -> list[CohortValue]:
    by_month: dict[str, list[str]] = {}
    for h in people:
        by_month.setdefault(retention.month_name(retention.month_of(h.purchases[0].day)), []).append(
            h.customer_key
        )
    rows = []
    for c in cohorts:
        keys = by_month.get(c.month, [])
        rows.append(
            CohortValue(
                month=c.month,
                customers=len(keys),
                to_date=_sum(values, keys, "to_date") or 0.0,
                next_year=_sum(values, keys, "next_year") or 0.0,
            )
        )
    return rows


def _summary(run: ValueRun | None) -> ValueSummary | None:
    if run is None:
        return None
    return ValueSummary(
        reason=run.reason,
        customers=run.customers,
        repeaters=run.repeaters,
        to_date=run.to_date,
        next_year=run.next_year,
        model=run.model,
    )


def build(
    customers: Sequence[Customer],
    answers: Sequence[SurveyAnswer],
    now: datetime,
    values: Mapping[str, CustomerValue] | None = None,
    value_run: ValueRun | None = None,
) -> RetentionSnapshot:
    """From the shop's customers (their kept orders before ``now``) and the last year's answers; with the
    daily run's lifetime values (``values`` per customer key, None when it gave a reason instead)."""
    currency = retention.main_currency(customers, now)
    people = retention.histories(customers, now, currency)
    today = now.astimezone(UTC).date()
    reorder = retention.horizon(people)
    scored = rfm.score(people, today, reorder.days)
    cohorts = retention.cohorts(people, today)
    valued = values if value_run is not None and value_run.reason is None else None
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
        cohorts=cohorts,
        segments=_segments(scored, people, _latest_nps(answers), today, valued),
        moves=moves,
        movers=movers,
        entered=entered,
        value=_summary(value_run),
        cohort_values=_cohort_values(people, cohorts, valued) if valued is not None else [],
    )


class RetentionStore(Protocol):
    def put(self, shop_id: str, snapshot: RetentionSnapshot) -> None: ...

    def get(self, shop_id: str, month: str) -> RetentionSnapshot | None: ...


def refresh(
    store: NotifierStore,
    snapshots: RetentionStore,
    shop_id: str,
    now: datetime,
    values: Mapping[str, CustomerValue] | None = None,
    value_run: ValueRun | None = None,
    customers: Sequence[Customer] | None = None,
) -> RetentionSnapshot:
    """The daily run's part: the month's snapshot, from one query of the shop's customers (or the ones
    the run read already) and one of the last year's answers (and the lifetime values it fitted, if any)."""
    people = store.customers(shop_id) if customers is None else customers
    snapshot = build(people, store.answers_since(shop_id, now - YEAR), now, values, value_run)
    snapshots.put(shop_id, snapshot)
    return snapshot


def latest(snapshots: RetentionStore, shop_id: str, now: datetime) -> RetentionSnapshot | None:
    """This month's snapshot, or last month's before the month's first daily run (at most two reads)."""
    index = retention.month_of(now.astimezone(UTC).date())
    return snapshots.get(shop_id, retention.month_name(index)) or snapshots.get(
        shop_id, retention.month_name(index - 1)
    )
