"""Retention on moto (issue 19, items 1 and 3): the daily run writes one snapshot per shop and month from
the orders it heard; the API and the page read that item (GetItem only: no order, no query, no scan in
the request path); each shop sees its own; erasure takes a customer's name out of it; and the stored
snapshot equals a recount from the raw OrderRecorded events, whatever order and revisions they came in."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.local.sinks import read_inbox
from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore
from services.notifier.adapters.dynamo_retention import DynamoRetention
from services.notifier.domain import retention_snapshot
from services.notifier.domain.ports import OrderLine
from services.notifier.handlers import daily
from shared import events
from tests.integration.conftest import Moto
from tests.integration.dashboard_world import NOW, SHOP_A, SHOP_B, DashWorld, answer
from tests.integration.test_dashboard_pages import _login, _page

pytestmark = pytest.mark.integration


def _order(dash: DashWorld, shop: Any, key: str, name: str, n: int, days: int, total: float,
           cancelled: bool = False) -> None:  # fmt: skip
    order = events.OrderRecorded(
        order_id=f"{key}-{n}", platform="shopify", customer_key=key, first_name=name,
        email=f"{name.lower()}@example.net", placed_at=NOW - timedelta(days=days), total=total,
        currency="EUR", cancelled=cancelled,
    )  # fmt: skip
    dash.hear(events.ORDER_RECORDED, order.model_dump(mode="json"), shop=shop)


def _world(dash: DashWorld) -> None:
    # Lou: a monthly regular for a year who stopped 100 days ago; Maya: one order last week; Ana: a
    # fortnightly regular still buying (and a promoter); Tom: one order, cancelled (not a customer).
    for i, d in enumerate(range(100, 460, 30)):
        _order(dash, SHOP_A, "email:lou", "Lou", i, d, 80.0)
    _order(dash, SHOP_A, "email:maya", "Maya", 0, 7, 64.9)
    for i, d in enumerate(range(2, 200, 14)):
        _order(dash, SHOP_A, "email:ana", "Ana", i, d, 30.0)
    _order(dash, SHOP_A, "email:tom", "Tom", 0, 20, 99.0)
    _order(dash, SHOP_A, "email:tom", "Tom", 0, 20, 99.0, cancelled=True)
    _order(dash, SHOP_B, "email:bo", "Bo", 0, 3, 10.0)
    dash.hear(events.RESPONSE_RECORDED, answer("inv-ana", 10, customer_key="email:ana"))


def test_the_daily_run_writes_the_snapshot_the_api_and_the_page_read_without_reading_orders(
    dash: DashWorld,
) -> None:
    before = dash.call("GET", "/api/v1/retention").json()
    assert before["snapshot"] is None and "reorder_horizon" in before["definitions"]
    _world(dash)
    assert daily.run(NOW, digest=False)["retention"] == 2

    calls: list[str] = []
    client = dash.built.notifier.notifier.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    body = dash.call("GET", "/api/v1/retention").json()
    assert calls and not {"Query", "Scan"} & set(calls), calls

    snap = body["snapshot"]
    assert snap["customers"] == 3 and snap["currency"] == "EUR"
    assert snap["repeat_rate"]["successes"] == 2 and snap["repeat_rate"]["n"] == 3
    lou, ana = range(100, 460, 30), range(2, 200, 14)
    assert snap["horizon"]["days"] is not None and snap["horizon"]["gaps"] == len(lou) - 1 + len(ana) - 1
    assert "days" in body["definitions"]["reorder_horizon"]
    segments = {s["segment"]: s for s in snap["segments"]}
    assert segments["new"]["customers"] == 1  # Maya: one order, never "at risk"
    assert sum(s["customers"] for s in snap["segments"]) == 3
    answered = next(s for s in snap["segments"] if s["nps"]["n"] == 1)  # Ana's segment
    assert answered["nps"]["value"] == 100.0 and answered["nps"]["low"] is not None
    assert sum(s["revenue"] for s in snap["segments"]) == pytest.approx(
        64.9 + 30.0 * len(ana) + 80.0 * sum(1 for d in lou if d < 365), abs=0.01
    )
    month = snap["cohorts"][-1]
    assert month["month"] == NOW.strftime("%Y-%m")
    other = dash.call("GET", "/api/v1/retention", key="shop-b").json()["snapshot"]
    assert other["customers"] == 1 and other["segments"][3]["segment"] == "new"

    cookie = _login(dash)
    page = _page(dash, "GET", "/dashboard/retention", cookie)
    assert page.status == 200, page.body
    assert 'aria-current="page"' in page.body and "Customers buying again" in page.body
    assert re.search(r'<td class="num heat-\d" data-label="\+1 " title="\d+ of \d+', page.body)
    assert "Reorder horizon" in page.body and "Can&#39;t lose them" in page.body
    assert "95% interval" in page.body and "Churn by month" in page.body


def test_the_weekly_digest_carries_the_retention_block_of_the_snapshot(dash: DashWorld) -> None:
    _world(dash)
    assert daily.run(NOW)["digests"] >= 1
    texts = []
    for _, mail in read_inbox(dash.inbox_dir):
        part = mail.get_body(preferencelist=("plain",))
        texts.append(part.get_content() if part else "")
    digest = next(t for t in texts if "CUSTOMERS COMING BACK" in t and "Acme Socks" in t)
    assert "Repeat customers: 67% (95% range" in digest and "2 of 3)" in digest
    assert "New: 1, €64.90 in 12 months" in digest


def test_before_the_first_run_the_page_says_when_figures_come(dash: DashWorld) -> None:
    cookie = _login(dash)
    page = _page(dash, "GET", "/dashboard/retention", cookie)
    assert page.status == 200 and 'id="retention-none"' in page.body


def test_erasure_takes_a_mover_out_of_the_snapshot(dash: DashWorld) -> None:
    store, snapshots = dash.notifier.store, dash.notifier.retention()
    first = NOW.replace(day=1)
    # Ana bought once last month: new at its end; a second order today makes her a mover
    for i, when in enumerate((first - timedelta(days=5), NOW - timedelta(hours=1))):
        store.add_order(
            "shop-a", "email:ana", OrderLine(f"a{i}", when, 30.0, currency="EUR"), {"first_name": "Ana"}
        )
    retention_snapshot.refresh(store, snapshots, "shop-a", NOW)
    month = NOW.strftime("%Y-%m")
    stored = snapshots.get("shop-a", month)
    assert stored is not None
    if not stored.movers:
        pytest.skip("on the 1st of a month nobody can have moved yet")
    assert [m.name for m in stored.movers] == ["Ana"]
    store.erase_customer("shop-a", ["email:ana"], ["a0", "a1"])
    after = snapshots.get("shop-a", month)
    assert after is not None and after.movers == [] and after.moves == stored.moves


# --- the stored snapshot equals a recount from the raw events -----------------------------------------

T = datetime(2026, 6, 17, 9, tzinfo=UTC)
raw_orders = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 7), st.integers(0, 300), st.booleans()),
    min_size=1,
    max_size=20,
)


@pytest.fixture(scope="module")
def tables(moto_world: Moto) -> tuple[Any, str]:
    moto_world.reset()
    return moto_world.clients["dynamodb"], moto_world.resources.tables["notifier"]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(steps=raw_orders)
def test_the_stored_snapshot_equals_a_recount_of_the_raw_orders(
    tables: tuple[Any, str], steps: list[tuple[int, int, int, bool]]
) -> None:
    db, table = tables
    store, snapshots = DynamoNotifierStore(db, table), DynamoRetention(db, table)
    shop_id = f"r-{uuid.uuid4().hex[:12]}"  # a fresh shop per example (Hypothesis replays its draws)
    newest: dict[str, tuple[str, date, bool]] = {}  # order id -> (customer, day, cancelled): the last word
    for customer, order, days, cancelled in steps:
        at = T - timedelta(days=days, hours=order)
        line = OrderLine(f"c{customer}-o{order}", at, 10.0 + order, cancelled, "EUR")
        store.add_order(shop_id, f"c{customer}", line, {})
        newest[line.order_id] = (f"c{customer}", at.date(), cancelled or at >= T)
    retention_snapshot.refresh(store, snapshots, shop_id, T)
    stored = snapshots.get(shop_id, "2026-06")
    assert stored is not None

    bought: dict[str, set[date]] = {}
    for customer, day, cancelled in newest.values():
        if not cancelled:
            bought.setdefault(customer, set()).add(day)
    assert stored.customers == len(bought)
    assert stored.repeat_rate.successes == sum(len(d) >= 2 for d in bought.values())
    assert sum(s.customers for s in stored.segments) == len(bought)
    for row in stored.cohorts:
        members = [d for d in bought.values() if min(d).strftime("%Y-%m") == row.month]
        assert row.customers == len(members)
        for cell in row.cells:
            y, m = divmod(int(row.month[:4]) * 12 + int(row.month[5:]) - 1 + cell.offset, 12)
            again = sum(any((x.year, x.month) == (y, m + 1) for x in d) for d in members)
            assert (cell.rate.successes, cell.rate.n) == (again, len(members))
