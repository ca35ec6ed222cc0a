"""RFM segments (decision 120): each customer scored 1-5 on recency, frequency and money against the
shop's own customers (quintiles by mid-rank, so equal values share a score), then named by a fixed
grid. A single purchase is never a segment of loyalty lost: within the reorder horizon it is "new",
beyond it "hibernating". Who moved is each customer's segment at the end of last month against today,
both computed from the orders known at that moment and the same horizon.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from services.notifier.domain.retention import History

YEAR = timedelta(days=365)


class Segment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL = "potential_loyalists"
    NEW = "new"
    NEED_ATTENTION = "need_attention"
    AT_RISK = "at_risk"
    CANT_LOSE = "cant_lose"
    HIBERNATING = "hibernating"


LABELS = {
    Segment.CHAMPIONS: "Champions",
    Segment.LOYAL: "Loyal",
    Segment.POTENTIAL: "Potential loyalists",
    Segment.NEW: "New",
    Segment.NEED_ATTENTION: "Need attention",
    Segment.AT_RISK: "At risk",
    Segment.CANT_LOSE: "Can't lose them",
    Segment.HIBERNATING: "Hibernating",
}
RULES = {
    Segment.CHAMPIONS: "two purchases or more, R 4-5, FM 4-5",
    Segment.LOYAL: "two purchases or more, R 3-5, FM 3-5 (not champions)",
    Segment.POTENTIAL: "two purchases or more, R 4-5, FM 1-2",
    Segment.NEW: "one purchase, within the reorder horizon",
    Segment.NEED_ATTENTION: "two purchases or more, R 3, FM 1-2",
    Segment.AT_RISK: "two purchases or more, R 1-2, FM 3-4",
    Segment.CANT_LOSE: "two purchases or more, R 1-2, FM 5",
    Segment.HIBERNATING: "R 1-2, FM 1-2; or one purchase, beyond the reorder horizon",
}
LAPSED = (Segment.AT_RISK, Segment.CANT_LOSE)


@dataclass(frozen=True)
class Scored:
    customer_key: str
    name: str
    recency: int  # days since the last purchase
    frequency: int  # purchases
    monetary: float  # spend to date
    r: int
    f: int
    m: int
    segment: Segment


def quintile(value: float, ranked: Sequence[float]) -> int:
    """1-5 by the value's mid-rank among ``ranked`` (sorted): ties share a score."""
    below, upto = bisect_left(ranked, value), bisect_right(ranked, value)
    share = (below + (upto - below) / 2) / len(ranked)
    return min(5, 1 + int(share * 5))


def segment_of(r: int, f: int, m: int, purchases: int, recency: int, horizon: int | None) -> Segment:
    if purchases == 1:
        within = recency <= horizon if horizon is not None else r >= 3
        return Segment.NEW if within else Segment.HIBERNATING
    fm = (f + m + 1) // 2  # the mean, halves rounded up
    if r >= 3:
        if fm >= 3:
            return Segment.CHAMPIONS if r >= 4 and fm >= 4 else Segment.LOYAL
        return Segment.POTENTIAL if r >= 4 else Segment.NEED_ATTENTION
    if fm >= 5:
        return Segment.CANT_LOSE
    return Segment.AT_RISK if fm >= 3 else Segment.HIBERNATING


def score(people: Sequence[History], day: date, horizon: int | None) -> list[Scored]:
    """Everyone with a purchase on or before ``day``, as they stood at its end."""
    rows = []
    for h in people:
        bought = h.before(day + timedelta(days=1))
        if bought:
            rows.append((h, len(bought), (day - bought[-1].day).days, sum(p.total for p in bought)))
    recent = sorted(-row[2] for row in rows)
    often = sorted(float(row[1]) for row in rows)
    spent = sorted(row[3] for row in rows)
    scored = []
    for h, frequency, recency, monetary in rows:
        r, f, m = quintile(-recency, recent), quintile(frequency, often), quintile(monetary, spent)
        segment = segment_of(r, f, m, frequency, recency, horizon)
        scored.append(Scored(h.customer_key, h.name, recency, frequency, monetary, r, f, m, segment))
    return scored


def revenue_in_year(h: History, day: date) -> float:
    """Spend in the 365 days ending with ``day``."""
    return sum(p.total for p in h.purchases if day - YEAR < p.day <= day)
