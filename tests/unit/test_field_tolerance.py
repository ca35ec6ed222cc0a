"""Per-field tolerance (issue 15, item 4; decision 70).

A bad optional field is dropped (or made neutral) with a warning kept on the record, and the rest of
the event applies; an unreadable version time falls back to the event's time. Only a missing identity
makes an event unusable: it goes to the dead-letter queue at once, with its reason, not after retries.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from services.feedback.domain.model import PermanentDefect, QueuedEvent
from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.processing import process
from services.feedback.domain.orders.records import order_from_items
from shared.tenancy import Platform
from tests.fakes import ListDeadLetters
from tests.unit.support import T0, World, stored_event

pytestmark = pytest.mark.unit

SHOP = "tolerant-shop"
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the events' own (triggered) time


def _world() -> World:
    world = World()
    world.add_shop(SHOP, {p: "secret-" + p.value for p in Platform})
    return world


def _apply(world: World, event_topic: str, payload: dict[str, Any], platform: Platform, resource: str) -> Any:
    event = stored_event(SHOP, event_topic, payload, platform=platform, resource=resource, triggered_at=AT)
    return world.process_event(event)


def _order(world: World, platform: Platform, order_id: str) -> Any:
    order = order_from_items(world.store.items(SHOP, normalise.order_sk(platform, order_id)))
    assert order is not None
    return order


def _fields(warnings: list[dict[str, str]]) -> dict[str, str]:
    return {w["field"]: w["action"] for w in warnings}


# --- Shopify ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["two", "1.5", 1.5, True, {"n": 2}])
def test_shopify_bad_quantity_is_dropped_and_the_order_applies(load_fixture, bad):
    order = load_fixture("shopify_order.json")["order"]
    order["line_items"][0]["quantity"] = bad
    world = _world()
    receipt = _apply(world, "orders/updated", order, Platform.SHOPIFY, "order#450789469")
    view = _order(world, Platform.SHOPIFY, "450789469")
    assert view.line_items[0]["quantity"] is None
    assert view.line_items[0]["title"]  # the rest of the item stays
    assert view.email == order["email"]
    assert view.fulfilments  # the order's other groups applied as usual
    assert view.warnings == [
        {"field": "line_items[0].quantity", "value": repr(bad)[:60], "action": "dropped"}
    ]
    assert receipt.warnings == view.warnings  # the handler logs these


def test_shopify_whole_quantities_in_any_spelling_are_kept():
    warnings: normalise.Warnings = []
    assert [normalise.quantity(q, "q", warnings) for q in (2, "3", " 4 ", 5.0, "6.00", None, "")] == [
        2,
        3,
        4,
        5,
        6,
        0,
        0,
    ]
    assert warnings == []


def test_shopify_unreadable_updated_at_falls_back_to_the_event_time(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    order["updated_at"] = "last Tuesday"
    world = _world()
    _apply(world, "orders/updated", order, Platform.SHOPIFY, "order#450789469")
    view = _order(world, Platform.SHOPIFY, "450789469")
    assert view.source_updated_at == AT
    assert _fields(view.warnings) == {"updated_at": "used the event's time"}


def test_shopify_unreadable_cancellation_time_still_cancels(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    order["cancelled_at"] = "soon"
    world = _world()
    _apply(world, "orders/cancelled", order, Platform.SHOPIFY, "order#450789469")
    view = _order(world, Platform.SHOPIFY, "450789469")
    assert view.cancelled
    assert _fields(view.warnings) == {"cancelled_at": "used the record's time"}


def test_shopify_estimated_delivery_of_tomorrow_is_dropped_and_tracking_applies(load_fixture):
    ev = load_fixture("shopify_fulfillment_event.json")["fulfillment_event"]
    ev["estimated_delivery_at"] = "tomorrow"
    world = _world()
    _apply(world, "fulfillment_events/create", ev, Platform.SHOPIFY, f"order#{ev['order_id']}")
    sk = f"{normalise.order_sk(Platform.SHOPIFY, ev['order_id'])}#FUL#{ev['fulfillment_id']}"
    item = world.store.records(SHOP)[sk]
    assert item["tracking_status"] == ev["status"]
    assert item["estimated_delivery_at"] is None
    assert item["tracking_warnings"] == [
        {"field": "estimated_delivery_at", "value": "'tomorrow'", "action": "dropped"}
    ]


def test_a_later_clean_event_clears_the_warnings(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    bad = copy.deepcopy(order)
    bad["line_items"][0]["quantity"] = "two"
    world = _world()
    _apply(world, "orders/updated", bad, Platform.SHOPIFY, "order#450789469")
    order["updated_at"] = "2030-01-01T00:00:00Z"
    _apply(world, "orders/updated", order, Platform.SHOPIFY, "order#450789469")
    assert _order(world, Platform.SHOPIFY, "450789469").warnings == []


# --- WooCommerce --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["two", "1.5"])
def test_woocommerce_bad_quantity_is_dropped_and_the_order_applies(load_fixture, bad):
    order = load_fixture("woocommerce_order.json")
    order["line_items"][0]["quantity"] = bad
    world = _world()
    _apply(world, "order.updated", order, Platform.WOOCOMMERCE, f"order#{order['id']}")
    view = _order(world, Platform.WOOCOMMERCE, str(order["id"]))
    assert view.line_items[0]["quantity"] is None
    assert view.currency == order["currency"]
    assert _fields(view.warnings) == {"line_items[0].quantity": "dropped"}


def test_woocommerce_unreadable_modification_time_falls_back_to_the_event_time(load_fixture):
    order = load_fixture("woocommerce_order.json")
    order["date_modified_gmt"] = "2026-13-45T99:00:00"
    world = _world()
    _apply(world, "order.updated", order, Platform.WOOCOMMERCE, f"order#{order['id']}")
    view = _order(world, Platform.WOOCOMMERCE, str(order["id"]))
    assert view.source_updated_at == AT
    assert _fields(view.warnings) == {"date_modified_gmt": "used the event's time"}


# --- BigCommerce --------------------------------------------------------------------------------


def _bigcommerce(world: World, **changes: Any) -> dict[str, Any]:
    order = {
        "id": 251,
        "customer_id": 0,
        "status_id": 10,
        "status": "Completed",
        "date_created": "Tue, 25 Jun 2019 16:15:35 +0000",
        "date_modified": "Tue, 25 Jun 2019 17:14:17 +0000",
        "date_shipped": "Tue, 25 Jun 2019 17:14:17 +0000",
        "currency_code": "USD",
        "total_inc_tax": "30.0000",
        "billing_address": {"first_name": "Jane", "email": "jane@example.com"},
        "products": [{"name": "Mug", "quantity": 1, "product_id": 7}],
        **changes,
    }
    world.details.add(SHOP, order)
    return order


def _bigcommerce_ping(status: Any) -> dict[str, Any]:
    return {
        "scope": "store/order/statusUpdated",
        "store_id": "1025646",
        "data": {"type": "order", "id": 251, "status": {"previous_status_id": 0, "new_status_id": status}},
        "hash": "h",
        "created_at": int(AT.timestamp()),
        "producer": "stores/abc",
    }


def test_bigcommerce_status_of_eleven_in_words_is_dropped_and_the_order_applies():
    world = _world()
    _bigcommerce(world, status_id="eleven")
    _apply(world, "store/order/statusUpdated", _bigcommerce_ping("eleven"), Platform.BIGCOMMERCE, "order#251")
    view = _order(world, Platform.BIGCOMMERCE, "251")
    assert view.email == "jane@example.com"
    assert view.status_ping is None
    assert _fields(view.warnings) == {"status_id": "dropped", "data.status.new_status_id": "dropped"}


@pytest.mark.parametrize("bad", ["two", "1.5"])
def test_bigcommerce_bad_product_quantity_is_dropped_and_the_order_applies(bad):
    world = _world()
    _bigcommerce(world, products=[{"name": "Mug", "quantity": bad, "product_id": 7}])
    _apply(world, "store/order/updated", _bigcommerce_ping(None), Platform.BIGCOMMERCE, "order#251")
    view = _order(world, Platform.BIGCOMMERCE, "251")
    assert view.state == "shipped"
    assert view.line_items == [{"title": "Mug", "quantity": None, "product_id": "7", "sku": ""}]
    assert _fields(view.warnings) == {"line_items[0].quantity": "dropped"}


def test_bigcommerce_unreadable_modification_time_falls_back_to_the_event_time():
    world = _world()
    _bigcommerce(world, date_modified="someday")
    _apply(world, "store/order/updated", _bigcommerce_ping(None), Platform.BIGCOMMERCE, "order#251")
    view = _order(world, Platform.BIGCOMMERCE, "251")
    assert view.source_updated_at == AT
    assert _fields(view.warnings) == {"date_modified": "used the event's time"}


# --- missing identity: dead-lettered at once ----------------------------------------------------


def _with_dead_letters(world: World) -> tuple[Any, ListDeadLetters]:
    dead = ListDeadLetters()
    deps = dataclasses.replace(world.processing_deps, dead_letters=dead, raw_events=world.store)
    return deps, dead


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("orders/updated", {"updated_at": "2026-01-01T00:00:00Z"}, "order: field 'id' is missing"),
        ("fulfillments/update", {"order_id": 5, "updated_at": "2026-01-01T00:00:00Z"}, "field 'id'"),
        (
            "fulfillment_events/create",
            {"order_id": 5, "happened_at": "2026-01-01T00:00:00Z"},
            "fulfillment_id",
        ),
        ("orders/delete", {}, "orders/delete: field 'id' is missing"),
    ],
)
def test_a_missing_identity_is_dead_lettered_at_once_with_its_reason(topic, payload, reason):
    world = _world()
    event = stored_event(SHOP, topic, payload, resource="order#5", triggered_at=AT)
    world.store.put_new(event, T0.replace(year=2100))
    deps, dead = _with_dead_letters(world)
    receipt = process(QueuedEvent.of(event), deps, T0)
    assert receipt.dead_lettered is not None and reason in receipt.dead_lettered
    [(message, sent_reason)] = dead.sent
    assert message.stored() == event
    assert sent_reason == receipt.dead_lettered
    assert world.store.pending(T0.replace(year=2100), 10) == []  # the sweeper leaves it alone
    assert world.store.items(SHOP, "ORDER") == []  # nothing half-applied


def test_without_a_dead_letter_queue_the_defect_is_raised_for_the_queue_to_retry():
    world = _world()
    event = stored_event(SHOP, "orders/updated", {"updated_at": "2026-01-01T00:00:00Z"}, resource="order#5")
    with pytest.raises(PermanentDefect, match="'id' is missing"):
        world.process_event(event)
