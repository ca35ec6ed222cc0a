"""Parsing verified webhooks (the ../shared sample payloads): topic, resource, event identity, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.domain.webhooks.parsing import (
    PARSERS,
    TOPICS,
    is_woocommerce_ping,
    parse_bigcommerce,
    parse_shopify,
    parse_woocommerce,
    topic_of,
)
from shared.errors import BadRequest
from shared.tenancy import Platform

pytestmark = pytest.mark.unit

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _shopify_headers(topic: str, event_id: str = "evt-1", **extra: str) -> dict[str, str]:
    return {
        "x-shopify-topic": topic,
        "x-shopify-event-id": event_id,
        "x-shopify-shop-domain": "demo.myshopify.com",
        **extra,
    }


def _woo_headers(topic: str, source: str = "https://woo.example/") -> dict[str, str]:
    return {"x-wc-webhook-topic": topic, "x-wc-webhook-source": source, "x-wc-webhook-signature": "sig"}


# --- Shopify ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "wrapper", "topic", "resource"),
    [
        ("shopify_order.json", "order", "orders/create", "order#450789469"),
        ("shopify_order.json", "order", "orders/updated", "order#450789469"),
        ("shopify_fulfillment.json", "fulfillment", "fulfillments/update", "order#450789469"),
        (
            "shopify_fulfillment_event.json",
            "fulfillment_event",
            "fulfillment_events/create",
            "order#2776493818019",
        ),
    ],
)
def test_shopify_fixtures_parse(load_fixture, file, wrapper, topic, resource):
    body = json.dumps(load_fixture(file)[wrapper]).encode()
    headers = {**_shopify_headers(topic), "x-shopify-triggered-at": "2025-03-01T10:59:00-01:00"}
    assert topic_of(Platform.SHOPIFY, headers, body) == topic
    assert topic in TOPICS[Platform.SHOPIFY]
    event = parse_shopify(topic, headers, body, RECEIVED)
    assert event.platform is Platform.SHOPIFY
    assert event.topic == topic
    assert event.resource == resource
    assert event.source == "demo.myshopify.com"
    assert event.triggered_at == datetime(2025, 3, 1, 11, 59, tzinfo=UTC)
    assert event.payload == json.loads(body)
    assert not event.is_compliance


def test_shopify_triggered_at_falls_back_to_receipt_time(load_fixture):
    body = json.dumps(load_fixture("shopify_order.json")["order"]).encode()
    event = parse_shopify("orders/create", _shopify_headers("orders/create"), body, RECEIVED)
    assert event.triggered_at == RECEIVED


@pytest.mark.parametrize(
    ("topic", "resource"),
    [
        ("customers/data_request", "customer#191167"),
        ("customers/redact", "customer#191167"),
        ("shop/redact", "shop"),
    ],
)
def test_shopify_compliance_fixtures_parse(load_fixture, topic, resource):
    body = json.dumps(load_fixture("shopify_compliance_payloads.json")[topic]).encode()
    event = PARSERS[Platform.SHOPIFY](topic, _shopify_headers(topic), body, RECEIVED)
    assert event.resource == resource
    assert event.is_compliance
    assert topic in TOPICS[Platform.SHOPIFY]


def test_shopify_dedupe_key_is_the_event_identity(load_fixture):
    body = json.dumps(load_fixture("shopify_order.json")["order"]).encode()

    def key(**headers: str) -> str:
        return parse_shopify(
            "orders/create", {"x-shopify-topic": "orders/create", **headers}, body, RECEIVED
        ).dedupe_key

    first = key(**{"x-shopify-event-id": "evt-1", "x-shopify-webhook-id": "delivery-1"})
    # A retry of the same action: new delivery id, same event id, later receipt → same key.
    assert first == key(**{"x-shopify-event-id": "evt-1", "x-shopify-webhook-id": "delivery-2"})
    assert (
        first
        == parse_shopify(
            "orders/create", {"x-shopify-event-id": "evt-1"}, body, RECEIVED + timedelta(hours=1)
        ).dedupe_key
    )
    assert first != key(**{"x-shopify-event-id": "evt-2", "x-shopify-webhook-id": "delivery-1"})
    # Older API versions: the webhook id is the identity.
    assert key(**{"x-shopify-webhook-id": "delivery-1"}) == key(**{"x-shopify-webhook-id": "delivery-1"})
    assert key(**{"x-shopify-webhook-id": "delivery-1"}) != key(**{"x-shopify-webhook-id": "delivery-2"})
    assert len({first, key(**{"x-shopify-event-id": "evt-3"})}) == 2


def test_shopify_missing_event_id_header_is_a_bad_request(load_fixture):
    body = json.dumps(load_fixture("shopify_order.json")["order"]).encode()
    with pytest.raises(BadRequest, match="x-shopify-event-id") as caught:
        parse_shopify("orders/create", {"x-shopify-topic": "orders/create"}, body, RECEIVED)
    assert caught.value.status == 400


def test_shopify_missing_topic_header_is_a_bad_request():
    with pytest.raises(BadRequest, match="x-shopify-topic"):
        topic_of(Platform.SHOPIFY, {}, b"{}")


def test_shopify_order_without_id_is_a_bad_request():
    with pytest.raises(BadRequest, match="'id'"):
        parse_shopify("orders/create", _shopify_headers("orders/create"), b'{"email": "a@b.c"}', RECEIVED)


def test_shopify_fulfillment_without_order_id_is_a_bad_request():
    with pytest.raises(BadRequest, match="order_id"):
        parse_shopify("fulfillments/update", _shopify_headers("fulfillments/update"), b'{"id": 1}', RECEIVED)


def test_shopify_bad_triggered_at_is_a_bad_request(load_fixture):
    body = json.dumps(load_fixture("shopify_order.json")["order"]).encode()
    headers = {**_shopify_headers("orders/create"), "x-shopify-triggered-at": "last tuesday"}
    with pytest.raises(BadRequest, match="x-shopify-triggered-at"):
        parse_shopify("orders/create", headers, body, RECEIVED)


# --- WooCommerce --------------------------------------------------------------------------------


def test_woocommerce_fixture_parses(load_fixture):
    order = load_fixture("woocommerce_order.json")
    body = json.dumps(order).encode()
    headers = _woo_headers("order.updated")
    assert topic_of(Platform.WOOCOMMERCE, headers, body) == "order.updated"
    event = parse_woocommerce("order.updated", headers, body, RECEIVED)
    assert event.platform is Platform.WOOCOMMERCE
    assert event.resource == "order#727"
    assert event.source == "https://woo.example/"
    # date_modified_gmt "2017-03-22T19:28:08" has no offset: it is UTC.
    assert event.triggered_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert event.payload["id"] == 727


def test_woocommerce_dedupe_key_is_store_resource_modification_and_topic(load_fixture):
    order = load_fixture("woocommerce_order.json")

    def key(payload=order, topic="order.updated", source="https://woo.example/", received=RECEIVED) -> str:
        return parse_woocommerce(
            topic, _woo_headers(topic, source), json.dumps(payload).encode(), received
        ).dedupe_key

    base = key()
    # Redelivery (any receipt time, any other field changed in the body) → same key.
    assert key(received=RECEIVED + timedelta(minutes=30)) == base
    assert key(payload={**order, "status": "completed"}) == base
    # Any part of the identity different → a different key.
    assert key(payload={**order, "id": 728}) != base
    assert key(payload={**order, "date_modified_gmt": "2017-03-22T19:28:09"}) != base
    assert key(topic="order.created") != base
    assert key(source="https://other-woo.example/") != base
    assert len({key(), key(topic="order.created"), key(payload={**order, "id": 728})}) == 3


def test_woocommerce_order_without_date_modified_is_a_bad_request(load_fixture):
    order = load_fixture("woocommerce_order.json")
    del order["date_modified_gmt"]
    with pytest.raises(BadRequest, match="date_modified_gmt") as caught:
        parse_woocommerce(
            "order.updated", _woo_headers("order.updated"), json.dumps(order).encode(), RECEIVED
        )
    assert "missing" in caught.value.message


def test_woocommerce_deletion_needs_only_the_id_and_each_delivery_is_an_event():
    body = b'{"id": 727}'
    first = parse_woocommerce("order.deleted", _woo_headers("order.deleted"), body, RECEIVED)
    again = parse_woocommerce(
        "order.deleted", _woo_headers("order.deleted"), body, RECEIVED + timedelta(minutes=1)
    )
    assert first.resource == "order#727"
    assert first.triggered_at == RECEIVED
    # An order can be deleted, restored and deleted again: a deletion is identified by its delivery.
    assert first.dedupe_key != again.dedupe_key


def test_woocommerce_missing_topic_header_is_a_bad_request():
    with pytest.raises(BadRequest, match="x-wc-webhook-topic"):
        topic_of(Platform.WOOCOMMERCE, {"x-wc-webhook-signature": "x"}, b"{}")


# --- BigCommerce --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "topic", "resource", "created"),
    [
        ("bigcommerce_store_order_created.json", "store/order/created", "order#250", 1561479335),
        ("bigcommerce_store_order_statusUpdated.json", "store/order/statusUpdated", "order#250", 1561479335),
        ("bigcommerce_store_shipment_created.json", "store/shipment/created", "order#251", 1561482857),
    ],
)
def test_bigcommerce_fixtures_parse(fixture_bytes, file, topic, resource, created):
    body = fixture_bytes(file)
    assert topic_of(Platform.BIGCOMMERCE, {}, body) == topic
    assert topic in TOPICS[Platform.BIGCOMMERCE]
    event = parse_bigcommerce(topic, {}, body, RECEIVED)
    assert event.resource == resource
    assert event.source == "1025646"
    assert event.triggered_at == datetime.fromtimestamp(created, tz=UTC)


def test_bigcommerce_dedupe_key_is_store_scope_hash_and_time(fixture_bytes):
    files = [
        "bigcommerce_store_order_created.json",
        "bigcommerce_store_order_statusUpdated.json",
        "bigcommerce_store_shipment_created.json",
    ]
    keys = []
    for file in files:
        body = fixture_bytes(file)
        keys.append(
            parse_bigcommerce(topic_of(Platform.BIGCOMMERCE, {}, body), {}, body, RECEIVED).dedupe_key
        )
    assert len(set(keys)) == 3
    payload = json.loads(fixture_bytes(files[0]))
    again = parse_bigcommerce(
        "store/order/created", {}, json.dumps(payload).encode(), RECEIVED + timedelta(hours=1)
    )
    assert again.dedupe_key == keys[0]
    other_store = json.dumps({**payload, "store_id": "999"}).encode()
    assert parse_bigcommerce("store/order/created", {}, other_store, RECEIVED).dedupe_key != keys[0]


def test_bigcommerce_later_events_of_an_order_are_not_duplicates(fixture_bytes):
    """BigCommerce's hash covers ``data`` only: every event of order 250 carries the same one."""
    created = json.loads(fixture_bytes("bigcommerce_store_order_created.json"))
    updated = {**created, "scope": "store/order/updated", "created_at": created["created_at"] + 60}
    again = {**updated, "created_at": updated["created_at"] + 3600}

    def key(payload: dict) -> str:
        return parse_bigcommerce(payload["scope"], {}, json.dumps(payload).encode(), RECEIVED).dedupe_key

    assert len({key(created), key(updated), key(again)}) == 3
    assert key(dict(updated)) == key(updated)  # a retry is the same body


def test_bigcommerce_missing_hash_is_a_bad_request(fixture_bytes):
    payload = json.loads(fixture_bytes("bigcommerce_store_order_created.json"))
    del payload["hash"]
    with pytest.raises(BadRequest, match="'hash' is missing"):
        parse_bigcommerce("store/order/created", {}, json.dumps(payload).encode(), RECEIVED)


def test_bigcommerce_missing_scope_is_a_bad_request():
    with pytest.raises(BadRequest, match="scope"):
        topic_of(Platform.BIGCOMMERCE, {}, b'{"store_id": "1"}')


def test_bigcommerce_shipment_without_order_id_is_a_bad_request(fixture_bytes):
    payload = json.loads(fixture_bytes("bigcommerce_store_shipment_created.json"))
    del payload["data"]["orderId"]
    with pytest.raises(BadRequest, match="orderId"):
        parse_bigcommerce("store/shipment/created", {}, json.dumps(payload).encode(), RECEIVED)


# --- Bodies every parser refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "topic", "headers"),
    [
        (Platform.SHOPIFY, "orders/create", _shopify_headers("orders/create")),
        (Platform.WOOCOMMERCE, "order.updated", _woo_headers("order.updated")),
        (Platform.BIGCOMMERCE, "store/order/created", {}),
    ],
)
def test_invalid_json_and_non_objects_are_bad_requests(platform, topic, headers):
    parse = PARSERS[platform]
    with pytest.raises(BadRequest, match="not valid JSON") as caught:
        parse(topic, headers, b'{"id": 1,', RECEIVED)
    assert "line 1" in caught.value.message
    with pytest.raises(BadRequest, match="JSON object, got list"):
        parse(topic, headers, b'[{"id": 1}]', RECEIVED)
    with pytest.raises(BadRequest, match="JSON object"):
        parse(topic, headers, b'"just a string"', RECEIVED)
    with pytest.raises(BadRequest, match=r"not UTF-8|not valid JSON"):
        parse(topic, headers, b"\xff\xfe\x00{", RECEIVED)


def test_bigcommerce_topic_of_refuses_invalid_json():
    with pytest.raises(BadRequest, match="not valid JSON"):
        topic_of(Platform.BIGCOMMERCE, {}, b"scope=store/order/created")


# --- WooCommerce's unsigned ping -------------------------------------------------------------------


def test_woocommerce_ping_detection():
    assert is_woocommerce_ping({}, b"webhook_id=12") is True
    assert is_woocommerce_ping({}, b"webhook_id=12\n") is True
    assert is_woocommerce_ping({"x-wc-webhook-signature": "abc"}, b"webhook_id=12") is False
    assert is_woocommerce_ping({}, b'{"webhook_id": 12}') is False
    assert is_woocommerce_ping({}, b"webhook_id=") is False
    assert is_woocommerce_ping({}, b"webhook_id=abc") is False
    assert is_woocommerce_ping({}, b"other=12") is False
    assert is_woocommerce_ping({}, b"") is False


def test_shopify_triggered_at_with_nanoseconds(load_fixture):
    """Shopify sends X-Shopify-Triggered-At with nine fractional digits."""
    body = json.dumps(load_fixture("shopify_order.json")["order"]).encode()
    headers = {
        **_shopify_headers("orders/create"),
        "x-shopify-triggered-at": "2023-03-29T18:00:27.877041743Z",
    }
    event = parse_shopify("orders/create", headers, body, RECEIVED)
    assert event.triggered_at == datetime(2023, 3, 29, 18, 0, 27, 877041, tzinfo=UTC)


def test_depth_is_measured_without_recursion():
    from shared import json_bodies

    assert json_bodies.depth_of(1) == 0
    assert json_bodies.depth_of({"a": [1, {"b": []}]}) == 4
    with pytest.raises(json_bodies.TooDeep):
        json_bodies.loads("[" * 65 + "]" * 65)
    assert json_bodies.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(json_bodies.TooDeep):
        json_bodies.loads("[" * 100_000 + "]" * 100_000)  # past the interpreter's own limit
