"""Retention from order histories: monthly cohorts by first purchase (the classic triangle), the
repeat-purchase rate, the shop's own reorder horizon, and the churn rate it defines (decision 119).

A *purchase* is a UTC day with at least one kept order (not cancelled, placed before ``now``): several
orders on one day are one purchase, as in the churn score. Every share comes with its n and a 95 %
Wilson interval. Pure functions over the notifier's ``Customer`` records; no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from services.notifier.domain.ports import Customer

Z95 = 1.959964
HORIZON_QUANTILE = 0.9  # the reorder horizon: 90 % of the shop's repeat purchases came within it
MIN_GAPS = 10  # fewer gaps between purchases: the shop's data cannot say what a usual reorder is
COHORT_MONTHS = 12
TREND_MONTHS = 12


class Rate(BaseModel):
    """``successes`` of ``n`` in percent, with its 95 % Wilson interval (None when n is 0)."""

    model_config = ConfigDict(frozen=True)

    successes: int
    n: int
    value: float | None = None
    low: float | None = None
    high: float | None = None


def rate(successes: int, n: int) -> Rate:
    if n == 0:
        return Rate(successes=0, n=0)
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Rate(
        successes=successes,
        n=n,
        value=100 * p,
        low=100 * max(0.0, centre - half),
        high=100 * min(1.0, centre + half),
    )


@dataclass(frozen=True)
class Purchase:
    day: date
    total: float  # in the shop's currency (orders in another one count 0 here)


@dataclass(frozen=True)
class History:
    customer_key: str
    name: str
    purchases: tuple[Purchase, ...]  # oldest first, one per day

    def before(self, day: date) -> tuple[Purchase, ...]:
        return tuple(p for p in self.purchases if p.day < day)


def main_currency(customers: Iterable[Customer], now: datetime) -> str | None:
    """The currency most kept orders are in (the first by name on a tie); None if none says."""
    counts = Counter(
        o.currency for c in customers for o in c.orders if o.currency and not o.cancelled and o.at < now
    )
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


def histories(customers: Iterable[Customer], now: datetime, currency: str | None) -> list[History]:
    """Each customer with a kept order before ``now``; spend counted only in ``currency`` (or where the
    order names none)."""
    found = []
    for c in customers:
        days: dict[date, float] = {}
        for o in c.orders:
            if o.cancelled or o.at >= now:
                continue
            day = o.at.astimezone(UTC).date()
            same = o.currency is None or currency is None or o.currency == currency
            days[day] = days.get(day, 0.0) + (o.total if same else 0.0)
        if days:
            purchases = tuple(Purchase(d, round(t, 2)) for d, t in sorted(days.items()))
            found.append(History(c.customer_key, c.first_name or "A customer", purchases))
    return found


def month_of(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


# --- the reorder horizon ------------------------------------------------------------------------------


class Horizon(BaseModel):
    """Days without a purchase after which a customer counts as churned: the 90th percentile (nearest
    rank) of the gaps between consecutive purchases of all the shop's customers."""

    model_config = ConfigDict(frozen=True)

    days: int | None
    gaps: int  # how many gaps it rests on
    quantile: float = HORIZON_QUANTILE
    median_gap: int | None = None


def horizon(people: Sequence[History]) -> Horizon:
    gaps = sorted(
        (b.day - a.day).days for h in people for a, b in zip(h.purchases, h.purchases[1:], strict=False)
    )
    if len(gaps) < MIN_GAPS:
        return Horizon(days=None, gaps=len(gaps))
    rank = math.ceil(HORIZON_QUANTILE * len(gaps))
    return Horizon(days=gaps[rank - 1], gaps=len(gaps), median_gap=gaps[(len(gaps) - 1) // 2])


# --- cohorts --------------------------------------------------------------------------------------


class Cell(BaseModel):
    """The share of a cohort that purchased in its k-th month after the first (k ≥ 1)."""

    model_config = ConfigDict(frozen=True)

    offset: int
    rate: Rate
    partial: bool = False  # the month is still running


class Cohort(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str
    customers: int
    cells: list[Cell]


def cohorts(people: Sequence[History], today: date, months: int = COHORT_MONTHS) -> list[Cohort]:
    """The last ``months`` cohorts (first-purchase months, this one included), oldest first; each with
    its share buying again in every month since that has started."""
    current = month_of(today)
    rows = []
    for first in range(current - months + 1, current + 1):
        members = [h for h in people if month_of(h.purchases[0].day) == first]
        active = [{month_of(p.day) for p in h.purchases} for h in members]
        cells = [
            Cell(
                offset=k,
                rate=rate(sum(first + k in m for m in active), len(members)),
                partial=first + k == current,
            )
            for k in range(1, current - first + 1)
        ]
        rows.append(Cohort(month=month_name(first), customers=len(members), cells=cells))
    return rows


def repeat_rate(people: Sequence[History]) -> Rate:
    """Customers with two purchases or more, of all with one."""
    return rate(sum(len(h.purchases) >= 2 for h in people), len(people))


# --- churn ---------------------------------------------------------------------------------------


class ChurnMonth(BaseModel):
    """Of the customers active when the month began (a purchase within the horizon before it), those
    whose silence passed the horizon during the month (to ``today`` for the running month)."""

    model_config = ConfigDict(frozen=True)

    month: str
    rate: Rate
    partial: bool = False


def churned_in(h: History, start: date, end: date, days: int) -> bool | None:
    """None: not active at ``start``; else whether their silence passed ``days`` on a day in
    [start, end), before a next purchase (a customer who came back and lapsed again counts too)."""
    before = h.before(start)
    if not before or (start - before[-1].day).days > days:
        return None
    bought = [before[-1].day] + [p.day for p in h.purchases if start <= p.day < end]
    lapse = timedelta(days=days + 1)  # the first day with more than ``days`` of silence
    return any(x + lapse < y for x, y in zip(bought, [*bought[1:], end], strict=True))


def churn_month(people: Sequence[History], index: int, today: date, days: int) -> ChurnMonth:
    start, end = month_start(index), min(month_start(index + 1), today + timedelta(days=1))
    found = [churned_in(h, start, end, days) for h in people]
    active = [f for f in found if f is not None]
    return ChurnMonth(
        month=month_name(index), rate=rate(sum(active), len(active)), partial=index == month_of(today)
    )


def churn_trend(
    people: Sequence[History], today: date, days: int | None, months: int = TREND_MONTHS
) -> list[ChurnMonth]:
    """The last ``months`` months' churn, oldest first; none without a horizon."""
    if days is None:
        return []
    current = month_of(today)
    return [churn_month(people, i, today, days) for i in range(current - months + 1, current + 1)]
