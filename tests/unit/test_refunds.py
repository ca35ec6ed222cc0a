"""Refunds (issue 15, item 2): partial and full, on all three platforms, with amounts and currency.

Each refund is its own item under the order; the order's financial state comes from its total and the
refunds' sum (or the platform's own status), and a full refund before the send cancels the survey.
Payload shapes are the platforms' documented ones: Shopify's Refund resource (``refunds/create`` and an
order's ``refunds``), WooCommerce v3's ``refunds: [{id, reason, total}]`` on ``order.updated``, and
BigCommerce's v3 ``payment_actions/refunds`` behind the thin ``store/order/refund/created``.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.processing import changes_for
from services.feedback.domain.orders.records import Order, order_from_items
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status, SurveyType
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme
from services.feedback.domain.surveys.rules import Action, cancel_reason, plan
from services.feedback.domain.webhooks.intake import Outcome
from shared.tenancy import Platform
from tests.unit.support import (
    T0,
    World,
    body_of,
    shopify_headers,
    standard_headers,
    stored_event,
    woo_headers,
)

pytestmark = pytest.mark.unit

SHOP = "refund-shop"
SHOPIFY_ORDER = "ORDER#shopify#450789469"
BC_SECRET = "bc-client-secret"


def shopify_refund(refund_id: int, *amounts: str, status: str = "success") -> dict[str, Any]:
    """A ``refunds/create`` body as Shopify documents it (REST Refund resource)."""
    return {
        "id": refund_id,
        "order_id": 450789469,
        "created_at": "2026-11-06T10:00:00-05:00",
        "processed_at": "2026-11-06T10:00:02-05:00",
        "note": "arrived damaged",
        "restock": True,
        "user_id": 548380009,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "refund_line_items": [
            {
                "id": 104689539,
                "quantity": 1,
                "line_item_id": 703073504,
                "location_id": 487838322,
                "restock_type": "return",
                "subtotal": 195.66,
                "total_tax": 3.98,
            }
        ],
        "transactions": [
            {
                "id": 179259969 + i,
                "order_id": 450789469,
                "kind": "refund",
                "gateway": "bogus",
                "status": status,
                "amount": amount,
                "currency": "USD",
                "parent_id": 801038806,
            }
            for i, amount in enumerate(amounts)
        ],
        "order_adjustments": [],
    }


def _shopify_view(load_fixture, *refunds: dict[str, Any], **order_changes: Any) -> Order:
    world = World()
    order = {**load_fixture("shopify_order.json")["order"], **order_changes}
    world.store.apply(SHOP, normalise.shopify_order(SHOP, order), None, now=T0)
    for refund in refunds:
        world.store.apply(SHOP, normalise.shopify_refund(refund), None, now=T0)
    view = order_from_items(world.store.items(SHOP, SHOPIFY_ORDER))
    assert view is not None
    return view


# --- Shopify ------------------------------------------------------------------------------------------


def test_a_shopify_refund_is_its_own_item_with_amount_currency_and_time():
    [change] = normalise.shopify_refund(shopify_refund(509562969, "41.94"))
    assert change.sk == f"{SHOPIFY_ORDER}#REF#509562969"
    assert change.attrs == {
        "kind": "refund",
        "platform": "shopify",
        "order_id": "450789469",
        "refund_id": "509562969",
        "amount": "41.94",
        "currency": "USD",
        "shop_amount": None,  # a shop selling in its own currency only
        "shop_currency": None,
        "refunded_at": "2026-11-06T15:00:02.000000+00:00",
        "warnings": [],
    }


def test_a_partial_shopify_refund_leaves_the_order_live(load_fixture):
    view = _shopify_view(load_fixture, shopify_refund(1, "41.94"), financial_status="paid")
    assert view.financial_state == "partially_refunded"
    assert [(r.refund_id, r.amount, r.currency) for r in view.refunds] == [("1", "41.94", "USD")]
    assert not view.cancelled and cancel_reason(view) is None


def test_refunds_adding_up_to_the_total_make_a_full_refund(load_fixture):
    # The fixture order's total is 409.94 USD; the platform's status is still "paid" (not yet updated).
    refunds = (shopify_refund(1, "100.00"), shopify_refund(2, "300.00", "9.94"))
    view = _shopify_view(load_fixture, *refunds, financial_status="paid")
    assert view.refunded == Decimal("409.94")
    assert view.financial_state == "refunded"
    assert view.cancelled and cancel_reason(view) is Reason.REFUNDED


def test_failed_and_non_refund_transactions_move_no_money(load_fixture):
    failed = shopify_refund(1, "409.94", status="failure")
    restock_only = {**shopify_refund(2), "transactions": []}
    other_kind = shopify_refund(3, "409.94")
    other_kind["transactions"][0]["kind"] = "capture"
    view = _shopify_view(load_fixture, failed, restock_only, other_kind, financial_status="paid")
    assert [r.amount for r in view.refunds] == ["0", "0", "0"]
    assert view.financial_state == "paid"


def test_the_platform_status_says_refunded_even_without_the_refunds(load_fixture):
    assert _shopify_view(load_fixture, financial_status="refunded").financial_state == "refunded"
    partial = _shopify_view(load_fixture, financial_status="partially_refunded")
    assert partial.financial_state == "partially_refunded"


def test_a_refund_in_another_currency_is_not_summed_with_the_total(load_fixture):
    refund = shopify_refund(1, "409.94")
    refund["transactions"][0]["currency"] = "EUR"
    assert _shopify_view(load_fixture, refund, financial_status="paid").financial_state == "paid"


def test_an_orders_refunds_give_the_same_items_as_refunds_create(load_fixture):
    refund = shopify_refund(509562969, "41.94")
    order = {**load_fixture("shopify_order.json")["order"], "refunds": [refund]}
    from_order = {c.sk: c for c in normalise.shopify_order(SHOP, order)}
    [from_webhook] = normalise.shopify_refund(refund)
    assert from_order[from_webhook.sk] == from_webhook


def test_a_redelivered_refund_changes_nothing(load_fixture):
    world = World()
    world.add_shop(SHOP, {Platform.SHOPIFY: "shopify-secret"})
    order = load_fixture("shopify_order.json")["order"]
    body = body_of(order)
    world.post(Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "orders/create", body), body)
    refund = body_of(shopify_refund(7, "41.94"))
    first = world.post(
        Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "refunds/create", refund), refund
    )
    assert (first.outcome, first.topic) == (Outcome.ACCEPTED, "refunds/create")
    world.consume()
    before = world.store.items(SHOP, SHOPIFY_ORDER)
    # A new delivery id (Shopify's retry of the same action carries the same event id; this is a
    # different delivery of the same refund, so it passes the intake's dedupe) and a replay of it.
    again = world.post(
        Platform.SHOPIFY, SHOP, shopify_headers("shopify-secret", "refunds/create", refund), refund
    )
    assert again.outcome is Outcome.ACCEPTED
    world.consume(T0 + timedelta(hours=1))
    assert world.store.items(SHOP, SHOPIFY_ORDER) == before
    view = order_from_items(before)
    assert view is not None and [r.refund_id for r in view.refunds] == ["7"]
    assert view.refunded == Decimal("41.94") and view.financial_state == "partially_refunded"


def test_unreadable_amounts_are_kept_as_unknown_with_a_warning():
    """Decision 70, as for other fields: the refund is kept, its amount null (never guessed), and the
    event applies (more cases in test_refund_faults.py)."""
    for bad in ("forty", "NaN", True, None, {"amount": "1"}):
        refund = shopify_refund(1, "1.00")
        refund["transactions"][0]["amount"] = bad
        [change] = normalise.shopify_refund(refund)
        assert change.attrs["amount"] is None
        assert change.warnings == [
            {"field": "transactions[0].amount", "value": repr(bad), "action": "dropped"}
        ]


# --- WooCommerce --------------------------------------------------------------------------------------


def _woo_order(load_fixture, refunds: list[dict[str, Any]], modified: str, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(load_fixture("woocommerce_order.json"))
    return {**order, "refunds": refunds, "date_modified_gmt": modified, **changes}


def _woo_view(world: World, order: dict[str, Any]) -> Order:
    event = stored_event(
        SHOP, "order.updated", order, platform=Platform.WOOCOMMERCE, resource=f"order#{order['id']}"
    )
    world.store.apply(SHOP, changes_for(event, order, None), processed=event, now=T0)
    view = order_from_items(world.store.items(SHOP, f"ORDER#woocommerce#{order['id']}"))
    assert view is not None
    return view


def test_woocommerce_refunds_arrive_on_order_updated_with_negative_totals(load_fixture):
    world = World()
    order = _woo_order(
        load_fixture, [{"id": 730, "reason": "damaged", "total": "-10.00"}], "2026-11-06T10:00:00"
    )
    view = _woo_view(world, order)
    assert [(r.refund_id, r.amount, r.currency) for r in view.refunds] == [
        ("730", "10.00", order["currency"])
    ]
    assert view.financial_state == "partially_refunded" and not view.cancelled

    total = order["total"]
    full = _woo_order(
        load_fixture,
        [
            {"id": 731, "reason": "", "total": f"-{total}"},
            {"id": 730, "reason": "damaged", "total": "-10.00"},
        ],
        "2026-11-07T10:00:00",
        status="processing",
    )
    # 10.00 + the total is more than the total: refunded, whatever the status still says.
    view = _woo_view(world, full)
    assert view.financial_state == "refunded" and cancel_reason(view) is Reason.REFUNDED


@pytest.mark.parametrize("first", ["early", "late"])
def test_a_woocommerce_refund_keeps_the_earliest_time_it_was_listed_at(load_fixture, first):
    """WooCommerce gives no refund time: the first order modification listing it bounds it, in any
    order of delivery."""
    refund = [{"id": 730, "reason": "", "total": "-10.00"}]
    early = _woo_order(load_fixture, refund, "2026-11-06T10:00:00")
    late = _woo_order(load_fixture, refund, "2026-11-09T10:00:00")
    world = World()
    for order in (early, late) if first == "early" else (late, early):
        view = _woo_view(world, order)
    assert [r.refunded_at.isoformat() for r in view.refunds if r.refunded_at] == ["2026-11-06T10:00:00+00:00"]
    assert len(world.store.items(SHOP, f"ORDER#woocommerce#{early['id']}#REF")) == 1


# --- BigCommerce --------------------------------------------------------------------------------------


def _bc_order(refunds: list[dict[str, Any]], status_id: int = 2) -> dict[str, Any]:
    return {
        "id": 301,
        "customer_id": 77,
        "date_created": "Tue, 04 Nov 2026 10:00:00 +0000",
        "date_modified": "Thu, 06 Nov 2026 10:00:10 +0000",
        "date_shipped": "Wed, 05 Nov 2026 10:00:00 +0000",
        "status_id": status_id,
        "total_inc_tax": "120.0000",
        "currency_code": "USD",
        "billing_address": {"email": "sam@example.com"},
        "refunds": refunds,
    }


def bc_refund(refund_id: int, amount: float) -> dict[str, Any]:
    """One entry of ``GET /v3/orders/{id}/payment_actions/refunds``'s ``data``."""
    return {
        "id": refund_id,
        "order_id": 301,
        "user_id": 0,
        "created": "2026-11-06T10:00:00+00:00",
        "reason": "damaged",
        "total_amount": amount,
        "total_tax": 0,
        "uses_merchant_override_values": False,
        "items": [{"item_type": "PRODUCT", "item_id": 41, "quantity": 1}],
        "payments": [{"id": 9, "provider_id": "storecredit", "amount": amount, "offline": False}],
    }


def _bc_world(order: dict[str, Any]) -> tuple[World, bytes, dict[str, str]]:
    world = World()
    world.add_shop(SHOP, {Platform.BIGCOMMERCE: BC_SECRET}, domain="1001")
    world.details.add(SHOP, order)
    body = body_of(
        {
            "scope": "store/order/refund/created",
            "store_id": "1001",
            "data": {"type": "order", "id": 301, "refund": {"refund_id": 5}},
            "hash": "d0e9f3c2",
            "created_at": int(T0.timestamp()),
            "producer": "stores/abc123",
        }
    )
    return world, body, standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()))


def test_a_bigcommerce_refund_webhook_fetches_the_refunds_and_records_them():
    world, body, headers = _bc_world(_bc_order([bc_refund(5, 19.99)]))
    result = world.post(Platform.BIGCOMMERCE, SHOP, headers, body)
    assert (result.outcome, result.topic) == (Outcome.ACCEPTED, "store/order/refund/created")
    world.consume()
    view = order_from_items(world.store.items(SHOP, "ORDER#bigcommerce#301"))
    assert view is not None
    assert [(r.refund_id, r.amount, r.currency) for r in view.refunds] == [("5", "19.99", "USD")]
    assert view.financial_state == "partially_refunded" and view.state == "shipped"


def test_a_full_bigcommerce_refund_cancels_and_a_redelivery_changes_nothing():
    world, body, headers = _bc_world(_bc_order([bc_refund(5, 20), bc_refund(6, 100.0)], status_id=4))
    world.post(Platform.BIGCOMMERCE, SHOP, headers, body)
    world.consume()
    before = world.store.items(SHOP, "ORDER#bigcommerce#301")
    view = order_from_items(before)
    assert view is not None and view.refunded == 120
    assert view.financial_state == "refunded" and cancel_reason(view) is Reason.REFUNDED
    again = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()), msg_id="msg_redelivered")
    world.post(Platform.BIGCOMMERCE, SHOP, again, body)
    world.consume(T0 + timedelta(hours=1))
    assert world.store.items(SHOP, "ORDER#bigcommerce#301") == before


# --- the survey ---------------------------------------------------------------------------------------


PROGRAMME = SurveyProgramme(brand=Brand(name="B", sender="s@b.example"), rules=Rules(quiet_hours=None))


def _planned(view: Order) -> Invitation:
    return Invitation(
        shop_id=SHOP,
        invite_id="iid",
        order_sk=SHOPIFY_ORDER,
        email=view.email,
        survey_type=SurveyType.NPS,
        status=Status.PLANNED,
        due_at=T0 + timedelta(days=7),
    )


def _shipped(load_fixture) -> dict[str, Any]:
    order = copy.deepcopy(load_fixture("shopify_order.json")["order"])
    order["financial_status"] = "paid"
    order["fulfillments"][0].update(status="success", created_at=T0.isoformat(), updated_at=T0.isoformat())
    return order


@pytest.mark.parametrize(
    ("amounts", "action", "reason"),
    [(("409.94",), Action.CANCEL, Reason.REFUNDED), (("41.94",), Action.NONE, None)],
)
def test_a_full_refund_before_the_send_cancels_the_survey_and_a_partial_one_does_not(
    load_fixture, amounts, action, reason
):
    world = World()
    world.store.apply(SHOP, normalise.shopify_order(SHOP, _shipped(load_fixture)), None, now=T0)
    view = order_from_items(world.store.items(SHOP, SHOPIFY_ORDER))
    assert view is not None and view.shipped_at is not None
    invitation = _planned(view)
    run = {"shop_id": SHOP, "iid": "iid", "now": T0 + timedelta(days=1)}
    assert plan(view, PROGRAMME, invitation, **run).action is Action.NONE

    world.store.apply(SHOP, normalise.shopify_refund(shopify_refund(1, *amounts)), None, now=T0)
    refunded = order_from_items(world.store.items(SHOP, SHOPIFY_ORDER))
    assert refunded is not None
    decision = plan(refunded, PROGRAMME, invitation, **run)
    assert (decision.action, decision.reason) == (action, reason)
    # Never planned at all when the full refund came first.
    if reason:
        assert plan(refunded, PROGRAMME, None, **run).action is Action.NONE


def test_a_woocommerce_refund_comes_through_the_intake_on_order_updated(load_fixture):
    """WooCommerce has no refund topic: ``order.updated`` carries refunds, and is signed as ever."""
    world = World()
    world.add_shop(SHOP, {Platform.WOOCOMMERCE: "woo-secret"})
    order = _woo_order(load_fixture, [{"id": 730, "reason": "", "total": "-10.00"}], "2026-11-06T10:00:00")
    body = body_of(order)
    assert world.post(
        Platform.WOOCOMMERCE, SHOP, woo_headers("woo-secret", "order.updated", body), body
    ).outcome is (Outcome.ACCEPTED)
    world.consume()
    assert len(world.store.items(SHOP, f"ORDER#woocommerce#{order['id']}#REF")) == 1
