"""The intake use case against the fakes: verify, store raw once, queue once, acknowledge."""

from __future__ import annotations

import json
import os
import zlib
from datetime import timedelta

import pytest

from services.feedback.domain.orders.records import order_from_items
from services.feedback.domain.recovery import requeue_pending
from services.feedback.domain.webhooks.intake import (
    MAX_COMPRESSED_BYTES,
    IntakePolicy,
    Outcome,
    WebhookRequest,
    accept_webhook,
)
from shared.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from shared.tenancy import Platform, PlatformSecret, ShopSecrets
from tests.unit.support import T0, World, body_of, shopify_headers, standard_headers, woo_headers

pytestmark = pytest.mark.unit

SHOP = "demo-shop"
SECRET = "shopify-secret-1"
WOO_SECRET = "woo-secret-0001"
BC_SECRET = "bc-client-secret"
DOMAIN = "demo.myshopify.com"

ORDER = {
    "id": 450789469,
    "email": "bob@example.com",
    "updated_at": "2025-03-01T11:00:00+00:00",
    "created_at": "2025-03-01T10:00:00+00:00",
    "total_price": "10.00",
    "customer": {"id": 207119551, "first_name": "Bob", "updated_at": "2025-03-01T10:00:00+00:00"},
}


@pytest.fixture
def w() -> World:
    world = World()
    world.add_shop(
        SHOP,
        {Platform.SHOPIFY: SECRET, Platform.WOOCOMMERCE: WOO_SECRET, Platform.BIGCOMMERCE: BC_SECRET},
        domain=DOMAIN,
    )
    return world


def _shopify(topic="orders/create", payload=None, *, secret=SECRET, event_id="evt-1", domain=DOMAIN):
    body = body_of(ORDER if payload is None else payload)
    return shopify_headers(secret, topic, body, domain=domain, event_id=event_id), body


def _raw_events(world: World, shop: str = SHOP) -> dict:
    return {sk: i for sk, i in world.store.dump(shop).items() if i.get("kind") == "event"}


def test_accepted_is_stored_once_and_queued_once(w):
    headers, body = _shopify()
    result = w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert result.outcome is Outcome.ACCEPTED
    assert result.topic == "orders/create"
    raw = _raw_events(w)
    assert list(raw) == [f"EVENT#shopify#{result.dedupe_key}"]
    item = raw[f"EVENT#shopify#{result.dedupe_key}"]
    assert zlib.decompress(item["body"]) == body
    assert item["resource"] == "order#450789469"
    assert item["pending_pk"] == "PENDING"
    assert item["ttl"] == int((T0 + timedelta(days=30)).timestamp())
    assert len(w.queue.messages) == 1
    message = w.queue.messages[0]
    assert message.stored().body == body
    assert (message.shop_id, message.topic, message.dedupe_key) == (SHOP, "orders/create", result.dedupe_key)
    assert message.correlation_id and message.correlation_id == item["correlation_id"]  # the request's id
    # Only verified, parsed events reach the records: nothing normalised yet.
    assert w.store.records(SHOP) == {}


def test_duplicate_is_acknowledged_and_not_queued_again(w):
    headers, body = _shopify()
    first = w.post(Platform.SHOPIFY, SHOP, headers, body)
    # Shopify's retry: a new delivery id, the same event id, a few seconds later.
    retry_headers, _ = _shopify()
    again = w.post(Platform.SHOPIFY, SHOP, retry_headers, body, received_at=T0 + timedelta(seconds=30))
    assert again.outcome is Outcome.DUPLICATE
    assert again.dedupe_key == first.dedupe_key
    assert len(w.queue.messages) == 1
    assert len(_raw_events(w)) == 1


def test_duplicate_of_a_processed_event_is_not_requeued_however_late(w):
    headers, body = _shopify()
    w.post(Platform.SHOPIFY, SHOP, headers, body)
    w.consume()
    assert _raw_events(w) and all("pending_pk" not in i for i in _raw_events(w).values())
    again = w.post(Platform.SHOPIFY, SHOP, headers, body, received_at=T0 + timedelta(hours=3))
    assert again.outcome is Outcome.DUPLICATE
    assert w.queue.messages == []


def test_unknown_shop_is_not_found(w):
    headers, body = _shopify()
    with pytest.raises(NotFound) as caught:
        w.post(Platform.SHOPIFY, "no-such-shop", headers, body)
    assert caught.value.status == 404
    assert w.store.shops() == []
    assert w.queue.attempts == 0


def test_unknown_platform_is_not_found(w):
    headers, body = _shopify()
    with pytest.raises(NotFound):
        w.post("magento", SHOP, headers, body)


def test_shop_not_connected_to_that_platform_is_not_found():
    world = World()
    world.add_shop("woo-only", {Platform.WOOCOMMERCE: WOO_SECRET})
    # Even a correctly signed Shopify webhook (same secret string) gets nowhere.
    headers, body = _shopify(secret=WOO_SECRET, domain="")
    with pytest.raises(NotFound, match="shopify"):
        world.post(Platform.SHOPIFY, "woo-only", headers, body)
    assert world.store.shops() == []
    assert world.secrets.reads == 0  # refused before any secret was read


def test_oversized_body_is_refused_before_the_signature_is_checked(w):
    w.policy = IntakePolicy(max_body_bytes=1000)
    body = body_of({**ORDER, "note": "x" * 2000})
    headers = {
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": "garbage",
        "x-shopify-event-id": "e",
    }
    with pytest.raises(PayloadTooLarge) as caught:
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert caught.value.status == 413
    assert w.secrets.reads == 0
    assert w.secrets.fresh_reads == 0
    assert w.store.shops() == []


def test_body_at_the_limit_is_accepted(w):
    headers, body = _shopify()
    w.policy = IntakePolicy(max_body_bytes=len(body))
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED


def test_incompressible_body_beyond_the_queue_limit_is_refused(w):
    w.policy = IntakePolicy(max_body_bytes=2 * 1024 * 1024)
    payload = {**ORDER, "note": os.urandom(MAX_COMPRESSED_BYTES).hex()}
    headers, body = _shopify(payload=payload)
    with pytest.raises(PayloadTooLarge, match="compresses"):
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert w.store.shops() == []
    assert w.queue.messages == []


def test_woocommerce_ping_is_acknowledged_and_nothing_stored(w):
    result = w.post(
        Platform.WOOCOMMERCE, SHOP, {"content-type": "application/x-www-form-urlencoded"}, b"webhook_id=12"
    )
    assert result.outcome is Outcome.PING
    assert w.store.shops() == []
    assert w.queue.attempts == 0
    assert w.secrets.reads == 0


def test_signed_form_body_is_not_a_ping(w):
    body = b"webhook_id=12"
    headers = woo_headers(WOO_SECRET, "order.updated", body)
    with pytest.raises(BadRequest, match="not valid JSON"):
        w.post(Platform.WOOCOMMERCE, SHOP, headers, body)


@pytest.mark.parametrize("signature", ["", "AAAA", "bm90IGEgc2lnbmF0dXJl"])
def test_bad_signature_is_unauthorized_and_nothing_is_stored_or_queued(w, signature):
    headers, body = _shopify()
    headers["x-shopify-hmac-sha256"] = signature
    with pytest.raises(Unauthorized) as caught:
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert caught.value.status == 401
    assert w.store.shops() == []
    assert w.queue.attempts == 0
    assert w.secrets.fresh_reads == 1  # one fresh look for a rotated secret, then refused


def test_signature_of_another_body_is_unauthorized(w):
    headers, _ = _shopify()
    _, other_body = _shopify(payload={**ORDER, "total_price": "0.01"})
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, SHOP, headers, other_body)
    assert w.store.shops() == []


def test_shop_without_secrets_is_unauthorized(w):
    w.secrets.delete(SHOP)
    headers, body = _shopify()
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert w.store.shops() == []


def test_unknown_topic_is_ignored_and_nothing_stored(w):
    headers, body = _shopify(topic="products/update", payload={"id": 1})
    result = w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert result.outcome is Outcome.IGNORED
    assert result.topic == "products/update"
    assert w.store.shops() == []
    assert w.queue.attempts == 0


def test_unknown_topic_with_a_bad_signature_is_still_unauthorized(w):
    headers, body = _shopify(topic="products/update", payload={"id": 1}, secret="wrong-secret")
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, SHOP, headers, body)


@pytest.mark.parametrize("platform", [Platform.SHOPIFY, Platform.WOOCOMMERCE, Platform.BIGCOMMERCE])
def test_malformed_json_with_a_valid_signature_is_a_bad_request(w, platform):
    body = b'{"id": 450789469, "email": '
    if platform is Platform.SHOPIFY:
        headers = shopify_headers(SECRET, "orders/create", body, domain=DOMAIN)
    elif platform is Platform.WOOCOMMERCE:
        headers = woo_headers(WOO_SECRET, "order.updated", body)
    else:
        headers = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()))
    with pytest.raises(BadRequest, match="not valid JSON") as caught:
        w.post(platform, SHOP, headers, body)
    assert caught.value.status == 400
    assert w.store.shops() == []
    assert w.queue.attempts == 0


def test_malformed_json_with_a_bad_signature_is_unauthorized_first(w):
    body = b'{"id": '
    headers = shopify_headers("not-the-secret", "orders/create", body)
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, SHOP, headers, body)


def test_queue_failure_keeps_the_event_pending_for_the_sweeper(w):
    """WooCommerce never retries: an event stored but not queued must not be undone (and lost)."""
    headers, body = _shopify()
    w.queue.fail_next()
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.DEFERRED
    (item,) = _raw_events(w).values()
    assert item["pending_pk"] == "PENDING"
    assert w.queue.messages == []
    # A retry of the platform in the meantime is a plain duplicate...
    retry = w.post(Platform.SHOPIFY, SHOP, headers, body, received_at=T0 + timedelta(seconds=10))
    assert retry.outcome is Outcome.DUPLICATE
    # ...and the sweeper queues the stored event once it is overdue.
    later = T0 + w.policy.requeue_after + timedelta(seconds=1)
    assert requeue_pending(w.store, w.queue, later, w.policy.requeue_after) == 1
    assert len(w.queue.messages) == 1


def test_duplicate_of_a_stale_pending_event_is_requeued(w):
    headers, body = _shopify()
    w.post(Platform.SHOPIFY, SHOP, headers, body)
    w.queue.messages.clear()  # the message was lost after the store
    # Within requeue_after: still in flight, a plain duplicate.
    soon = T0 + w.policy.requeue_after
    assert w.post(Platform.SHOPIFY, SHOP, headers, body, received_at=soon).outcome is Outcome.DUPLICATE
    assert w.queue.messages == []
    late = T0 + w.policy.requeue_after + timedelta(seconds=1)
    result = w.post(Platform.SHOPIFY, SHOP, headers, body, received_at=late)
    assert result.outcome is Outcome.REQUEUED
    assert len(w.queue.messages) == 1
    assert w.queue.messages[0].dedupe_key == result.dedupe_key
    assert len(_raw_events(w)) == 1
    # Once processed, nothing is requeued any more.
    w.consume()
    assert w.post(Platform.SHOPIFY, SHOP, headers, body, received_at=late + timedelta(hours=1)).outcome is (
        Outcome.DUPLICATE
    )
    assert w.queue.messages == []


def test_sweeper_requeues_events_stored_but_never_queued(w):
    headers, body = _shopify()
    w.post(Platform.SHOPIFY, SHOP, headers, body)
    w.queue.messages.clear()
    assert requeue_pending(w.store, w.queue, T0 + timedelta(seconds=30), timedelta(minutes=2)) == 0
    assert requeue_pending(w.store, w.queue, T0 + timedelta(minutes=3), timedelta(minutes=2)) == 1
    assert [m.stored().body for m in w.queue.messages] == [body]
    # Touched: the next sweep waits another interval before trying again.
    assert requeue_pending(w.store, w.queue, T0 + timedelta(minutes=4), timedelta(minutes=2)) == 0
    w.consume()
    assert requeue_pending(w.store, w.queue, T0 + timedelta(days=1), timedelta(minutes=2)) == 0


def test_rotated_secret_missing_from_the_cache_is_accepted_via_a_fresh_read(w):
    # Warm this container's cache with the old secret.
    headers, body = _shopify(event_id="evt-old")
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED
    assert w.secrets.fresh_reads == 0
    # Rotated elsewhere (another container, the CLI): the cache still holds the old one.
    w.secrets.rotate_elsewhere(
        SHOP, ShopSecrets(platforms={Platform.SHOPIFY: PlatformSecret(current="shopify-secret-2")})
    )
    headers, body = _shopify(event_id="evt-new", secret="shopify-secret-2")
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED
    assert w.secrets.fresh_reads == 1
    # The cache is now fresh: the next webhook needs no further read.
    headers, body = _shopify(event_id="evt-next", secret="shopify-secret-2")
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED
    assert w.secrets.fresh_reads == 1
    assert len(w.queue.messages) == 3


def test_source_header_of_another_shop_is_unauthorized(w):
    headers, body = _shopify(domain="someone-else.myshopify.com")
    with pytest.raises(Unauthorized, match="someone-else"):
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert w.store.shops() == []
    assert w.queue.attempts == 0


@pytest.mark.parametrize(
    "given", ["DEMO.myshopify.com", "https://demo.myshopify.com/", " demo.myshopify.com "]
)
def test_source_header_is_compared_loosely(w, given):
    headers, body = _shopify(domain=given)
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED


def test_woocommerce_source_of_another_site_is_unauthorized():
    world = World()
    world.add_shop("woo-shop", {Platform.WOOCOMMERCE: WOO_SECRET}, domain="https://woo.example")
    body = body_of({"id": 727, "date_modified_gmt": "2025-03-01T11:00:00"})
    ok = woo_headers(WOO_SECRET, "order.updated", body, source="https://woo.example/")
    assert world.post(Platform.WOOCOMMERCE, "woo-shop", ok, body).outcome is Outcome.ACCEPTED
    bad = woo_headers(WOO_SECRET, "order.created", body, source="https://evil.example/")
    with pytest.raises(Unauthorized):
        world.post(Platform.WOOCOMMERCE, "woo-shop", bad, body)
    assert len(world.queue.messages) == 1


def test_bigcommerce_accepted_with_a_fresh_timestamp_and_refused_when_stale():
    world = World()
    world.add_shop("bc-shop", {Platform.BIGCOMMERCE: BC_SECRET}, domain="1025646")
    body = body_of(
        {
            "scope": "store/order/created",
            "store_id": "1025646",
            "data": {"id": 250},
            "hash": "abc",
            "created_at": int(T0.timestamp()),
        }
    )
    fresh = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()) - 299)
    assert world.post(Platform.BIGCOMMERCE, "bc-shop", fresh, body).outcome is Outcome.ACCEPTED
    stale = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()) - 301)
    with pytest.raises(Unauthorized, match="webhook-timestamp"):
        world.post(Platform.BIGCOMMERCE, "bc-shop", stale, body)
    future = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()) + 301)
    with pytest.raises(Unauthorized):
        world.post(Platform.BIGCOMMERCE, "bc-shop", future, body)
    assert len(world.queue.messages) == 1
    assert world.secrets.fresh_reads == 0  # a stale timestamp is refused without a fresh secret read


def test_bigcommerce_from_another_store_is_unauthorized():
    world = World()
    world.add_shop("bc-shop", {Platform.BIGCOMMERCE: BC_SECRET}, domain="1025646")
    body = body_of({"scope": "store/order/created", "store_id": "999", "data": {"id": 250}, "hash": "abc"})
    headers = standard_headers(BC_SECRET.encode(), body, int(T0.timestamp()))
    with pytest.raises(Unauthorized):
        world.post(Platform.BIGCOMMERCE, "bc-shop", headers, body)
    assert world.store.shops() == []


def test_multi_platform_shop_with_a_domain_accepts_each_platforms_webhooks(w):
    # w: one shop on Shopify, WooCommerce and BigCommerce, domain = its myshopify domain (cxloop shop add
    # accepts several --platform and one --domain).
    headers, body = _shopify()
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED
    woo_body = body_of({"id": 727, "date_modified_gmt": "2025-03-01T11:00:00"})
    woo = woo_headers(WOO_SECRET, "order.updated", woo_body, source="https://woo.example/")
    assert w.post(Platform.WOOCOMMERCE, SHOP, woo, woo_body).outcome is Outcome.ACCEPTED


def test_tenant_isolation_one_shops_secret_cannot_post_to_another(w):
    w.add_shop("other-shop", {Platform.SHOPIFY: "other-shop-secret"})
    # Signed with demo-shop's secret, sent to other-shop's URL.
    headers, body = _shopify(domain="")
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, "other-shop", headers, body)
    assert w.store.dump("other-shop") == {}
    assert w.store.shops() == []
    # And the other way round.
    headers, body = _shopify(secret="other-shop-secret", domain="")
    with pytest.raises(Unauthorized):
        w.post(Platform.SHOPIFY, SHOP, headers, body)
    assert w.store.shops() == []
    assert w.queue.attempts == 0


def test_same_event_in_two_shops_is_stored_in_each(w):
    w.add_shop("other-shop", {Platform.SHOPIFY: "other-shop-secret"})
    headers, body = _shopify()
    assert w.post(Platform.SHOPIFY, SHOP, headers, body).outcome is Outcome.ACCEPTED
    headers, body = _shopify(secret="other-shop-secret", domain="")
    assert w.post(Platform.SHOPIFY, "other-shop", headers, body).outcome is Outcome.ACCEPTED
    assert len(_raw_events(w, SHOP)) == 1
    assert len(_raw_events(w, "other-shop")) == 1
    assert sorted(m.shop_id for m in w.queue.messages) == ["demo-shop", "other-shop"]


def test_accepted_event_processes_into_an_order(w):
    headers, body = _shopify()
    w.post(Platform.SHOPIFY, SHOP, headers, body)
    w.consume()
    order = w.store.items(SHOP, "ORDER#shopify#450789469")
    assert [i["sk"] for i in order] == ["ORDER#shopify#450789469"]
    assert order[0]["email"] == "bob@example.com"
    assert json.loads(json.dumps(order[0], default=str))["total"] == "10.00"


def test_woocommerce_delete_restore_delete_ends_deleted():
    world = World()
    world.add_shop("woo-shop", {Platform.WOOCOMMERCE: WOO_SECRET})
    order = {
        "id": 727,
        "customer_id": 0,
        "status": "processing",
        "total": "5.00",
        "date_modified_gmt": "2025-03-01T11:00:00",
        "billing": {"email": "g@example.com"},
    }

    def post(topic: str, payload: dict, at) -> Outcome:
        body = body_of(payload)
        return world.post(
            Platform.WOOCOMMERCE, "woo-shop", woo_headers(WOO_SECRET, topic, body), body, at
        ).outcome

    assert post("order.updated", order, T0) is Outcome.ACCEPTED
    assert post("order.deleted", {"id": 727}, T0 + timedelta(hours=1)) is Outcome.ACCEPTED
    restored = {**order, "date_modified_gmt": "2025-03-01T14:00:00"}  # restored at 14:00 UTC
    assert post("order.restored", restored, T0 + timedelta(hours=2, seconds=1)) is Outcome.ACCEPTED
    world.consume(T0 + timedelta(hours=2, seconds=5))
    assert order_from_items(world.store.items("woo-shop", "ORDER#woocommerce#727")).state == "open"
    # Deleted again, a day later.
    assert post("order.deleted", {"id": 727}, T0 + timedelta(days=1)) is Outcome.ACCEPTED
    world.consume(T0 + timedelta(days=1, seconds=5))
    assert order_from_items(world.store.items("woo-shop", "ORDER#woocommerce#727")).state == "deleted"


def test_the_sdks_retry_of_its_own_write_is_queued_not_taken_for_a_duplicate(w):
    """PutItem committed but its answer was lost; botocore retries, and the retry's condition fails
    on the item this very request wrote. That is the request's own event: it must still be queued."""
    headers, body = _shopify()
    request = WebhookRequest(
        platform="shopify",
        shop_id=SHOP,
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        received_at=T0,
        correlation_id="api-gateway-request-1",
    )
    first = accept_webhook(request, w.intake_deps, w.policy)
    w.queue.messages.clear()  # the first attempt's write stands; what follows is its retry
    again = accept_webhook(request, w.intake_deps, w.policy)
    assert first.outcome is Outcome.ACCEPTED and again.outcome is Outcome.ACCEPTED
    assert len(w.queue.messages) == 1
