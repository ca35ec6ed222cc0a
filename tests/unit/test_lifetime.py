"""The daily run's lifetime values (decision 125): a reason, not a number, when a shop has too few repeat
buyers; per-customer values in the shop's main currency when it has enough; the snapshot's sums."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain import lifetime, retention_snapshot
from services.notifier.domain.ports import Customer, OrderLine

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _customer(key: str, days: list[int], total: float, currency: str = "EUR") -> Customer:
    orders = tuple(
        OrderLine(f"{key}-{i}", NOW - timedelta(days=d), total, currency=currency) for i, d in enumerate(days)
    )
    return Customer(key, orders, first_name=key)


def _shop(repeaters: int, seed: int = 3) -> list[Customer]:
    rng = random.Random(seed)
    people = [
        _customer(f"r{i}", sorted({rng.randint(1, 400) for _ in range(rng.randint(2, 6))}, reverse=True),
                  round(rng.uniform(20, 120), 2))
        for i in range(repeaters)
    ]  # fmt: skip
    people += [_customer(f"o{i}", [rng.randint(1, 400)], round(rng.uniform(20, 120), 2)) for i in range(40)]
    return people


def test_too_few_repeat_buyers_gives_a_reason_and_no_number() -> None:
    fitted = lifetime.estimate(_shop(lifetime.MIN_REPEATERS - 1), NOW)
    assert fitted.values == {}
    run = fitted.run
    assert run.reason is not None and "not enough history" in run.reason
    assert f"{lifetime.MIN_REPEATERS - 1} customer(s)" in run.reason
    assert f"at least {lifetime.MIN_REPEATERS}" in run.reason
    assert run.next_year is None and run.to_date is None and run.repeaters == lifetime.MIN_REPEATERS - 1
    snap = retention_snapshot.build(_shop(lifetime.MIN_REPEATERS - 1), [], NOW, fitted.values, run)
    assert snap.value is not None and snap.value.reason == run.reason
    assert snap.cohort_values == [] and all(s.value_next_year is None for s in snap.segments)


def test_enough_repeat_buyers_values_everyone_in_the_main_currency() -> None:
    shop = [*_shop(30), _customer("usd", [5, 50], 1000.0, currency="USD")]
    fitted = lifetime.estimate(shop, NOW)
    assert fitted.run.reason is None and fitted.run.currency == "EUR"
    assert len(fitted.values) == len(shop)
    # to date: only the orders in euros (the dollar customer's count 0, as in the retention figures)
    assert fitted.values["usd"].to_date == 0.0
    r0 = shop[0]
    assert fitted.values["r0"].to_date == pytest.approx(sum(o.total for o in r0.orders), abs=0.01)
    assert all(v.next_year >= 0 for v in fitted.values.values())
    assert fitted.run.next_year == pytest.approx(sum(v.next_year for v in fitted.values.values()), abs=1.0)
    # a regular who bought last week is worth more next year than a one-time buyer of a year ago
    keen = _customer("keen", [7, 37, 67, 97, 127], 50.0)
    gone = _customer("gone", [390], 50.0)
    both = lifetime.estimate([*_shop(30), keen, gone], NOW).values
    assert both["keen"].next_year > both["gone"].next_year

    snap = retention_snapshot.build(shop, [], NOW, fitted.values, fitted.run)
    assert snap.value is not None and snap.value.next_year == fitted.run.next_year
    segments = sum(s.value_next_year or 0.0 for s in snap.segments)
    assert segments == pytest.approx(fitted.run.next_year, abs=1.0)
    assert [c.month for c in snap.cohort_values] == [c.month for c in snap.cohorts]
    assert sum(c.customers for c in snap.cohort_values) <= len(shop)
