"""The service figures of the closed loop (decision 123): what a case adds to its days, quantiles of
per-minute histograms with their order-statistic intervals (hand-computed, and covering the true
median in most draws), re-contacts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifier.domain.model import Case, CaseEvent, CaseStatus
from services.notifier.domain.service_kpis import (
    case_tally,
    quantile,
    recontact_of,
    service_kpis,
    tally_changes,
)

T0 = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)


def _case(case_id: str = "c1", customer: str | None = "ana", **changes: object) -> Case:
    base = Case(
        case_id=case_id,
        shop_id="s",
        subject="response",
        subject_id=case_id,
        opened_at=T0,
        target_at=T0 + timedelta(hours=24),
        customer_key=customer,
    )
    return base.model_copy(update=changes)


def test_a_case_adds_to_the_day_each_thing_happened() -> None:
    assert case_tally(_case()) == {"2026-11-02": {"k_open": 1, "k_openc": 1}}
    replied = _case(
        first_reply_at=T0 + timedelta(hours=2, minutes=30, seconds=59),
        status=CaseStatus.RESOLVED,
        resolved_at=T0 + timedelta(days=2),
        history=[CaseEvent(at=T0, what="opened"), CaseEvent(at=T0, what="reply_sent")],
        recontact_of="c0",
    )
    assert case_tally(replied) == {
        "2026-11-02": {"k_open": 1, "k_openc": 1, "k_rc": 1},
        "2026-11-03": {"k_fr_150": 1, "k_frin": 1},
        "2026-11-04": {"k_rs_2880": 1, "k_fcr": 1},
    }
    late = _case(customer=None, first_reply_at=T0 + timedelta(hours=30))
    assert case_tally(late)["2026-11-04"] == {"k_fr_1800": 1}  # past its 24 h target
    assert case_tally(late)["2026-11-02"] == {"k_open": 1}  # a review: no customer to re-contact


def test_the_change_between_two_tallies_is_what_the_days_get() -> None:
    old = {"2026-11-02": {"k_open": 1}, "2026-11-03": {"k_fr_5": 1}}
    new = {"2026-11-02": {"k_open": 1}, "2026-11-04": {"k_rs_9": 1}}
    assert tally_changes(old, new) == {"2026-11-03": {"k_fr_5": -1}, "2026-11-04": {"k_rs_9": 1}}
    assert tally_changes(new, new) == {}


def test_quantiles_by_hand() -> None:
    hist = [(60, 1), (120, 2), (600, 1)]  # 1 h, 2 h, 2 h, 10 h
    assert quantile(hist, 0.5).hours == 2.0  # the 2nd of 4
    assert quantile(hist, 0.9).hours == 10.0  # the 4th of 4
    assert quantile(hist, 0.5).low is None  # 4 values: no 95 % interval for a median
    assert quantile([], 0.5).hours is None
    # 11 values 1..11 h: the median is the 6th; its 95 % interval runs from the 2nd to the 10th value
    eleven = [(60 * h, 1) for h in range(1, 12)]
    found = quantile(eleven, 0.5)
    assert (found.hours, found.low, found.high) == (6.0, 2.0, 10.0)


def test_the_median_interval_covers_the_true_median_in_most_draws() -> None:
    rng = random.Random(5)
    truth = 600 * 0.6931471805599453  # exponential, mean 10 h: median 6.93 h (in minutes: 415.9)
    covered = 0
    for _ in range(300):
        minutes = [int(rng.expovariate(1 / 600)) for _ in range(40)]
        hist = sorted({m: minutes.count(m) for m in minutes}.items())
        found = quantile(hist, 0.5)
        assert found.low is not None and found.high is not None
        covered += found.low * 60 <= truth <= found.high * 60
    assert covered / 300 >= 0.92  # the interval is conservative: at least 95 % by construction


def test_re_contact_is_a_resolved_case_of_the_same_customer_in_the_30_days_before() -> None:
    new = _case("new", opened_at=T0 + timedelta(days=10))
    resolved = _case("old", status=CaseStatus.RESOLVED, resolved_at=T0 + timedelta(days=1))
    assert recontact_of(new, [resolved]) == "old"
    assert recontact_of(new, [resolved.model_copy(update={"customer_key": "bo"})]) is None
    assert recontact_of(new, [_case("open")]) is None  # still open: not resolved
    long_ago = resolved.model_copy(update={"resolved_at": T0 - timedelta(days=25)})
    assert recontact_of(new, [long_ago]) is None  # 35 days before
    assert recontact_of(new.model_copy(update={"customer_key": None}), [resolved]) is None


def test_the_report_from_counts() -> None:
    counts = {"k_open": 5, "k_openc": 4, "k_rc": 1, "k_fr_60": 2, "k_fr_1500": 1, "k_frin": 2}
    counts |= {"k_rs_120": 1, "k_rs_3000": 1, "k_fcr": 1, "k_res0": 1}
    found = service_kpis(counts, date(2026, 11, 1), date(2026, 11, 30), 24.0)
    assert found.opened == 5 and found.first_reply.n == 3
    assert found.first_reply.median.hours == 1.0 and found.first_reply.p90.hours == 25.0
    assert found.first_reply.within_target is not None
    assert found.first_reply.within_target.value == pytest.approx(200 / 3)
    assert found.first_contact_resolution.value == 50.0 and found.first_contact_resolution.n == 2
    assert found.recontact.value == 25.0 and found.recontact.low is not None
    assert found.resolved_without_reply == 1
    empty = service_kpis({}, date(2026, 11, 1), date(2026, 11, 30), 24.0)
    assert empty.first_reply.median.hours is None and empty.recontact.value is None


def test_thousands_of_cases_give_a_narrow_interval_without_overflow() -> None:
    hist = [(m, 10) for m in range(1, 601)]  # 6,000 cases, 1 to 600 minutes
    found = quantile(hist, 0.5)
    assert found.hours == 5.0 and found.low is not None and found.high is not None
    assert 4.8 <= found.low < 5.0 < found.high <= 5.2
