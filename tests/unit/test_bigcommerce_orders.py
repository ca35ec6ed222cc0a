"""BigCommerce orders (issue 15, item 6): shipped only when the status says so, and with line items.

The adapter is driven through the local stack's fake BigCommerce API (``cxloop.local.pages``) in
process: what ``make run``'s demo serves is what the adapter reads, without a socket.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.test import Client
from werkzeug.wrappers import Request

from cxloop.local.demo import bigcommerce_orders
from cxloop.local.pages import Pages
from cxloop.local.sinks import SlackSink
from services.feedback.adapters.bigcommerce_api import BigCommerceOrders
from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.processing import changes_for
from services.feedback.domain.orders.records import order_from_items
from shared.tenancy import BigCommerceApi, Platform, ShopSecrets
from tests.fakes import InMemorySecrets
from tests.unit.support import T0, World, stored_event

pytestmark = pytest.mark.unit

SHOP = "demo-bigcommerce"
TOKEN = "local-bigcommerce-token"  # the fake API's own
AWAITING_FULFILLMENT = 11
SHIPPED = 2


class _PagesHttp:
    """Enough of urllib3's PoolManager to send the adapter's GETs to the fake API in process."""

    def __init__(self, pages: Pages) -> None:
        self.client = Client(self._app)
        self.pages = pages
        self.paths: list[str] = []

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            response = self.pages.dispatch(Request(environ))
        except HTTPException as e:
            response = e.get_response()
        return response(environ, start_response)

    def request(self, method: str, url: str, headers: dict[str, str]) -> Any:
        parts = urlsplit(url)
        self.paths.append(f"{parts.path}?{parts.query}" if parts.query else parts.path)
        answer = self.client.open(parts.path, method=method, query_string=parts.query, headers=headers)
        return SimpleNamespace(status=answer.status_code, data=answer.get_data())


def _adapter(tmp_path: Path, orders: dict[str, Any]) -> tuple[BigCommerceOrders, _PagesHttp]:
    pages = Pages(
        tmp_path, SlackSink(tmp_path / "slack.jsonl"), orders, dict, lambda _: None, lambda *_: None
    )
    secrets = InMemorySecrets()
    api = BigCommerceApi(
        store_hash="demo1001", access_token=TOKEN, base_url="http://local/_local/bigcommerce"
    )
    secrets.put(SHOP, ShopSecrets(bigcommerce_api=api))
    http = _PagesHttp(pages)
    return BigCommerceOrders(secrets, http=http), http  # type: ignore[arg-type]


def _demo_order(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(bigcommerce_orders()["301"]["order"]), **changes}


def _head(order: dict[str, Any]) -> dict[str, Any]:
    return normalise.bigcommerce_order(SHOP, order, [])[0].attrs


def test_date_shipped_without_a_shipped_status_is_not_a_shipment():
    order = _demo_order(status_id=AWAITING_FULFILLMENT, status="Awaiting Fulfillment")
    head = _head(order)
    assert head["status"] == "awaiting_fulfillment"
    assert head["fulfilled_at"] is None
    view = order_from_items([head])
    assert view is not None and view.shipped_at is None and view.state == "open"


@pytest.mark.parametrize("status_id", [SHIPPED, 3, 10])  # shipped, partially shipped, completed
def test_a_shipped_status_ships_at_date_shipped(status_id):
    head = _head(_demo_order(status_id=status_id))
    assert head["fulfilled_at"] == "2026-11-05T10:00:00.000000+00:00"
    view = order_from_items([head])
    assert view is not None and view.state == "shipped"


def test_products_become_line_items_like_the_other_platforms():
    products = [
        {"id": 1, "product_id": 112, "name": "Trail Runner 2", "sku": "TR2", "quantity": 1},
        {"id": 2, "product_id": 118, "name": "Socks", "sku": "", "quantity": "2"},
    ]
    assert _head(_demo_order(products=products))["line_items"] == [
        {"title": "Trail Runner 2", "quantity": 1, "product_id": "112", "sku": "TR2"},
        {"title": "Socks", "quantity": 2, "product_id": "118", "sku": ""},
    ]
    many = [{"name": f"p{i}", "quantity": 1, "product_id": i} for i in range(normalise.MAX_LINE_ITEMS + 5)]
    assert len(_head(_demo_order(products=many))["line_items"]) == normalise.MAX_LINE_ITEMS
    # The v2 order's own ``products`` field is a link to the sub-resource, not a list.
    link = {
        "url": "https://api.bigcommerce.com/stores/x/v2/orders/301/products",
        "resource": "/orders/301/products",
    }
    assert _head(_demo_order(products=link))["line_items"] == []


def test_the_adapter_fetches_the_products_the_fake_api_serves(tmp_path):
    adapter, http = _adapter(tmp_path, bigcommerce_orders())
    order = adapter.order(SHOP, "301")
    assert order is not None
    assert [(p["name"], p["quantity"]) for p in order["products"]] == [
        ("Trail Runner 2", 1),
        ("Merino Running Socks", 2),
    ]
    assert (
        f"/_local/bigcommerce/stores/demo1001/v2/orders/301/products?page=1&limit={normalise.MAX_LINE_ITEMS}"
        in (http.paths)
    )
    assert [s["id"] for s in adapter.shipments(SHOP, "301")] == [12]


def test_the_fake_api_pages_products_and_answers_204_past_the_end(tmp_path):
    orders = bigcommerce_orders()
    orders["301"]["products"] = [{"id": i, "name": f"p{i}", "quantity": 1} for i in range(120)]
    adapter, http = _adapter(tmp_path, orders)
    base = "/_local/bigcommerce/stores/demo1001/v2/orders/301/products"
    second = http.request("GET", f"http://local{base}?page=2&limit=50", {"X-Auth-Token": TOKEN})
    assert [p["id"] for p in json.loads(second.data)] == list(range(50, 100))
    assert http.request("GET", f"http://local{base}?page=4&limit=50", {"X-Auth-Token": TOKEN}).status == 204
    order = adapter.order(SHOP, "301")
    assert order is not None and len(order["products"]) == normalise.MAX_LINE_ITEMS


def test_an_order_without_products_has_none(tmp_path):
    orders = bigcommerce_orders()
    del orders["301"]["products"]
    adapter, _ = _adapter(tmp_path, orders)
    order = adapter.order(SHOP, "301")
    assert order is not None and order["products"] == []


def test_a_status_event_stores_the_fetched_order_open_with_its_line_items():
    world = World()
    world.add_shop(SHOP, {Platform.BIGCOMMERCE: "bc-client-secret"})
    demo = bigcommerce_orders()["301"]
    order = _demo_order(
        status_id=AWAITING_FULFILLMENT, status="Awaiting Fulfillment", products=demo["products"]
    )
    world.details.add(SHOP, order)
    payload = {
        "scope": "store/order/statusUpdated",
        "store_id": "1001",
        "data": {"type": "order", "id": 301, "status": {"previous_status_id": 1, "new_status_id": 11}},
        "hash": "h",
        "created_at": int(datetime(2026, 11, 5, 10, 0, 20, tzinfo=UTC).timestamp()),
    }
    event = stored_event(
        SHOP,
        "store/order/statusUpdated",
        payload,
        platform=Platform.BIGCOMMERCE,
        resource="order#301",
        triggered_at=T0,
    )
    world.store.apply(SHOP, changes_for(event, payload, world.details), processed=event, now=T0)
    view = order_from_items(world.store.items(SHOP, "ORDER#bigcommerce#301"))
    assert view is not None
    assert view.state == "open"
    assert [li["title"] for li in view.line_items] == ["Trail Runner 2", "Merino Running Socks"]


def test_the_adapter_fetches_the_v3_refunds_the_fake_api_serves(tmp_path):
    orders = bigcommerce_orders()
    assert orders["301"]["refunds"] == []  # the demo serves the list, empty
    refund = {"id": 5, "order_id": 301, "created": "2026-11-06T10:00:00Z", "total_amount": 19.99}
    orders["301"]["refunds"] = [refund]
    adapter, http = _adapter(tmp_path, orders)
    order = adapter.order(SHOP, "301")
    assert order is not None and order["refunds"] == [refund]
    assert "/_local/bigcommerce/stores/demo1001/v3/orders/301/payment_actions/refunds" in http.paths
    warnings: normalise.Warnings = []
    [change] = normalise.bigcommerce_refunds(order, T0, warnings)
    assert warnings == []
    assert (change.sk, change.attrs["amount"], change.attrs["currency"]) == (
        "ORDER#bigcommerce#301#REF#5",
        "19.99",
        "USD",
    )
