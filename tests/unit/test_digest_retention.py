"""The digest's retention block (issue 19, items 1 and 3): rates with n and range, churn with the shop's
own horizon, segments with money in the orders' currency, and who moved toward leaving, by name."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifier.domain.digest import build_digest
from services.notifier.domain.digest_retention import retention_digest
from services.notifier.domain.digest_slack import digest_slack
from services.notifier.domain.ports import Customer, OrderLine
from services.notifier.domain.retention_snapshot import build
from services.notifier.rendering import render_digest

pytestmark = pytest.mark.unit
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)


def _customer(key: str, days: list[date], total: float) -> Customer:
    lines = tuple(
        OrderLine(f"{key}{i}", datetime.combine(d, datetime.min.time(), UTC), total, currency="GBP")
        for i, d in enumerate(days)
    )
    return Customer(customer_key=key, orders=lines, first_name=key.title())


def test_the_digest_states_rates_horizon_segments_and_who_moved_toward_leaving() -> None:
    fortnightly = [date(2025, 10, 1) + timedelta(days=14 * i) for i in range(12)]  # last on 4 March
    snapshot = build(
        [
            _customer("reg", fortnightly, 80.0),
            _customer("new", [date(2026, 4, 10)], 500.0),
            _customer("old", [date(2025, 1, 10)], 500.0),
            _customer("fresh", [date(2026, 3, 20), date(2026, 4, 12)], 20.0),
        ],
        [],
        NOW,
    )
    block = retention_digest(snapshot)
    assert block.lines[0] == "Repeat customers: 50% (95% range 15-85%, 2 of 4)."
    assert "Churn in March 2026" in block.lines[1] and "14 days without an order" in block.lines[1]
    assert any(line.startswith("New: 1, £500 in 12 months") for line in block.segments)
    assert block.moves == ["1 from Loyal to Can't lose them: Reg"]

    digest = build_digest("Acme", NOW, []).model_copy(update={"retention": block})
    rendered = render_digest(digest)
    assert "CUSTOMERS COMING BACK" in rendered.text and "Can't lose them: Reg" in rendered.text
    assert "Customers coming back" in rendered.html and "Can&#39;t lose them: Reg" in rendered.html
    assert "CUSTOMERS COMING BACK" not in render_digest(build_digest("Acme", NOW, [])).text
    slack = json.dumps(digest_slack(digest))
    assert "*Customers coming back*: Repeat customers: 50%" in slack and "Reg" not in slack
