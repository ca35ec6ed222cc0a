"""The fakes keep the DynamoDB adapter's semantics: the other unit tests rely on them, and a contract
test runs the same expectations against the adapter on moto."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import pytest

from services.feedback.domain.model import Change, QueuedEvent
from shared.tenancy import Platform, PlatformSecret, Shop, ShopSecrets
from tests.fakes import (
    FakeDetails,
    InMemoryFeedbackStore,
    InMemorySecrets,
    InMemoryShops,
    ListPublisher,
    ListQueue,
    QueueDown,
)
from tests.unit.support import T0, stored_event

pytestmark = pytest.mark.unit

SHOP = "fake-shop"
EXPIRES = T0 + timedelta(days=30)


def _event(key: str = "k1", resource: str = "order#1", at=T0, shop: str = SHOP):
    return stored_event(shop, "orders/create", {"id": 1}, resource=resource, dedupe_key=key, triggered_at=at)


def _change(sk: str, version: str, group: str = "v", cust: str | None = None, **attrs) -> Change:
    gsi = (
        (f"CUSTOMER#{SHOP}#{cust}", sk)
        if cust and sk.startswith("ORDER#") and "#FUL#" not in sk
        else (None, None)
    )
    return Change(
        sk=sk,
        group=group,
        version=version,
        attrs=attrs,
        customer_keys=(cust,) if cust else (),
        gsi1pk=gsi[0],
        gsi1sk=gsi[1],
        personal=("email", "customer_key") if cust else (),
    )


# --- raw events -------------------------------------------------------------------------------


def test_put_new_is_conditional_and_reports_what_it_found():
    store = InMemoryFeedbackStore()
    event = _event()
    assert store.put_new(event, EXPIRES).created is True
    again = store.put_new(_event(at=T0 + timedelta(minutes=5)), EXPIRES)
    assert (again.created, again.processed, again.received_at) == (False, False, T0)
    store.apply(SHOP, [], processed=event, now=T0 + timedelta(seconds=1))
    done = store.put_new(event, EXPIRES)
    assert (done.created, done.processed) == (False, True)
    item = store.dump(SHOP)[event.sort_key]
    assert zlib.decompress(item["body"]) == event.body
    assert item["gsi1pk"] == f"RES#{SHOP}#shopify#order#1"
    assert item["processed_at"] == (T0 + timedelta(seconds=1)).isoformat(timespec="microseconds")
    assert "pending_pk" not in item and "pending_sk" not in item
    assert item["ttl"] == int(EXPIRES.timestamp())
    assert store.get_event(SHOP, event.sort_key) == event


def test_forget_and_get_event():
    store = InMemoryFeedbackStore()
    event = _event()
    store.put_new(event, EXPIRES)
    store.forget(event)
    assert store.get_event(SHOP, event.sort_key) is None
    assert store.put_new(event, EXPIRES).created is True


def test_pending_oldest_first_limited_and_touched():
    store = InMemoryFeedbackStore()
    events = [_event(f"k{i}", at=T0 + timedelta(minutes=i)) for i in range(4)]
    for e in reversed(events):
        store.put_new(e, EXPIRES)
    store.put_new(_event("other", shop="other-shop"), EXPIRES)
    assert [e.dedupe_key for e in store.pending(T0 + timedelta(minutes=2), 10)] == ["k0", "other", "k1"]
    assert [e.dedupe_key for e in store.pending(T0 + timedelta(hours=1), 2)] == ["k0", "other"]
    store.touch_pending(events[0], T0 + timedelta(hours=2))
    store.apply(SHOP, [], processed=events[1], now=T0)
    assert [e.dedupe_key for e in store.pending(T0 + timedelta(hours=1), 10)] == ["other", "k2", "k3"]
    # Touching a processed event does nothing.
    store.touch_pending(events[1], T0)
    assert "pending_sk" not in store.dump(SHOP)[events[1].sort_key]


def test_erased_body_reads_back_as_an_empty_object():
    store = InMemoryFeedbackStore()
    event = _event()
    store.put_new(event, EXPIRES)
    store.erase_personal(SHOP, event.sort_key, ("body",))
    assert store.get_event(SHOP, event.sort_key).body == b"{}"


# --- records ---------------------------------------------------------------------------------------


def test_apply_keeps_the_newest_version_per_group():
    store = InMemoryFeedbackStore()
    r = store.apply(SHOP, [_change("ORDER#s#1", "2025-01-02#a", total="2")], None, T0)
    assert r.applied == ["ORDER#s#1"]
    r = store.apply(SHOP, [_change("ORDER#s#1", "2025-01-01#z", total="1")], None, T0)
    assert (r.applied, r.stale) == ([], ["ORDER#s#1"])
    r = store.apply(SHOP, [_change("ORDER#s#1", "2025-01-02#a", total="2")], None, T0)
    assert r.applied == ["ORDER#s#1"]  # an equal version carries equal values: an identical rewrite
    r = store.apply(SHOP, [_change("ORDER#s#1", "2025-01-01#a", group="dv", deleted_at="x")], None, T0)
    assert r.applied == ["ORDER#s#1"]  # another group has its own version
    (item,) = store.items(SHOP, "ORDER#s#1")
    assert (item["v"], item["dv"], item["total"], item["deleted_at"]) == (
        "2025-01-02#a",
        "2025-01-01#a",
        "2",
        "x",
    )


def test_apply_same_item_twice_in_one_call_goes_in_rounds():
    store = InMemoryFeedbackStore()
    r = store.apply(
        SHOP,
        [_change("ORDER#s#1", "2#a", group="sv", ping="shipped"), _change("ORDER#s#1", "1#a", total="5")],
        None,
        T0,
    )
    assert r.applied == ["ORDER#s#1", "ORDER#s#1"]
    (item,) = store.items(SHOP, "ORDER#s#1")
    assert (item["ping"], item["total"]) == ("shipped", "5")


def test_apply_sets_the_customer_index_and_erase_personal_removes_it():
    store = InMemoryFeedbackStore()
    store.apply(
        SHOP,
        [_change("ORDER#s#1", "1#a", cust="shopify:9", email="a@b.c", customer_key="shopify:9")],
        None,
        T0,
    )
    store.apply(SHOP, [_change("ORDER#s#1#FUL#5", "1#a", kind="fulfilment")], None, T0)
    assert store.orders_of_customer(SHOP, "shopify:9") == ["ORDER#s#1"]
    assert store.orders_of_customer("another-shop", "shopify:9") == []
    store.erase_personal(SHOP, "ORDER#s#1", ("email", "customer_key"))
    (item, _ful) = store.items(SHOP, "ORDER#s#1")
    assert not {"email", "customer_key", "gsi1pk", "gsi1sk"} & set(item)
    assert store.orders_of_customer(SHOP, "shopify:9") == []
    store.erase_personal(SHOP, "ORDER#s#404", ("email",))  # absent: nothing created
    assert store.items(SHOP, "ORDER#s#404") == []


def test_tombstone_stops_the_whole_apply():
    store = InMemoryFeedbackStore()
    event = _event()
    store.put_new(event, EXPIRES)
    store.put_tombstones(SHOP, ["shopify:9"], T0)
    assert store.is_redacted(SHOP, ["email:x", "shopify:9"])
    assert not store.is_redacted(SHOP, ["email:x"])
    assert not store.is_redacted("other-shop", ["shopify:9"])
    changes = [
        _change("ORDER#s#1#FUL#1", "1#a", kind="fulfilment"),
        _change("CUSTOMER#shopify:9", "1#a", cust="shopify:9"),
    ]
    r = store.apply(SHOP, changes, processed=event, now=T0)
    assert r.redacted and r.applied == [] and r.stale == []
    assert store.items(SHOP, "ORDER#s#1") == [] and store.items(SHOP, "CUSTOMER#shopify:9") == []
    assert "pending_pk" in store.dump(SHOP)[event.sort_key]  # not marked processed either


def test_processed_mark_never_recreates_a_vanished_event():
    store = InMemoryFeedbackStore()
    event = _event()
    r = store.apply(SHOP, [_change("ORDER#s#1", "1#a", total="1")], processed=event, now=T0)
    assert r.applied == ["ORDER#s#1"]
    assert event.sort_key not in store.dump(SHOP)


def test_items_match_exact_key_or_key_and_hash():
    store = InMemoryFeedbackStore()
    for sk in ("ORDER#s#1", "ORDER#s#1#FUL#1", "ORDER#s#10", "ORDER#s#1#FUL#2"):
        store.apply(SHOP, [_change(sk, "1#a")], None, T0)
    assert [i["sk"] for i in store.items(SHOP, "ORDER#s#1")] == [
        "ORDER#s#1",
        "ORDER#s#1#FUL#1",
        "ORDER#s#1#FUL#2",
    ]
    assert [i["sk"] for i in store.items(SHOP, "ORDER#s#10")] == ["ORDER#s#10"]
    assert len(store.items(SHOP, "ORDER")) == 4
    assert store.items("other-shop", "ORDER") == []
    store.items(SHOP, "ORDER#s#1")[0]["total"] = "mutated"
    assert "total" not in store.items(SHOP, "ORDER#s#1")[0]  # copies, not the stored items


def test_raw_events_of_a_resource_and_delete():
    store = InMemoryFeedbackStore()
    a, b, c = _event("a"), _event("b", at=T0 + timedelta(seconds=1)), _event("c", resource="order#2")
    for e in (a, b, c):
        store.put_new(e, EXPIRES)
    assert store.raw_events_of(SHOP, Platform.SHOPIFY, "order#1") == [a.sort_key, b.sort_key]
    store.delete(SHOP, [a.sort_key, a.sort_key, "NOPE#1"])
    assert store.raw_events_of(SHOP, Platform.SHOPIFY, "order#1") == [b.sort_key]
    assert store.raw_events_of(SHOP, Platform.SHOPIFY, "order#2") == [c.sort_key]


def test_put_export_and_erase_shop():
    store = InMemoryFeedbackStore()
    store.put_export(SHOP, "r1", {"shop_id": SHOP, "at": T0}, EXPIRES)
    (item,) = store.items(SHOP, "EXPORT#r1")
    assert json.loads(item["document"]) == {"shop_id": SHOP, "at": str(T0)}
    assert item["ttl"] == int(EXPIRES.timestamp())
    store.put_new(_event(), EXPIRES)
    store.put_new(_event(shop="other-shop"), EXPIRES)
    assert store.erase_shop(SHOP) == 2
    assert list(store.dump(SHOP)) == ["TOMBSTONE#SHOP"]  # only the mark that it was erased
    assert store.erase_shop(SHOP) == 0
    assert len(store.dump("other-shop")) == 1


def test_floats_are_refused_like_dynamodb():
    store = InMemoryFeedbackStore()
    with pytest.raises(TypeError, match="Float"):
        store.apply(SHOP, [_change("ORDER#s#1", "1#a", total=1.5)], None, T0)
    assert store.items(SHOP, "ORDER") == []


# --- the other fakes ---------------------------------------------------------------------------------


def test_secrets_cache_and_fresh_reads():
    secrets = InMemorySecrets()
    one = ShopSecrets(platforms={Platform.SHOPIFY: PlatformSecret(current="secret-one")})
    two = ShopSecrets(platforms={Platform.SHOPIFY: PlatformSecret(current="secret-two")})
    assert secrets.get("s") is None
    secrets.put("s", one)
    assert secrets.get("s") == one
    secrets.rotate_elsewhere("s", two)
    assert secrets.get("s") == one  # cached
    assert secrets.get("s", fresh=True) == two
    assert secrets.get("s") == two
    assert secrets.fresh_reads == 1
    secrets.delete("s")
    assert secrets.get("s") is None


def test_shops_queue_publisher_details():
    shops = InMemoryShops()
    shops.put(Shop(shop_id="b-shop", name="B", platforms=(Platform.SHOPIFY,)))
    shops.put(Shop(shop_id="a-shop", name="A", platforms=(Platform.SHOPIFY,)))
    assert [s.shop_id for s in shops.list()] == ["a-shop", "b-shop"]
    shops.delete("a-shop")
    assert shops.get("a-shop") is None

    queue = ListQueue()
    message = QueuedEvent.of(_event())
    queue.fail_next()
    with pytest.raises(QueueDown):
        queue.send(message)
    queue.send(message)
    assert queue.messages == [message] and queue.attempts == 2

    publisher = ListPublisher()
    publisher.publish("CustomerErased", SHOP, {"k": 1}, "c")
    assert publisher.names() == ["CustomerErased"]
    assert publisher.of("CustomerErased")[0].data == {"k": 1}
    with pytest.raises(ValueError):
        publisher.publish("Bad", SHOP, {"k": object()}, "c")

    details = FakeDetails()
    details.add(SHOP, {"id": 5}, [{"id": 1}])
    assert details.order(SHOP, "5") == {"id": 5}
    assert details.order(SHOP, "6") is None
    assert details.shipments(SHOP, "5") == [{"id": 1}]
