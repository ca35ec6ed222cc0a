"""How well the loop is closed (decision 123): time to first reply and to resolution (median and 90th
percentile, with intervals), first-contact resolution and re-contacts, from the days' totals.

A case adds its figures to the day each happened, as the case is written (adapters/dynamo_notifier.py
keeps the change exact under retries, like the answers' totals):
- the day it opened: ``k_open``; ``k_openc`` when it names a customer; ``k_rc`` when that customer had
  a case resolved in the 30 days before (a re-contact);
- the day of its first reply: ``k_fr_<minutes>`` (minutes from opening, floored) and ``k_frin`` when
  the reply came by the case's target;
- the day it was resolved: ``k_rs_<minutes>``, and ``k_fcr`` when it was resolved with exactly one
  reply to the customer (sent, or posted by the owner), ``k_res0`` with none.
The durations are counted per minute, so a quantile read back is exact to the minute. Days are UTC.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.model import Case, CaseStatus
from services.notifier.domain.tallies import with_prefix
from shared import metrics

RECONTACT = timedelta(days=30)
REPLIES = ("reply_sent", "reply_posted")  # a reply that reached the customer, or the review's page
Z95 = 1.959964

CaseTally = dict[str, dict[str, int]]  # day → counters


def _day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


def replies(case: Case) -> int:
    """Replies that reached the customer (or were posted at the review's source)."""
    return sum(1 for e in case.history if e.what in REPLIES)


def case_tally(case: Case) -> CaseTally:
    """What ``case`` adds to its days' totals."""
    days: dict[str, Counter[str]] = {}

    def add(at: datetime, *keys: str) -> None:
        days.setdefault(_day(at), Counter()).update(keys)

    opened = ["k_open"]
    if case.customer_key:
        opened.append("k_openc")
        if case.recontact_of:
            opened.append("k_rc")
    add(case.opened_at, *opened)
    if case.first_reply_at is not None:
        first = [f"k_fr_{_minutes(case.opened_at, case.first_reply_at)}"]
        if case.first_reply_at <= case.target_at:
            first.append("k_frin")
        add(case.first_reply_at, *first)
    if case.status is CaseStatus.RESOLVED and case.resolved_at is not None:
        done = [f"k_rs_{_minutes(case.opened_at, case.resolved_at)}"]
        count = replies(case)
        if count == 1:
            done.append("k_fcr")
        elif count == 0:
            done.append("k_res0")
        add(case.resolved_at, *done)
    return {day: dict(c) for day, c in days.items()}


def tally_changes(old: Mapping[str, Mapping[str, int]], new: Mapping[str, Mapping[str, int]]) -> CaseTally:
    """The additions per day that turn ``old`` into ``new`` (zeros left out)."""
    out: dict[str, Counter[str]] = {}
    for day, counts in old.items():
        out.setdefault(day, Counter()).subtract(counts)
    for day, counts in new.items():
        out.setdefault(day, Counter()).update(counts)
    return {d: {k: v for k, v in sorted(c.items()) if v} for d, c in sorted(out.items()) if any(c.values())}


def recontact_of(case: Case, earlier: Iterable[Case]) -> str | None:
    """The customer's case resolved in the 30 days before ``case`` opened, if any (the latest)."""
    if not case.customer_key:
        return None
    found = [
        c
        for c in earlier
        if c.case_id != case.case_id
        and c.customer_key == case.customer_key
        and c.status is CaseStatus.RESOLVED
        and c.resolved_at is not None
        and case.opened_at - RECONTACT <= c.resolved_at <= case.opened_at
    ]
    return max(found, key=lambda c: (c.resolved_at, c.case_id)).case_id if found else None


# ------------------------------------------------------------------------------------------- the report


class Share(BaseModel):
    """A share in %, its n and its 95 % Wilson interval (None: n = 0)."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    n: int
    low: float | None = None
    high: float | None = None


class Duration(BaseModel):
    """A quantile of a duration in hours, with its distribution-free 95 % interval (order statistics)."""

    model_config = ConfigDict(frozen=True)

    hours: float | None
    low: float | None = None
    high: float | None = None


class DurationFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    median: Duration
    p90: Duration
    target_hours: float | None = None
    within_target: Share | None = Field(default=None, description="share replied by the case's target, %")


class ServiceKpis(BaseModel):
    """The loop's service figures over a period, each with its n (and interval where it is estimated)."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    opened: int
    first_reply: DurationFigures
    resolution: DurationFigures
    first_contact_resolution: Share = Field(description="resolved with exactly one reply / resolved, %")
    resolved_without_reply: int
    recontact: Share = Field(description="cases of a customer with one resolved in the 30 days before, %")


def _sorted_minutes(counts: Mapping[str, int], prefix: str) -> list[tuple[int, int]]:
    return sorted((int(k), v) for k, v in with_prefix(counts, prefix).items() if k.isdigit() and v > 0)


def _binom_cdfs(n: int, p: float) -> list[float]:
    """P(Bin(n, p) <= k) for k = 0..n, the terms in logs (no overflow at thousands of cases)."""
    log_p, log_q = math.log(p), math.log1p(-p)
    total, out = 0.0, []
    for k in range(n + 1):
        log_term = (
            math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        )
        total += math.exp(log_term)
        out.append(min(1.0, total))
    return out


def _at(hist: Sequence[tuple[int, int]], rank: int) -> float:
    """The ``rank``-th smallest value (1-based), in hours."""
    seen = 0
    for minutes, c in hist:
        seen += c
        if seen >= rank:
            return minutes / 60
    raise IndexError(rank)


def quantile(hist: Sequence[tuple[int, int]], q: float) -> Duration:
    """The q-quantile (the smallest value with at least q of the values at or below it) and the
    order-statistic interval: ranks l < u with P(l ≤ Bin(n, q) < u) ≥ 95 % (none when n is too small)."""
    n = sum(c for _, c in hist)
    if not n:
        return Duration(hours=None)
    value = _at(hist, max(1, math.ceil(q * n)))
    cdf = _binom_cdfs(n, q)  # cdf[k] = P(X <= k)
    # The largest l with P(X <= l - 1) <= 2.5 %, the smallest u with P(X <= u - 1) >= 97.5 %.
    low_rank = next((lo for lo in range(math.floor(q * n), 0, -1) if cdf[lo - 1] <= 0.025), None)
    high_rank = next((hi for hi in range(math.ceil(q * n), n + 1) if cdf[hi - 1] >= 0.975), None)
    if low_rank is None or high_rank is None:
        return Duration(hours=value)
    return Duration(hours=value, low=_at(hist, low_rank), high=_at(hist, high_rank))


def _proportion(successes: int, n: int) -> Share:
    """A share in % with its Wilson interval (shared.metrics' response rate is the same estimator)."""
    found = metrics.response_rate(successes, n)
    return Share(value=found.value, n=found.n, low=found.low, high=found.high)


def service_kpis(counts: Mapping[str, int], start: date, end: date, target_hours: float) -> ServiceKpis:
    """From the period's summed day totals."""
    first = _sorted_minutes(counts, "k_fr_")
    done = _sorted_minutes(counts, "k_rs_")
    replied, resolved = sum(c for _, c in first), sum(c for _, c in done)
    return ServiceKpis(
        start=start,
        end=end,
        opened=counts.get("k_open", 0),
        first_reply=DurationFigures(
            n=replied,
            median=quantile(first, 0.5),
            p90=quantile(first, 0.9),
            target_hours=target_hours,
            within_target=_proportion(counts.get("k_frin", 0), replied),
        ),
        resolution=DurationFigures(n=resolved, median=quantile(done, 0.5), p90=quantile(done, 0.9)),
        first_contact_resolution=_proportion(counts.get("k_fcr", 0), resolved),
        resolved_without_reply=counts.get("k_res0", 0),
        recontact=_proportion(counts.get("k_rc", 0), counts.get("k_openc", 0)),
    )
