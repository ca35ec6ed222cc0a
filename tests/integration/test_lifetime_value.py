"""Lifetime values on moto (issue 19, item 2; decision 125): the daily run fits each shop's model from
its customers' orders and stores the values; the at-risk API and page show each row's predicted spend
next to what they spent, the retention API and page per cohort and per segment; a shop with too little
history gets the reason, never a number. An API read after the daily run recomputes the risk on its own
(no numpy there) and keeps the values the daily run stored."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from services.notifier.domain.model import AlertSettings
from services.notifier.domain.ports import OrderLine
from services.notifier.handlers import daily
from shared.money import money
from tests.integration.dashboard_world import NOW, DashWorld
from tests.integration.test_dashboard_pages import _login, _page

pytestmark = pytest.mark.integration


def _world(dash: DashWorld) -> None:
    store, rng = dash.notifier.store, random.Random(11)

    def add(shop: str, key: str, name: str, days: list[int], total: float) -> None:
        for i, d in enumerate(days):
            line = OrderLine(f"{key}-{i}", NOW - timedelta(days=d), total, currency="EUR")
            store.add_order(shop, key, line, {"first_name": name, "email": f"{name.lower()}@example.net"})

    for i in range(30):  # regulars and one-time buyers of the last 400 days
        days = sorted({rng.randint(1, 400) for _ in range(rng.randint(1, 6))}, reverse=True)
        add("shop-a", f"email:c{i}", f"C{i}", days, round(rng.uniform(20, 90), 2))
    # Lou: a monthly big spender for a year who stopped 150 days ago (at risk, valuable)
    add("shop-a", "email:lou", "Lou", list(range(150, 480, 30)), 200.0)
    add("shop-b", "email:bo", "Bo", [400, 300, 200, 150], 90.0)  # one regular: nothing to fit
    for shop in ("shop-a", "shop-b"):
        dash.notifier.settings.put(shop, AlertSettings(churn_threshold=0.3))


def test_the_daily_run_stores_values_the_apis_and_pages_show(dash: DashWorld) -> None:
    _world(dash)
    done = daily.run(NOW, digest=False)
    assert done.get("failed") is None and done["valued"] == 31  # shop A's 31 customers; shop B: a reason

    store = dash.notifier.store
    lou = next(c for c in store.customers("shop-a") if c.customer_key == "email:lou")
    assert lou.value is not None and lou.value.to_date == 200.0 * 11 and lou.value.next_year >= 0
    run = store.risk_run("shop-a")
    assert run is not None and run.value is not None and run.value.reason is None
    assert run.value.currency == "EUR" and run.value.next_year is not None and run.value.model

    page = dash.call("GET", "/api/v1/customers/at-risk").json()
    rows = {c["customer_key"]: c for c in page["items"]}
    assert "email:lou" in rows, page
    assert rows["email:lou"]["value_next_year"] == lou.value.next_year
    assert rows["email:lou"]["value_to_date"] == 2200.0 and rows["email:lou"]["spend_total"] == 2200.0
    assert page["value_reason"] is None and page["value_currency"] == "EUR"
    assert store.risk_run("shop-a").value == run.value  # type: ignore[union-attr]  # kept through a re-read

    retention = dash.call("GET", "/api/v1/retention").json()
    snap = retention["snapshot"]
    assert snap["value"]["reason"] is None and snap["value"]["next_year"] == run.value.next_year
    assert "BG/NBD" in retention["definitions"]["lifetime_value"]
    assert sum(s["value_next_year"] for s in snap["segments"]) == pytest.approx(run.value.next_year, abs=1)
    assert sum(s["value_to_date"] for s in snap["segments"]) == pytest.approx(run.value.to_date, abs=1)
    cohorts = snap["cohort_values"]
    assert [c["month"] for c in cohorts] == [c["month"] for c in snap["cohorts"]]
    assert sum(c["customers"] for c in cohorts) <= 31 and any(c["next_year"] > 0 for c in cohorts)

    cookie = _login(dash)
    at_risk = _page(dash, "GET", "/dashboard/at-risk", cookie)
    assert at_risk.status == 200 and "Predicted, 12 months" in at_risk.body
    assert money(lou.value.next_year, "EUR").replace("€", "&euro;") in at_risk.body.replace("€", "&euro;")
    shown = _page(dash, "GET", "/dashboard/retention", cookie)
    assert shown.status == 200 and 'id="lifetime-value"' in shown.body
    assert money(run.value.next_year, "EUR") in shown.body and "Predicted, next 12 months" in shown.body


def test_a_shop_with_too_little_history_gets_the_reason_not_a_number(dash: DashWorld) -> None:
    _world(dash)
    daily.run(NOW, digest=False)
    page = dash.call("GET", "/api/v1/customers/at-risk", key="shop-b").json()
    assert [c["first_name"] for c in page["items"]] == ["Bo"]
    assert page["value_reason"] and "not enough history" in page["value_reason"]
    assert page["items"][0]["value_next_year"] is None
    snap = dash.call("GET", "/api/v1/retention", key="shop-b").json()["snapshot"]
    assert "not enough history" in snap["value"]["reason"] and snap["value"]["next_year"] is None
    assert snap["cohort_values"] == [] and all(s["value_next_year"] is None for s in snap["segments"])
    shown = _page(dash, "GET", "/dashboard/at-risk", _login(dash, "shop-b"))
    assert "Predicted spend: none, not enough history" in shown.body
