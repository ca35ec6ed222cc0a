"""Retention, churn and RFM segments (issue 19, items 1 and 3): small cases counted by hand, then
Hypothesis against a recount from the raw orders (decisions 119-120)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.domain import retention, rfm
from services.notifier.domain.model import SurveyAnswer
from services.notifier.domain.ports import Customer, OrderLine
from services.notifier.domain.retention_snapshot import build
from services.notifier.domain.rfm import Segment

pytestmark = pytest.mark.unit
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)


def _customer(key: str, *days: str, total: float = 50.0, currency: str = "EUR") -> Customer:
    lines = tuple(
        OrderLine(
            f"{key}-{i}", datetime.fromisoformat(d).replace(hour=10, tzinfo=UTC), total, False, currency
        )
        for i, d in enumerate(days)
    )
    return Customer(customer_key=key, orders=lines, first_name=key.title())


def test_a_rate_says_its_n_and_its_wilson_interval() -> None:
    none = retention.rate(0, 10)
    assert none.value == 0.0 and none.low == 0.0 and none.high == pytest.approx(27.75, abs=0.01)
    half = retention.rate(5, 10)
    assert half.value == 50.0 and half.low == pytest.approx(23.66, abs=0.01) and half.n == 10
    assert retention.rate(0, 0).value is None


def test_the_cohort_triangle_counts_each_cohort_in_each_month_since() -> None:
    people = retention.histories(
        [
            _customer("a", "2026-01-15", "2026-02-03", "2026-04-10"),
            _customer("b", "2026-01-20"),
            _customer("c", "2026-02-05", "2026-03-01"),
        ],
        NOW,
        "EUR",
    )
    rows = {c.month: c for c in retention.cohorts(people, NOW.date(), months=4)}
    assert list(rows) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    january = rows["2026-01"]
    assert january.customers == 2
    assert [(c.offset, c.rate.successes, c.rate.n, c.partial) for c in january.cells] == [
        (1, 1, 2, False),
        (2, 0, 2, False),
        (3, 1, 2, True),
    ]
    assert [(c.rate.successes, c.rate.n) for c in rows["2026-02"].cells] == [(1, 1), (0, 1)]
    assert rows["2026-03"].customers == 0 and rows["2026-04"].cells == []
    assert retention.repeat_rate(people).successes == 2 and retention.repeat_rate(people).n == 3


def test_the_horizon_is_the_90th_percentile_of_the_shops_own_gaps() -> None:
    # 11 gaps: 10 of 10 days and one of 100 -> nearest rank ceil(0.9 * 11) = 10 -> 10 days
    days = [date(2025, 1, 1) + timedelta(days=10 * i) for i in range(11)]
    regular = _customer("r", *(d.isoformat() for d in days))
    late = _customer("l", "2025-01-01", "2025-04-11")
    h = retention.horizon(retention.histories([regular, late], NOW, "EUR"))
    assert (h.days, h.gaps, h.median_gap) == (10, 11, 10)
    few = retention.horizon(retention.histories([late], NOW, "EUR"))
    assert few.days is None and few.gaps == 1
    # several orders on one day are one purchase: no gap of 0
    same_day = _customer("s", "2025-01-01", "2025-01-01", "2025-01-05")
    assert retention.histories([same_day], NOW, "EUR")[0].purchases[0].total == 100.0


def test_churn_counts_the_active_whose_silence_passed_the_horizon_in_the_month() -> None:
    people = retention.histories(
        [
            _customer("a", "2026-01-15", "2026-02-03", "2026-04-10"),  # active 1 March, lapses 6 March
            _customer("b", "2026-01-20"),  # 40 days quiet on 1 March: not active
            _customer("c", "2026-02-05", "2026-03-01"),  # active, bought on 1 March, lapses 1 April
        ],
        NOW,
        "EUR",
    )
    march = retention.churn_month(people, retention.month_of(date(2026, 3, 1)), NOW.date(), 30)
    assert (march.rate.successes, march.rate.n, march.partial) == (1, 2, False)
    april = retention.churn_month(people, retention.month_of(date(2026, 4, 1)), NOW.date(), 30)
    # on 1 April c's last purchase (1 March) is 31 days back: nobody is active
    assert (april.rate.successes, april.rate.n, april.partial) == (0, 0, True)
    assert retention.churn_trend(people, NOW.date(), None) == []


def test_quintiles_by_mid_rank_give_ties_one_score() -> None:
    ranked = [1.0, 1.0, 1.0, 1.0, 2.0]
    assert rfm.quintile(1.0, ranked) == 3 and rfm.quintile(2.0, ranked) == 5
    assert [rfm.quintile(v, [1.0, 2.0, 3.0, 4.0, 5.0]) for v in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]


def test_a_first_time_buyer_is_new_never_at_risk_or_cant_lose() -> None:
    assert rfm.segment_of(5, 5, 5, 1, 3, 30) is Segment.NEW
    assert rfm.segment_of(1, 5, 5, 1, 300, 30) is Segment.HIBERNATING  # a big one-off order, long ago
    assert rfm.segment_of(1, 5, 5, 4, 300, 30) is Segment.CANT_LOSE
    assert rfm.segment_of(2, 3, 4, 3, 200, 30) is Segment.AT_RISK
    assert rfm.segment_of(5, 4, 5, 6, 2, 30) is Segment.CHAMPIONS
    assert rfm.segment_of(3, 3, 3, 3, 40, 30) is Segment.LOYAL
    assert rfm.segment_of(4, 1, 2, 2, 10, 30) is Segment.POTENTIAL
    assert rfm.segment_of(3, 1, 2, 2, 40, 30) is Segment.NEED_ATTENTION
    assert rfm.segment_of(1, 1, 2, 2, 400, 30) is Segment.HIBERNATING


def test_the_snapshot_gives_each_segment_its_size_revenue_nps_and_who_moved() -> None:
    gaps = [(date(2025, 10, 1) + timedelta(days=14 * i)).isoformat() for i in range(12)]
    regular = _customer("reg", *gaps, total=80.0)  # last order 2026-03-04: 42 days quiet on 15 April
    newbie = _customer("new", "2026-04-10", total=500.0)
    old = _customer("old", "2025-01-10", total=500.0)
    fresh = _customer("fresh", "2026-03-20", "2026-04-12", total=20.0)
    answers = [
        SurveyAnswer(
            invite_id="i1", revision=1, survey_type="nps", score=3, answered_at=NOW, customer_key="new"
        ),
        SurveyAnswer(
            invite_id="i2", revision=1, survey_type="nps", score=10, answered_at=NOW, customer_key="reg"
        ),
    ]
    snap = build([regular, newbie, old, fresh], answers, NOW)
    assert snap.customers == 4 and snap.currency == "EUR" and snap.horizon.days == 14
    by = {s.segment: s for s in snap.segments}
    assert by[Segment.NEW].customers == 1 and by[Segment.NEW].nps.value == -100.0
    assert by[Segment.HIBERNATING].customers == 1 and by[Segment.HIBERNATING].revenue == 0.0
    assert sum(s.customers for s in snap.segments) == 4
    assert sum(s.revenue for s in snap.segments) == pytest.approx(80.0 * 12 + 500.0 + 40.0)
    # at the end of March 'reg' (27 days quiet) ranks 2nd of 3 on recency: loyal; 42 days now, 3rd of 4:
    # can't lose. 'fresh' was new and is loyal with a second order; 'new' entered this month.
    assert snap.entered == 1
    moved = {m.customer_key: (m.source, m.target) for m in snap.movers}
    assert moved == {"reg": (Segment.LOYAL, Segment.CANT_LOSE), "fresh": (Segment.NEW, Segment.LOYAL)}
    assert sum(m.customers for m in snap.moves) == len(snap.movers)


# --- property tests: the snapshot equals a recount from the raw orders ------------------------------------


orders = st.lists(
    st.tuples(
        st.integers(0, 420),
        st.floats(1, 500).map(lambda x: round(x, 2)),
        st.booleans(),
        st.sampled_from(["EUR", "EUR", "EUR", "USD"]),
    ),
    min_size=1,
    max_size=8,
)


def _customers(raw: list[list[tuple[int, float, bool, str]]]) -> list[Customer]:
    return [
        Customer(
            customer_key=f"c{i}",
            orders=tuple(
                OrderLine(f"o{i}-{j}", NOW - timedelta(days=d, hours=j), t, cancelled=x, currency=cur)
                for j, (d, t, x, cur) in enumerate(lines)
            ),
        )
        for i, lines in enumerate(raw)
    ]


def _kept_days(c: Customer) -> set[date]:
    return {o.at.date() for o in c.orders if not o.cancelled and o.at < NOW}


def _month(d: date) -> tuple[int, int]:
    return (d.year, d.month)


@settings(max_examples=60, deadline=None)
@given(st.lists(orders, min_size=1, max_size=25))
def test_cohorts_and_repeat_rate_equal_a_recount(raw: list[list[tuple[int, float, bool, str]]]) -> None:
    customers = _customers(raw)
    snap = build(customers, [], NOW)
    buyers = [c for c in customers if _kept_days(c)]
    assert snap.customers == len(buyers)
    assert snap.repeat_rate.successes == sum(len(_kept_days(c)) >= 2 for c in buyers)
    for row in snap.cohorts:
        year, month = map(int, row.month.split("-"))
        members = [c for c in buyers if _month(min(_kept_days(c))) == (year, month)]
        assert row.customers == len(members)
        for cell in row.cells:
            y, m = divmod(year * 12 + month - 1 + cell.offset, 12)
            again = sum(any(_month(d) == (y, m + 1) for d in _kept_days(c)) for c in members)
            assert (cell.rate.successes, cell.rate.n) == (again, len(members))


@settings(max_examples=80, deadline=None)
@given(st.lists(orders, min_size=6, max_size=25))  # enough customers that most draws have a horizon
def test_churn_equals_a_day_by_day_recount(raw: list[list[tuple[int, float, bool, str]]]) -> None:
    customers = _customers(raw)
    snap = build(customers, [], NOW)
    h = snap.horizon.days
    gaps = [
        (b - a).days
        for c in customers
        for a, b in zip(sorted(_kept_days(c)), sorted(_kept_days(c))[1:], strict=False)
    ]
    assert snap.horizon.gaps == len(gaps)
    if h is None:
        assert len(gaps) < retention.MIN_GAPS and snap.churn == []
        return
    assert h == sorted(gaps)[-(-9 * len(gaps) // 10) - 1]
    for month in snap.churn:
        year, m = map(int, month.month.split("-"))
        start = date(year, m, 1)
        end = min(date(year + m // 12, m % 12 + 1, 1), NOW.date() + timedelta(days=1))
        active = churned = 0
        for c in customers:
            days = _kept_days(c)
            if not any(start - timedelta(days=h) <= d < start for d in days):
                continue
            active += 1
            churned += any(
                (day - max(d for d in days if d <= day)).days > h
                for day in (start + timedelta(days=i) for i in range((end - start).days))
            )
        assert (month.rate.successes, month.rate.n) == (churned, active), month.month


@settings(max_examples=60, deadline=None)
@given(st.lists(orders, min_size=1, max_size=25))
def test_segments_cover_everyone_once_with_the_recounted_revenue(
    raw: list[list[tuple[int, float, bool, str]]],
) -> None:
    customers = _customers(raw)
    snap = build(customers, [], NOW)
    assert sum(s.customers for s in snap.segments) == snap.customers
    currency = snap.currency
    year_ago = NOW.date() - timedelta(days=365)
    revenue = sum(
        o.total
        for c in customers
        for o in c.orders
        if not o.cancelled and o.at < NOW and o.currency == currency and year_ago < o.at.date()
    )
    assert sum(s.revenue for s in snap.segments) == pytest.approx(revenue, abs=0.05)
    scored = rfm.score(retention.histories(customers, NOW, currency), NOW.date(), snap.horizon.days)
    for row in scored:
        if row.frequency == 1:
            assert row.segment in (Segment.NEW, Segment.HIBERNATING)
    before = NOW.date().replace(day=1)
    known = sum(any(d < before for d in _kept_days(c)) for c in customers)
    assert snap.entered == snap.customers - known
