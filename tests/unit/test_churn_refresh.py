"""Who can be at risk (issue 17, item 5): a regular customer in the shop's own top quarter, never a
first-time buyer; money with its currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifier.domain import churn
from services.notifier.domain.churn_refresh import score, valuable_from
from services.notifier.domain.ports import Customer, OrderLine
from shared.money import money

NOW = datetime(2026, 12, 7, 22, tzinfo=UTC)


def _customer(*orders: tuple[float, int], cancelled: bool = False) -> Customer:
    lines = tuple(
        OrderLine(f"o{i}", NOW - timedelta(days=d), total, cancelled, "EUR")
        for i, (total, d) in enumerate(orders)
    )
    return Customer(customer_key="email:k", orders=lines, first_name="Maya", email="maya@example.net")


def test_a_first_time_buyer_is_not_judged_however_the_model_would_score_them() -> None:
    assert score(_customer((64.90, 0)), NOW, None, churn.DEFAULT) is None  # one order today
    assert score(_customer((64.90, 300)), NOW, None, churn.DEFAULT) is None  # one order long ago
    assert score(_customer((50.0, 300), (50.0, 200), cancelled=True), NOW, None, churn.DEFAULT) is None
    row = score(_customer((50.0, 300), (50.0, 200)), NOW, None, churn.DEFAULT)
    assert row is not None and row.orders == 2 and row.spend_total == 100.0 and row.currency == "EUR"
    assert row.email == "maya@example.net"


def test_valuable_is_the_shops_own_top_quarter_or_its_minimum() -> None:
    assert valuable_from([10.0, 20.0, 30.0, 400.0], 0.0) == 122.5  # the 75th percentile
    assert valuable_from([10.0, 20.0, 30.0, 400.0], 500.0) == 500.0
    assert valuable_from([64.9], 0.0) == 64.9 and valuable_from([], 25.0) == 25.0


def test_money_says_its_currency_and_its_cents() -> None:
    assert money(64.9, "EUR") == "€64.90" and money(1240.5, "eur") == "€1,240"
    assert money(80, "CHF") == "80 CHF" and money(65, None) == "65" and money(1500, "JPY") == "¥1,500"
