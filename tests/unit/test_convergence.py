"""The core property: events applied in any order, with any redeliveries, converge on one state.

A realistic life of one or two Shopify orders (created, updated, fulfilled, tracked, delivered, maybe
deleted) is processed through ``processing.process`` against the in-memory store, once in
chronological order and once in a random permutation with random duplicates. The records must be
identical, and the order view must say what the included events imply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feedback.domain.model import QueuedEvent
from services.feedback.domain.orders.processing import ProcessingDeps, process
from services.feedback.domain.orders.records import order_from_items
from shared.tenancy import Platform
from tests.fakes import FakeDetails, InMemoryFeedbackStore, InMemorySecrets, InMemoryShops, ListPublisher
from tests.unit.support import T0, stored_event

pytestmark = pytest.mark.unit

SHOP = "conv-shop"
CUSTOMER_ID = 4242
NOW = T0 + timedelta(days=30)
OPTIONAL = ("update1", "ful_transit", "ev_transit", "ev_delivered", "ful_delivered", "update2")
DELIVERING = {"ev_delivered", "ful_delivered", "update2"}
SHIPPING = {"update1", "ful_transit", "ful_delivered", "update2"}  # carry the fulfilment resource
ORDER_EVENTS = {"create", "update1", "update2"}


def _iso(minutes: int, base) -> str:
    return (base + timedelta(minutes=minutes)).isoformat()


@dataclass(frozen=True)
class Ev:
    order_id: int
    name: str
    topic: str
    minute: int  # when it happened, minutes after the order's base time
    payload: dict[str, Any]
    customer_minute: int | None = None  # the embedded customer's updated_at
    first_name: str | None = None


def order_life(order_id: int, base_day: int, delete_at: int | None) -> dict[str, Ev]:
    """Every event the platform could send about one order, keyed by a name."""
    base = T0 + timedelta(days=base_day)
    fid = order_id * 10

    def fulfilment(minute: int, shipment_status: str | None) -> dict[str, Any]:
        return {
            "id": fid,
            "order_id": order_id,
            "status": "success",
            "shipment_status": shipment_status,
            "tracking_company": "UPS",
            "tracking_numbers": [f"1Z{order_id}"],
            "created_at": _iso(10, base),
            "updated_at": _iso(minute, base),
        }

    def order(
        minute: int, first_name: str, fulfilments: list[dict[str, Any]], status: str | None
    ) -> dict[str, Any]:
        return {
            "id": order_id,
            "name": f"#{order_id}",
            "email": "kim@example.com",
            "total_price": "42.00",
            "currency": "EUR",
            "financial_status": "paid",
            "fulfillment_status": status,
            "created_at": _iso(0, base),
            "updated_at": _iso(minute, base),
            "customer": {
                "id": CUSTOMER_ID,
                "email": "kim@example.com",
                "first_name": first_name,
                "updated_at": _iso(minute, base),
            },
            "line_items": [{"title": "Mug", "quantity": 1, "product_id": 7, "sku": "MUG"}],
            "fulfillments": fulfilments,
        }

    def tracking(minute: int, status: str) -> dict[str, Any]:
        return {
            "id": minute,
            "fulfillment_id": fid,
            "order_id": order_id,
            "status": status,
            "happened_at": _iso(minute, base),
            "estimated_delivery_at": None,
        }

    first = f"Kim{base_day}"
    events = {
        "create": Ev(order_id, "create", "orders/create", 0, order(0, first, [], None), 0, first),
        "update1": Ev(
            order_id,
            "update1",
            "orders/updated",
            10,
            order(10, first + "a", [fulfilment(10, None)], "fulfilled"),
            10,
            first + "a",
        ),
        "ful_transit": Ev(order_id, "ful_transit", "fulfillments/update", 20, fulfilment(20, "in_transit")),
        "ev_transit": Ev(order_id, "ev_transit", "fulfillment_events/create", 30, tracking(30, "in_transit")),
        "ev_delivered": Ev(
            order_id, "ev_delivered", "fulfillment_events/create", 40, tracking(40, "delivered")
        ),
        "ful_delivered": Ev(
            order_id, "ful_delivered", "fulfillments/update", 50, fulfilment(50, "delivered")
        ),
        "update2": Ev(
            order_id,
            "update2",
            "orders/updated",
            60,
            order(60, first + "b", [fulfilment(50, "delivered")], "fulfilled"),
            60,
            first + "b",
        ),
    }
    if delete_at is not None:
        events["delete"] = Ev(order_id, "delete", "orders/delete", delete_at, {"id": order_id})
    return events


def _queued(ev: Ev, base_day: int) -> QueuedEvent:
    at = T0 + timedelta(days=base_day, minutes=ev.minute)
    event = stored_event(
        SHOP,
        ev.topic,
        ev.payload,
        resource=f"order#{ev.order_id}",
        dedupe_key=f"{ev.order_id}-{ev.name}",
        triggered_at=at,
        received_at=at + timedelta(seconds=3),
    )
    return QueuedEvent.of(event)


def _run(messages: list[QueuedEvent]) -> InMemoryFeedbackStore:
    store = InMemoryFeedbackStore()
    deps = ProcessingDeps(
        records=store,
        publisher=ListPublisher(),
        shops=InMemoryShops(),
        secrets=InMemorySecrets(),
        details=FakeDetails(),
    )
    for m in {m.dedupe_key: m for m in messages}.values():  # intake stored each event once
        store.put_new(m.stored(), expires_at=NOW + timedelta(days=30))
    for m in messages:
        receipt = process(m, deps, NOW)
        assert not receipt.redacted
    return store


@st.composite
def scenarios(draw):
    """One or two orders of the same customer, each with a random subset of its life, maybe a deletion."""
    orders = []
    for order_id, base_day in ((1001, 0), (1002, 1))[: draw(st.integers(1, 2))]:
        included = {"create"} | {name for name in OPTIONAL if draw(st.booleans())}
        delete_at = draw(st.sampled_from([None, 5, 90]))  # before the updates (restored by them) or after all
        life = order_life(order_id, base_day, delete_at)
        if delete_at is not None:
            included.add("delete")
        orders.append((order_id, base_day, delete_at, [life[n] for n in sorted(included)]))
    messages = [(_queued(ev, base_day), ev, base_day) for _, base_day, _, evs in orders for ev in evs]
    chronological = [m for m, _, _ in sorted(messages, key=lambda t: (t[2], t[1].minute, t[1].name))]
    shuffled = draw(st.permutations([m for m, _, _ in messages]))
    redelivered = draw(st.lists(st.sampled_from(shuffled), max_size=6))
    delivery = list(shuffled)
    for i, message in enumerate(redelivered):
        delivery.insert(draw(st.integers(0, len(delivery))) if i % 2 else len(delivery), message)
    return orders, chronological, delivery


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_any_order_with_duplicates_converges_on_the_chronological_state(scenario):
    orders, chronological, delivery = scenario
    expected = _run(chronological)
    got = _run(delivery)

    assert got.records(SHOP) == expected.records(SHOP)
    # Every stored raw event ends processed: nothing left for the sweeper.
    assert got.pending(NOW + timedelta(days=365), 1000) == []

    last_customer = None
    for order_id, base_day, delete_at, events in orders:
        names = {ev.name for ev in events}
        items = got.items(SHOP, f"ORDER#shopify#{order_id}")
        view = order_from_items(items)
        assert view is not None

        # The newest order resource wins; a stale update never overwrites it.
        newest = max((ev for ev in events if ev.name in ORDER_EVENTS), key=lambda ev: ev.minute)
        head = items[0]
        assert head["sk"] == f"ORDER#shopify#{order_id}"
        assert head["source_updated_at"] == (T0 + timedelta(days=base_day, minutes=newest.minute)).isoformat(
            timespec="microseconds"
        )
        assert head["first_name"] == newest.first_name
        assert head["fulfillment_status"] == ("fulfilled" if names & {"update1", "update2"} else None)

        deleted = delete_at is not None and delete_at >= newest.minute
        if deleted:
            state = "deleted"
        elif names & DELIVERING:
            state = "delivered"
        elif names & SHIPPING:
            state = "shipped"
        else:
            state = "open"
        assert view.state == state, (sorted(names), delete_at)
        assert view.deleted is deleted

        if names & DELIVERING:
            delivered_minute = 40 if "ev_delivered" in names else 50
            assert view.delivered_at == T0 + timedelta(days=base_day, minutes=delivered_minute)
        else:
            assert view.delivered_at is None

        fulfilment_items = [i for i in items if i.get("kind") == "fulfilment"]
        tracked = [ev for ev in events if ev.topic == "fulfillment_events/create"]
        if tracked:
            assert (
                fulfilment_items[0]["tracking_status"]
                == max(tracked, key=lambda ev: ev.minute).payload["status"]
            )
        for ev in events:
            if ev.customer_minute is not None and (
                last_customer is None or (base_day, ev.customer_minute) > last_customer[0]
            ):
                last_customer = ((base_day, ev.customer_minute), ev.first_name)

    # The shared customer record holds the newest copy of the person.
    (customer,) = got.items(SHOP, f"CUSTOMER#shopify:{CUSTOMER_ID}")
    assert customer["first_name"] == last_customer[1]


def test_stale_redelivery_after_newer_changes_nothing():
    life = order_life(1001, 0, None)
    newer, older = _queued(life["update2"], 0), _queued(life["update1"], 0)
    store = _run([newer])
    before = store.records(SHOP)
    deps = ProcessingDeps(
        records=store, publisher=ListPublisher(), shops=InMemoryShops(), secrets=InMemorySecrets()
    )
    receipt = process(older, deps, NOW)
    # The order group is older: refused. Groups at an equal version (the customer, the fulfilment)
    # are identical rewrites, so nothing changes either way.
    assert "ORDER#shopify#1001" in receipt.stale and "ORDER#shopify#1001" not in receipt.applied
    assert store.records(SHOP) == before
    again = process(newer, deps, NOW)
    assert again.stale == []
    assert store.records(SHOP) == before


# --- WooCommerce: versions from date_modified_gmt, deletion by delivery time --------------------------


def _woo(order_id: int, minute: int, status: str, total: str) -> dict[str, Any]:
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "total": total,
        "customer_id": 0,
        "currency": "EUR",
        "date_created_gmt": "2025-03-01T12:00:00",
        "date_modified_gmt": (T0 + timedelta(minutes=minute)).replace(tzinfo=None).isoformat(),
        "billing": {"email": "guest@example.com", "first_name": "Gus"},
    }


WOO_LIFE = [
    ("order.created", 0, "pending", "10.00"),
    ("order.updated", 5, "processing", "10.00"),
    ("order.updated", 9, "processing", "12.50"),
    ("order.updated", 30, "completed", "12.50"),
]


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(len(WOO_LIFE))), st.lists(st.integers(0, len(WOO_LIFE) - 1), max_size=4))
def test_woocommerce_order_converges(permutation, duplicates):
    messages = []
    for i, (topic, minute, status, total) in enumerate(WOO_LIFE):
        at = T0 + timedelta(minutes=minute)
        event = stored_event(
            SHOP,
            topic,
            _woo(727, minute, status, total),
            platform=Platform.WOOCOMMERCE,
            resource="order#727",
            dedupe_key=f"woo-{i}",
            triggered_at=at,
        )
        messages.append(QueuedEvent.of(event))
    expected = _run(messages)
    got = _run([messages[i] for i in permutation] + [messages[i] for i in duplicates])
    assert got.records(SHOP) == expected.records(SHOP)
    view = order_from_items(got.items(SHOP, "ORDER#woocommerce#727"))
    assert view.total == "12.50"
    assert view.fulfillment_status == "fulfilled"


def test_removing_the_customer_from_an_order_converges_and_unindexes_it():
    life = order_life(1001, 0, None)
    create = _queued(life["create"], 0)
    anonymous = dict(life["update1"].payload)
    anonymous.pop("customer")
    anonymous["email"] = None
    removed = _queued(Ev(1001, "removed", "orders/updated", 15, anonymous), 0)
    in_order, reversed_ = _run([create, removed]), _run([removed, create])
    assert in_order.records(SHOP) == reversed_.records(SHOP)
    assert in_order.orders_of_customer(SHOP, f"shopify:{CUSTOMER_ID}") == []
