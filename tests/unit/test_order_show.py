"""``cxloop order show --json``: the normalised order for operators and tools (issue 15).

Today's field names stay (``state``, ``currency``, ``financial_status``, ``fulfilments``); refunds,
totals, line items, delivery per fulfilment, the test flag and the customer key are added.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cxloop.cli import cmd_order_show, parser
from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.records import Order, order_from_items
from tests.unit.support import T0, World
from tests.unit.test_refunds import shopify_refund

pytestmark = pytest.mark.unit

SHOP = "show-shop"


class _Admin:
    """The order by its id; ``orders`` lists it for a look-up by name."""

    def __init__(self, order: Order | None) -> None:
        self._order = order

    def order(self, shop_id: str, platform: Any, order_id: str) -> Order | None:
        return self._order if self._order and order_id == self._order.order_id else None

    def orders(self, shop_id: str) -> list[Order]:
        return [self._order] if self._order else []


def _stored_order(load_fixture) -> Order:
    order = copy.deepcopy(load_fixture("shopify_order.json")["order"])
    order["fulfillments"][0].update(status="success", shipment_status="delivered", updated_at=T0.isoformat())
    world = World()
    world.store.apply(SHOP, normalise.shopify_order(SHOP, order), None, now=T0)
    world.store.apply(SHOP, normalise.shopify_refund(shopify_refund(9, "41.94")), None, now=T0)
    view = order_from_items(world.store.items(SHOP, "ORDER#shopify#450789469"))
    assert view is not None
    return view


def _show(capsys, order: Order | None, *flags: str, order_id: str = "450789469") -> tuple[int, str]:
    args = parser().parse_args(["order", "show", "--shop", SHOP, "--platform", "shopify", order_id, *flags])
    code = cmd_order_show(args, lambda _: _Admin(order))
    return code, capsys.readouterr().out


def test_the_json_keeps_todays_names_and_adds_refunds_totals_and_delivery(load_fixture, capsys):
    code, out = _show(capsys, _stored_order(load_fixture), "--json")
    assert code == 0
    doc = json.loads(out)
    # Today's names, unchanged.
    assert doc["state"] == "delivered"
    assert (doc["currency"], doc["financial_status"], doc["total"]) == ("USD", "authorized", "409.94")
    assert [f["fulfilment_id"] for f in doc["fulfilments"]] == ["255858046"]
    # What is new: the platform still says "authorized", the refund says partially refunded.
    assert doc["financial_state"] == "partially_refunded"
    assert doc["refunds"] == [
        {
            "refund_id": "9",
            "amount": "41.94",
            "currency": "USD",
            "refunded_at": "2026-11-06T15:00:02Z",
            "shop_amount": None,
            "shop_currency": None,
            "deleted": False,
            "warnings": [],
        }
    ]
    assert doc["totals"] == {"total": "409.94", "refunded": "41.94", "net": "368.00", "currency": "USD"}
    assert doc["fulfilments"][0]["delivered_at"] == "2025-03-01T12:00:00.000000+00:00"
    assert doc["fulfilments"][0]["cancelled"] is False
    assert doc["delivered_at"] == "2025-03-01T12:00:00.000000+00:00"
    assert [(li["sku"], li["quantity"]) for li in doc["line_items"]] == [
        ("IPOD2008GREEN", 1),
        ("IPOD2008RED", 1),
        ("IPOD2008BLACK", 1),
    ]
    assert doc["test"] is False
    assert doc["customer_key"] == "shopify:207119551"


def test_without_json_a_summary_for_people(load_fixture, capsys):
    code, out = _show(capsys, _stored_order(load_fixture))
    assert code == 0
    assert "delivered, partially_refunded: 409.94 USD" in out
    assert "refund 9: 41.94 USD at 2026-11-06T15:00:02Z" in out


def test_an_unknown_order_is_an_error_that_says_what_to_give(capsys):
    args = parser().parse_args(["order", "show", "--shop", SHOP, "--platform", "shopify", "1042", "--json"])
    assert cmd_order_show(args, lambda _: _Admin(None)) == 1
    err = capsys.readouterr().err
    assert "no shopify order '1042' in shop 'show-shop'" in err
    assert "give the platform's order id or its name as shown (#1042)" in err


@pytest.mark.parametrize("given", ["#1001", "1001"])
def test_the_number_people_see_finds_the_order_too(load_fixture, capsys, given):
    """The demo and the dashboard print #1001 (the order's name); the id is 450789469."""
    code, out = _show(capsys, _stored_order(load_fixture), "--json", order_id=given)
    assert code == 0 and json.loads(out)["order_id"] == "450789469"


def test_a_multi_currency_refund_shows_what_the_customer_got_and_what_the_shop_paid(load_fixture, capsys):
    """Item 1: the customer paid in euros in a dollar shop; the refund is in euros, the dollars beside."""
    from tests.unit.test_refund_faults import _eur_order, _eur_refund

    world = World()
    world.store.apply(SHOP, normalise.shopify_order(SHOP, _eur_order(load_fixture)), None, now=T0)
    world.store.apply(SHOP, normalise.shopify_refund(_eur_refund(1, "50.00", "54.17")), None, now=T0)
    view = order_from_items(world.store.items(SHOP, "ORDER#shopify#450789469"))
    code, out = _show(capsys, view, "--json")
    doc = json.loads(out)
    assert code == 0
    [refund] = doc["refunds"]
    assert (refund["amount"], refund["currency"], refund["shop_amount"], refund["shop_currency"]) == (
        "50.00",
        "EUR",
        "54.17",
        "USD",
    )
    assert doc["totals"] == {"total": "378.50", "refunded": "50.00", "net": "328.50", "currency": "EUR"}
    assert (doc["shop_total"], doc["shop_currency"]) == ("409.94", "USD")
    _, text = _show(capsys, view)
    assert "refund 1: 50.00 EUR (54.17 USD) at 2026-11-06T15:00:02Z" in text


def test_a_deleted_refund_and_a_warning_show_in_the_summary(load_fixture, capsys):
    order = copy.deepcopy(load_fixture("shopify_order.json")["order"])
    refund = shopify_refund(9, "41.94")
    refund["transactions"][0]["amount"] = "abc"
    world = World()
    world.store.apply(SHOP, normalise.shopify_order(SHOP, order), None, now=T0)
    world.store.apply(SHOP, normalise.shopify_refund(refund), None, now=T0)
    view = order_from_items(world.store.items(SHOP, "ORDER#shopify#450789469"))
    assert view is not None
    view.refunds[0].deleted = True
    _, text = _show(capsys, view)
    assert "refund 9: amount unknown at 2026-11-06T15:00:02Z (deleted in the shop, not counted)" in text
    assert "warning: refund 9 transactions[0].amount 'abc': dropped" in text
