"""Refunds as the platforms really send them (issue 15): Shopify's multi-currency refunds, WooCommerce's
deleted refunds, BigCommerce's refunds API refusing the token, and refund fields that cannot be read.

Shapes: Shopify's REST Refund (transactions with ``amount``/``currency`` in the presentment currency and,
in newer API versions, ``amount_set`` with ``shop_money`` and ``presentment_money``; refund line items
with ``subtotal_set``) and Order (``presentment_currency``, ``total_price_set``); WooCommerce v3's
``refunds: [{id, reason, total}]``; BigCommerce's ``GET /v3/orders/{id}/payment_actions/refunds``.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.demo import bigcommerce_orders
from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.processing import changes_for
from services.feedback.domain.orders.records import Order, order_from_items
from shared import events
from shared.tenancy import Platform
from tests.unit.support import T0, World, body_of, shopify_headers, stored_event
from tests.unit.test_bigcommerce_orders import SHOP as BC_SHOP
from tests.unit.test_bigcommerce_orders import _adapter
from tests.unit.test_refunds import _bc_order, _woo_order, bc_refund, shopify_refund

pytestmark = pytest.mark.unit

SHOP = "refund-faults"
SHOPIFY_ORDER = "ORDER#shopify#450789469"


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency_code": currency}


def _set(shop: tuple[str, str], presentment: tuple[str, str]) -> dict[str, Any]:
    return {"shop_money": _money(*shop), "presentment_money": _money(*presentment)}


def _eur_order(load_fixture) -> dict[str, Any]:
    """The fixture order as a USD shop sells it to a customer paying in euros."""
    order = copy.deepcopy(load_fixture("shopify_order.json")["order"])
    order.update(
        presentment_currency="EUR",
        total_price_set=_set(("409.94", "USD"), ("378.50", "EUR")),
        financial_status="paid",
    )
    return order


def _eur_refund(refund_id: int, eur: str, usd: str) -> dict[str, Any]:
    refund = shopify_refund(refund_id, eur)
    refund["transactions"][0].update(currency="EUR", amount_set=_set((usd, "USD"), (eur, "EUR")))
    refund["refund_line_items"][0]["subtotal_set"] = _set((usd, "USD"), (eur, "EUR"))
    return refund


def _view(world: World, sk: str) -> Order:
    view = order_from_items(world.store.items(SHOP, sk))
    assert view is not None
    return view


def _shopify(world: World, order: dict[str, Any] | None, *refunds: dict[str, Any]) -> Order:
    if order is not None:
        world.store.apply(SHOP, normalise.shopify_order(SHOP, order, T0), None, now=T0)
    for refund in refunds:
        world.store.apply(SHOP, normalise.shopify_refund(refund, T0), None, now=T0)
    return _view(world, SHOPIFY_ORDER)


# --- 1. Shopify multi-currency refunds ------------------------------------------------------------------


def test_a_refund_is_recorded_in_the_currency_the_customer_paid_with_the_shops_amount_beside(load_fixture):
    view = _shopify(World(), _eur_order(load_fixture), _eur_refund(1, "50.00", "54.17"))
    [refund] = view.refunds
    assert (refund.amount, refund.currency) == ("50.00", "EUR")
    assert (refund.shop_amount, refund.shop_currency) == ("54.17", "USD")
    # The order is in the customer's currency too, so the two compare; the shop's total beside it.
    assert (view.total, view.currency, view.shop_total, view.shop_currency) == (
        "378.50",
        "EUR",
        "409.94",
        "USD",
    )
    assert view.refunded == Decimal("50.00") and view.financial_state == "partially_refunded"


def test_refunds_in_the_customers_currency_adding_up_to_its_total_are_a_full_refund(load_fixture):
    refunds = (_eur_refund(1, "300.00", "324.92"), _eur_refund(2, "78.50", "85.02"))
    view = _shopify(World(), _eur_order(load_fixture), *refunds)
    assert view.refunded == Decimal("378.50") and view.financial_state == "refunded"


def test_amount_set_wins_over_an_amount_given_in_the_shops_currency(load_fixture):
    """An app that read the transaction with ``in_shop_currency=true`` has ``amount`` in USD; the set
    still says what the customer got back."""
    refund = _eur_refund(1, "50.00", "54.17")
    refund["transactions"][0].update(amount="54.17", currency="USD")
    [change] = normalise.shopify_refund(refund)
    assert (change.attrs["amount"], change.attrs["currency"]) == ("50.00", "EUR")
    assert (change.attrs["shop_amount"], change.attrs["shop_currency"]) == ("54.17", "USD")


def test_transactions_in_two_currencies_are_never_summed(load_fixture):
    refund = _eur_refund(1, "50.00", "54.17")
    usd = {**refund["transactions"][0], "id": 2, "amount": "10.00", "currency": "USD", "amount_set": None}
    refund["transactions"].append(usd)
    view = _shopify(World(), _eur_order(load_fixture), refund)
    [kept] = view.refunds
    assert kept.amount is None
    assert kept.warnings == [
        {
            "field": "transactions[].currency",
            "value": "['EUR', 'USD']",
            "action": "not summed: amounts in different currencies",
        }
    ]
    assert view.financial_state == "paid"


def test_a_single_currency_shop_records_no_shop_amount(load_fixture):
    [change] = normalise.shopify_refund(shopify_refund(1, "41.94"))
    assert (change.attrs["amount"], change.attrs["currency"]) == ("41.94", "USD")
    assert (change.attrs["shop_amount"], change.attrs["shop_currency"]) == (None, None)


def test_a_restock_only_refund_takes_its_currency_from_its_line_items(load_fixture):
    refund = {**_eur_refund(1, "0", "0"), "transactions": []}
    [change] = normalise.shopify_refund(refund)
    assert (change.attrs["amount"], change.attrs["currency"]) == ("0", "EUR")


def test_a_refund_on_an_order_stored_in_the_shops_currency_counts_its_shop_amount(load_fixture):
    """An order recorded before its presentment currency was read (currency USD) still adds up the
    refunds by their shop-currency amounts, never their euros as dollars."""
    order = load_fixture("shopify_order.json")["order"]
    view = _shopify(World(), {**order, "financial_status": "paid"}, _eur_refund(1, "378.50", "409.94"))
    assert view.currency == "USD" and view.refunded == Decimal("409.94")
    assert view.financial_state == "refunded"


def test_an_unreadable_presentment_total_is_dropped_never_the_shops_taken_for_it(load_fixture):
    order = _eur_order(load_fixture)
    order["total_price_set"]["presentment_money"]["amount"] = "abc"
    view = _shopify(World(), order)
    assert (view.total, view.currency, view.shop_total) == (None, "EUR", "409.94")
    assert {
        "field": "total_price_set.presentment_money",
        "value": "'abc'",
        "action": "dropped",
    } in view.warnings


def test_the_customers_spend_is_announced_in_the_shops_currency(load_fixture):
    world = World()
    world.add_shop(SHOP, {Platform.SHOPIFY: "shopify-secret"})
    body = body_of(_eur_order(load_fixture))
    world.post(Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "orders/create", body), body)
    world.consume()
    [recorded] = world.publisher.of(events.ORDER_RECORDED)
    assert (recorded.data["total"], recorded.data["currency"]) == (409.94, "USD")


# --- 2. WooCommerce refunds deleted in the shop ---------------------------------------------------------


def _woo(world: World, order: dict[str, Any]) -> Order:
    event = stored_event(
        SHOP, "order.updated", order, platform=Platform.WOOCOMMERCE, resource=f"order#{order['id']}"
    )
    world.store.apply(SHOP, changes_for(event, order, None), processed=event, now=T0)
    return _view(world, f"ORDER#woocommerce#{order['id']}")


REFUND_730 = {"id": 730, "reason": "damaged", "total": "-10.00"}


@pytest.mark.parametrize("arrival", [(0, 1), (1, 0), (0, 1, 0), (1, 0, 0)])
def test_a_refund_the_newest_order_no_longer_lists_stops_counting(load_fixture, arrival):
    """Listed at 10:00, deleted in the shop by 11:00; whatever order the events arrive in (an old one
    again last), the refund no longer counts and the order is paid again."""
    versions = (
        _woo_order(load_fixture, [REFUND_730], "2026-11-06T10:00:00"),
        _woo_order(load_fixture, [], "2026-11-06T11:00:00"),
    )
    world = World()
    for i in arrival:
        view = _woo(world, versions[i])
    [refund] = view.refunds
    assert refund.refund_id == "730" and refund.deleted
    assert view.refunded == 0 and view.financial_state == "paid"


def test_a_refund_still_listed_counts_and_only_the_deleted_one_stops(load_fixture):
    other = {"id": 731, "reason": "", "total": "-5.00"}
    world = World()
    _woo(world, _woo_order(load_fixture, [REFUND_730, other], "2026-11-06T10:00:00"))
    view = _woo(world, _woo_order(load_fixture, [other], "2026-11-06T11:00:00"))
    assert [(r.refund_id, r.deleted) for r in view.refunds] == [("730", True), ("731", False)]
    assert view.refunded == Decimal("5.00") and view.financial_state == "partially_refunded"


def test_a_payload_without_a_refunds_list_deletes_nothing(load_fixture):
    """Legacy v3 lists no refunds (decision 66): it says nothing about them."""
    world = World()
    _woo(world, _woo_order(load_fixture, [REFUND_730], "2026-11-06T10:00:00"))
    later = _woo_order(load_fixture, [], "2026-11-06T11:00:00")
    del later["refunds"]
    view = _woo(world, later)
    assert [(r.refund_id, r.deleted) for r in view.refunds] == [("730", False)]


# --- 3. BigCommerce: the refunds API refuses the token ------------------------------------------------


# BigCommerce's Orders V3 reference: Get Refunds for Order needs store_v2_transactions_read_only (or
# store_v2_transactions, store_v2_orders_read_only, store_v2_orders).
@pytest.mark.parametrize(
    ("status", "says"),
    [
        (403, "lacks the scope Order Transactions: read-only (store_v2_transactions_read_only)"),
        (404, "no refunds API"),
    ],
)
def test_a_refused_refunds_api_leaves_the_order_applied_with_a_warning(tmp_path: Path, status, says):
    orders = bigcommerce_orders()
    orders["301"]["refunds_status"] = status
    adapter, http = _adapter(tmp_path, orders)
    order = adapter.order(BC_SHOP, "301")  # no Unavailable: retrying would be refused the same way
    assert order is not None and order["refunds"] == []
    assert "/_local/bigcommerce/stores/demo1001/v3/orders/301/payment_actions/refunds" in http.paths
    [head, *_] = normalise.bigcommerce_order(BC_SHOP, order, [])
    [warning] = [w for w in head.attrs["warnings"] if w["field"] == "refunds"]
    assert warning["value"] == str(status) and says in warning["action"]


def test_other_refusals_are_still_transient(tmp_path: Path):
    from shared.errors import Unavailable

    orders = bigcommerce_orders()
    orders["301"]["refunds_status"] = 503
    adapter, _ = _adapter(tmp_path, orders)
    with pytest.raises(Unavailable, match="503"):
        adapter.order(BC_SHOP, "301")


# --- 4. Refund fields that cannot be read ---------------------------------------------------------------


def _shopify_world(load_fixture) -> World:
    world = World()
    world.add_shop(SHOP, {Platform.SHOPIFY: "shopify-secret"})
    body = body_of({**load_fixture("shopify_order.json")["order"], "financial_status": "paid"})
    world.post(Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "orders/create", body), body)
    world.consume()
    return world


def _post_refund(world: World, refund: dict[str, Any]) -> None:
    body = body_of(refund)
    result = world.post(
        Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "refunds/create", body), body
    )
    assert result.topic == "refunds/create"
    [receipt] = world.consume()  # never raised: the event is applied
    assert receipt.dead_lettered is None


@pytest.mark.parametrize("bad", ["abc", "NaN", True, None, {"amount": "1"}])
def test_a_shopify_refund_with_an_unreadable_amount_is_kept_without_one(load_fixture, bad):
    world = _shopify_world(load_fixture)
    refund = shopify_refund(7, "1.00")
    refund["transactions"][0]["amount"] = bad
    _post_refund(world, refund)
    [kept] = _view(world, SHOPIFY_ORDER).refunds
    assert kept.refund_id == "7" and kept.amount is None
    assert kept.warnings == [{"field": "transactions[0].amount", "value": repr(bad), "action": "dropped"}]


def test_a_shopify_refund_with_unreadable_times_takes_the_events(load_fixture):
    world = _shopify_world(load_fixture)
    refund = {**shopify_refund(7, "41.94"), "processed_at": "tomorrow"}
    del refund["created_at"]
    _post_refund(world, refund)
    [kept] = _view(world, SHOPIFY_ORDER).refunds
    assert kept.amount == "41.94" and kept.refunded_at is not None
    assert [(w["field"], w["action"]) for w in kept.warnings] == [
        ("created_at", "used the event's time"),
        ("processed_at", "used the record's time"),
    ]


def test_a_refunds_create_without_an_id_leaves_a_warning_on_the_order(load_fixture):
    world = _shopify_world(load_fixture)
    refund = shopify_refund(7, "41.94")
    del refund["id"]
    _post_refund(world, refund)
    view = _view(world, SHOPIFY_ORDER)
    assert view.refunds == [] and view.financial_state == "paid"
    assert {"field": "id", "value": "None", "action": "refund dropped: it has no id"} in view.warnings
    assert view.email  # the order itself untouched


def test_an_orders_refund_without_an_id_is_dropped_with_a_warning_and_the_rest_kept(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    broken = {**shopify_refund(0, "5.00"), "id": None}
    view = _shopify(World(), {**order, "refunds": [broken, shopify_refund(8, "41.94")]})
    assert [r.refund_id for r in view.refunds] == ["8"]
    assert {
        "field": "refunds[0].id",
        "value": "None",
        "action": "refund dropped: it has no id",
    } in view.warnings


def test_woocommerce_refunds_with_a_bad_total_or_no_id(load_fixture):
    refunds = [{"id": 730, "reason": "", "total": "abc"}, {"reason": "no id", "total": "-5.00"}]
    view = _woo(World(), _woo_order(load_fixture, refunds, "2026-11-06T10:00:00"))
    [kept] = view.refunds
    assert (kept.refund_id, kept.amount, kept.deleted) == ("730", None, False)
    assert kept.warnings == [{"field": "total", "value": "'abc'", "action": "dropped"}]
    assert {
        "field": "refunds[1].id",
        "value": "None",
        "action": "refund dropped: it has no id",
    } in view.warnings


def test_bigcommerce_refunds_with_a_bad_amount_time_or_no_id():
    bad = {**bc_refund(5, 19.99), "total_amount": "abc", "created": "soon"}
    nameless = {**bc_refund(6, 1.0), "id": None}
    changes = normalise.bigcommerce_order(SHOP, _bc_order([bad, nameless, bc_refund(7, 20.0)]), [])
    world = World()
    world.store.apply(SHOP, changes, None, now=T0)
    view = _view(world, "ORDER#bigcommerce#301")
    assert sorted((r.refund_id, r.amount) for r in view.refunds) == [("5", None), ("7", "20.0")]
    [five] = [r for r in view.refunds if r.refund_id == "5"]
    assert five.refunded_at == view.source_updated_at  # the order's modification time
    assert [w["field"] for w in five.warnings] == ["created", "total_amount"]
    assert {
        "field": "refunds[1].id",
        "value": "None",
        "action": "refund dropped: it has no id",
    } in view.warnings
