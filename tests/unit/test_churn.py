"""Churn risk: features from order history, a transparent score with its reasons, the metrics."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.churn import (
    DEFAULT,
    PACE,
    Feedback,
    History,
    Model,
    Order,
    Pace,
    features,
    fit,
    fit_pace,
    history,
    precision_at,
    roc_auc,
)

AS_OF = datetime(2026, 6, 1)


def orders_every(days: int, n: int, last_days_ago: int, total: float = 100.0) -> list[Order]:
    last = AS_OF - timedelta(days=last_days_ago)
    return [Order(last - timedelta(days=days * i), total) for i in range(n)]


def test_features_by_hand() -> None:
    orders = [*orders_every(30, 4, 45), Order(AS_OF - timedelta(days=10), 50.0, cancelled=True)]
    pace = Pace(r=1.0, alpha=50.0)
    x = features(orders, AS_OF, Feedback(last_detractor=True, negative_themes=5), pace)
    # first order 135 days ago, 3 repeats, the last 90 days after the first
    assert history(orders, AS_OF) == History(repeats=3, last=90.0, age=135.0)
    assert x["recency"] == pytest.approx(math.log1p(45))
    assert x["silence"] == pytest.approx(4 * math.log(185 / 140))
    assert x["rate"] == pytest.approx(math.log(365 * 4 / 185))
    assert x["order_value"] == pytest.approx(math.log1p(100))
    assert x["tenure"] == pytest.approx(math.log1p(90))  # first to last order
    assert x["one_order"] == 0.0
    assert "cancelled_share" not in x  # a cancelled order counts for nothing
    assert (x["detractor"], x["negative_themes"], x["open_case"]) == (1.0, 3.0, 0.0)


def test_orders_on_one_day_are_one_purchase() -> None:
    day = AS_OF - timedelta(days=20)
    h = history([Order(day, 5.0), Order(day + timedelta(hours=2), 7.0)], AS_OF)
    assert h is not None and h.repeats == 0 and h.recency == pytest.approx(20 - 2 / 24)


def test_only_orders_before_the_cutoff_count_and_no_order_means_no_features() -> None:
    later = [Order(AS_OF + timedelta(days=1), 10.0)]
    assert features(later, AS_OF) == {}
    assert features([Order(AS_OF - timedelta(days=3), 10.0, cancelled=True)], AS_OF) == {}
    one = features([Order(AS_OF - timedelta(days=30), 10.0), *later], AS_OF)
    assert one["one_order"] == 1.0 and one["recency"] == pytest.approx(math.log1p(30))
    # one order: the silence is the chance a new customer at the shop's usual pace stays quiet 30 days
    assert one["silence"] == pytest.approx(PACE.r * math.log((PACE.alpha + 30) / PACE.alpha))


def test_a_lapsed_occasional_customer_is_riskier_than_a_regular_one_with_the_reasons() -> None:
    regular = features(orders_every(14, 20, 5, total=300.0), AS_OF)
    lapsed = features(
        orders_every(200, 2, 200, total=40.0), AS_OF, Feedback(last_detractor=True, open_case=True)
    )
    assert DEFAULT.risk(lapsed) > 0.5 > DEFAULT.risk(regular)
    reasons = DEFAULT.reasons(lapsed)
    assert reasons[0] == "orders rarely"
    assert {"small orders", "their last survey score was low"} & set(reasons[1:])
    assert not {"orders rarely", "a long time since the last order"} & set(DEFAULT.reasons(regular, top=9))


@given(st.integers(1, 60), st.integers(1, 20), st.floats(5, 5000), st.integers(0, 900))
def test_the_risk_only_grows_while_a_customer_stays_silent(gap: int, n: int, total: float, days: int) -> None:
    """The evaluator's finding (issue 19): the old score's "last year" features emptied after a year,
    so a customer silent 13 months outranked one silent 2 years. Silence must never lower the risk."""
    orders = orders_every(gap, n, 1, total)
    now, later = AS_OF + timedelta(days=days), AS_OF + timedelta(days=days + 30)
    assert DEFAULT.risk(features(orders, later)) >= DEFAULT.risk(features(orders, now)) - 1e-12


@given(st.integers(1, 400), st.integers(1, 30))
def test_feedback_only_ever_raises_the_risk(days_ago: int, n: int) -> None:
    orders = orders_every(20, n, days_ago)
    calm = DEFAULT.risk(features(orders, AS_OF))
    upset = DEFAULT.risk(
        features(orders, AS_OF, Feedback(last_detractor=True, negative_themes=2, open_case=True))
    )
    assert upset > calm


def test_fit_learns_a_planted_rule() -> None:
    rng = random.Random(3)
    rows = [{"recency": rng.uniform(0, 6), "noise": rng.uniform(0, 1)} for _ in range(400)]
    labels = [int(r["recency"] + rng.gauss(0, 0.5) > 3) for r in rows]
    model = fit(rows, labels, names=("recency", "noise"))
    assert model.weights["recency"] > 5 * abs(model.weights["noise"])
    assert roc_auc([model.risk(r) for r in rows], labels) > 0.9


def test_metrics_by_hand() -> None:
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert roc_auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # ties count half
    assert math.isnan(roc_auc([0.1, 0.2], [1, 1]))
    assert (
        precision_at([0.9, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.05], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        == 1.0
    )
    assert precision_at([0.9, 0.8, 0.7, 0.6], [0, 1, 1, 1], share=0.5) == 0.5
    # k = round(20 * 0.05) = 1; k = round(20 * 0.1) = 2
    scores, labels = list(range(20)), [0] * 18 + [0, 1]
    assert precision_at(scores, labels, 0.05) == 1.0 and precision_at(scores, labels, 0.1) == 0.5
    # a tie across the cut counts in proportion: top 2 of [0.9, 0.5, 0.5, 0.5] -> 1 + 1 * (2/3)
    assert precision_at([0.9, 0.5, 0.5, 0.5], [1, 1, 1, 0], share=0.5) == pytest.approx((1 + 2 / 3) / 2)
    # AUC by hand: pairs (churner, stayer) = (0.35, 0.1) win, (0.35, 0.4) lose, (0.8, *) win -> 3/4
    assert roc_auc([3, 1, 2], [1, 0, 0]) == 1.0 and roc_auc([1, 3, 2], [1, 0, 0]) == 0.0


def test_fit_pace_recovers_a_planted_gamma_poisson() -> None:
    rng = random.Random(11)
    histories = []
    for _ in range(3000):
        rate, age = rng.gammavariate(2.0, 1 / 40.0), rng.uniform(100, 400)
        x, t, last = -1, 0.0, 0.0
        while t < age:
            x, last = x + 1, t
            t += rng.expovariate(rate)
        histories.append(History(x, last, age))
    pace = fit_pace(histories)
    assert pace.r == pytest.approx(2.0, rel=0.15) and pace.alpha == pytest.approx(40.0, rel=0.15)


def test_a_model_with_no_weights_is_even() -> None:
    assert Model(bias=0.0, weights={}).risk({"recency": 9.0}) == 0.5


def test_fit_leaves_out_a_feature_against_its_sign() -> None:
    rng = random.Random(5)
    rows = [{"rate": rng.uniform(0, 3), "recency": rng.uniform(0, 3)} for _ in range(300)]
    labels = [int(r["rate"] - r["recency"] + rng.gauss(0, 0.3) > 0) for r in rows]  # wrong way round
    free = fit(rows, labels, names=("rate", "recency"))
    assert free.weights["rate"] > 0 > free.weights["recency"]
    held = fit(rows, labels, names=("rate", "recency"), signs={"rate": -1, "recency": 1})
    assert held.weights == {}
