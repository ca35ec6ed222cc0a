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
    Feedback,
    Model,
    Order,
    features,
    fit,
    precision_at,
    roc_auc,
)

AS_OF = datetime(2026, 6, 1)


def orders_every(days: int, n: int, last_days_ago: int, total: float = 100.0) -> list[Order]:
    last = AS_OF - timedelta(days=last_days_ago)
    return [Order(last - timedelta(days=days * i), total) for i in range(n)]


def test_features_by_hand() -> None:
    orders = [*orders_every(30, 4, 45), Order(AS_OF - timedelta(days=10), 50.0, cancelled=True)]
    x = features(orders, AS_OF, Feedback(last_detractor=True, negative_themes=5))
    assert x["recency"] == pytest.approx(math.log1p(45))
    assert x["overdue"] == pytest.approx(45 / 30)
    assert x["orders_year"] == pytest.approx(math.log1p(4))
    assert x["spend_year"] == pytest.approx(math.log1p(400))
    assert x["tenure"] == pytest.approx(math.log1p(45 + 90))
    assert x["cancelled_share"] == pytest.approx(1 / 5)
    assert (x["detractor"], x["negative_themes"], x["open_case"]) == (1.0, 3.0, 0.0)


def test_only_orders_before_the_cutoff_count_and_no_order_means_no_features() -> None:
    later = [Order(AS_OF + timedelta(days=1), 10.0)]
    assert features(later, AS_OF) == {}
    assert features([Order(AS_OF - timedelta(days=3), 10.0, cancelled=True)], AS_OF) == {}
    one = features([Order(AS_OF - timedelta(days=30), 10.0), *later], AS_OF)
    assert one["overdue"] == pytest.approx(30 / 90)  # one order: a quarter is assumed usual


def test_a_lapsed_occasional_customer_is_riskier_than_a_regular_one_with_the_reasons() -> None:
    regular = features(orders_every(14, 20, 5, total=300.0), AS_OF)
    lapsed = features(
        orders_every(200, 2, 200, total=40.0), AS_OF, Feedback(last_detractor=True, open_case=True)
    )
    assert DEFAULT.risk(lapsed) > 0.5 > DEFAULT.risk(regular)
    reasons = DEFAULT.reasons(lapsed)
    # One cheap order in the year pushes hardest, then the low score.
    assert set(reasons[:2]) == {"low spend in the last year", "few orders in the last year"}
    assert reasons[2] == "their last survey score was low"
    assert DEFAULT.reasons(regular, top=9) == [r for r in DEFAULT.reasons(regular, top=9) if "few" not in r]


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


def test_a_model_with_no_weights_is_even() -> None:
    assert Model(bias=0.0, weights={}).risk({"recency": 9.0}) == 0.5
