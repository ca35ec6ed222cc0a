"""The intake fuzzed over HTTP (issue 15): signed bodies in each platform's order shape (BigCommerce's
thin callback) with wrong types, missing fields, deep nesting, long arrays and odd unicode, posted to
the running local stack. Never a
5xx, never a hang, and never an acknowledged event left unprocessed: each one is applied, or (a
permanent defect) dead-lettered with its reason."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.local.demo import post
from cxloop.signing import webhook_headers
from shared.tenancy import Platform, Shop
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.e2e

SHOPIFY = Shop(
    shop_id="fuzz-shopify",
    name="Fuzz Shopify",
    platforms=(Platform.SHOPIFY,),
    domains={Platform.SHOPIFY: "fuzz.myshopify.com"},
)
WOO = Shop(
    shop_id="fuzz-woo",
    name="Fuzz Woo",
    platforms=(Platform.WOOCOMMERCE,),
    domains={Platform.WOOCOMMERCE: "https://fuzz-woo.example"},
)
BIGCOMMERCE = Shop(
    shop_id="fuzz-bigcommerce",
    name="Fuzz BigCommerce",
    platforms=(Platform.BIGCOMMERCE,),
    domains={Platform.BIGCOMMERCE: "fuzz1001"},
)
SHOPS = {Platform.SHOPIFY: SHOPIFY, Platform.WOOCOMMERCE: WOO, Platform.BIGCOMMERCE: BIGCOMMERCE}
ANSWERS = {200, 400, 401, 404, 413}

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["", "two", "1.5", "tomorrow", "\u202e\u0000", "😀" * 30, "2026-13-45T99:99:99Z"])
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | odd_text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
deep = st.integers(1, 60).map(lambda n: json.loads("[" * n + "]" * n))
# Past what any parser here nests (and past the interpreter's stack): only as raw bytes.
very_deep = st.integers(60, 5000).map(lambda n: b'{"id": ' * n + b"1" + b"}" * n)
long_list = st.integers(0, 3000).map(lambda n: list(range(n)))


def _shopify_order() -> st.SearchStrategy[dict[str, Any]]:
    base = {
        "id": st.integers(1, 10**12) | odd_text | values,
        "updated_at": st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01T10:00:00-05:00"])
        | odd_text
        | values,
        "email": st.emails() | odd_text | values,
        "line_items": st.lists(
            st.fixed_dictionaries({"quantity": values, "title": odd_text, "product_id": values}), max_size=5
        )
        | long_list
        | deep,
        "fulfillments": st.lists(st.dictionaries(odd_text, values, max_size=4), max_size=3) | values,
        "customer": st.dictionaries(odd_text, values, max_size=4) | values,
        "test": st.booleans() | values,
    }
    return st.fixed_dictionaries({}, optional=base)


def _woo_order() -> st.SearchStrategy[dict[str, Any]]:
    base = {
        "id": st.integers(1, 10**9) | odd_text | values,
        "date_modified_gmt": st.sampled_from(["2026-11-01T10:00:00"]) | odd_text | values,
        "status": st.sampled_from(["processing", "completed", "refunded"]) | odd_text | values,
        "billing": st.dictionaries(odd_text, values, max_size=3) | values,
        "line_items": st.lists(st.dictionaries(odd_text, values, max_size=4), max_size=4) | values,
        "refunds": st.lists(st.dictionaries(odd_text, values, max_size=3), max_size=3) | values,
    }
    return st.fixed_dictionaries({}, optional=base)


BIGCOMMERCE_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/refund/created",
    "store/shipment/created",
)


PING_FIELDS = ("scope", "store_id", "data", "hash", "created_at", "producer")


def _bigcommerce_ping() -> st.SearchStrategy[dict[str, Any]]:
    """The thin callback (``{scope, store_id, data: {type, id}, hash, created_at, producer}``) as
    BigCommerce sends it, then up to two fields replaced by wrong types, nesting or odd unicode, up to
    two removed, and odd keys added to ``data``. The store's API is not configured here, so what the
    intake keeps is applied from the ping alone."""
    data = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["order", "shipment"]),
            "id": st.integers(1, 10**9),
            "orderId": st.integers(1, 10**9),
        },
        optional={
            "status": st.fixed_dictionaries(
                {}, optional={"previous_status_id": values, "new_status_id": st.integers(0, 20) | values}
            )
            | values,
            "refund": st.dictionaries(odd_text, values, max_size=3) | values,
        },
    )
    right = st.fixed_dictionaries(
        {
            "scope": st.sampled_from(BIGCOMMERCE_SCOPES),
            "store_id": st.just(BIGCOMMERCE.domain_for(Platform.BIGCOMMERCE)),
            "data": data,
            "hash": st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
            "created_at": st.integers(1_700_000_000, 1_900_000_000),
            "producer": st.just("stores/fuzz1001"),
        }
    )

    def spoil(
        ping: dict[str, Any], wrong: dict[str, Any], gone: set[str], odd: dict[str, Any]
    ) -> dict[str, Any]:
        spoiled = {k: v for k, v in {**ping, **wrong}.items() if k not in gone}
        if isinstance(spoiled.get("data"), dict):
            spoiled["data"] = {**spoiled["data"], **odd}
        return spoiled

    return st.builds(
        spoil,
        right,
        st.dictionaries(st.sampled_from(PING_FIELDS), odd_text | values | deep, max_size=2),
        st.sets(st.sampled_from(PING_FIELDS), max_size=2),
        st.dictionaries(st.sampled_from(["id", "orderId", "type"]) | odd_text, values, max_size=2),
    )


@pytest.fixture(scope="module")
def fuzz_secrets(live: LiveStack) -> dict[str, str]:
    return {s.shop_id: live.admin.add_shop(s).platforms[s.platforms[0]].current for s in SHOPS.values()}


def test_no_body_gets_a_5xx_a_hang_or_lost(live: LiveStack, fuzz_secrets: dict[str, str]) -> None:
    answered: list[tuple[Platform, int, str]] = []

    @settings(max_examples=90, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        st.one_of(
            st.tuples(st.just(Platform.SHOPIFY), st.just("orders/create"), _shopify_order()),
            st.tuples(st.just(Platform.SHOPIFY), st.just("orders/updated"), deep | values | very_deep),
            st.tuples(st.just(Platform.WOOCOMMERCE), st.just("order.updated"), _woo_order()),
            # BigCommerce's topic is the body's ``scope``; the headers sign the body only.
            st.tuples(st.just(Platform.BIGCOMMERCE), st.just(""), _bigcommerce_ping()),
            st.tuples(st.just(Platform.BIGCOMMERCE), st.just(""), deep | values | very_deep),
        )
    )
    def send(case: tuple[Platform, str, Any]) -> None:
        platform, topic, payload = case
        shop = SHOPS[platform]
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = webhook_headers(
            platform, topic, raw, fuzz_secrets[shop.shop_id], shop.domain_for(platform), uuid.uuid4().hex
        )
        started = time.monotonic()
        status, body = post(f"{live.api}/webhooks/{platform.value}/{shop.shop_id}", raw, headers)
        assert time.monotonic() - started < 10, "the intake hung"
        assert status in ANSWERS, (status, body, payload)
        answered.append((platform, status, body))

    send()
    accepted = [(p, b) for p, s, b in answered if s == 200 and "accepted" in b]
    assert accepted, "no generated body was accepted: the fuzzing reached nothing behind the intake"
    assert {p for p, _ in accepted} == set(SHOPS), "a platform's bodies never got past the intake"
    live.wait_idle(timeout_s=60)
    left = [
        e["sk"]
        for shop in SHOPS.values()
        for e in live.admin.store.items(shop.shop_id, "EVENT")
        if "pending_pk" in e  # processed, or dead-lettered with its reason (give_up)
    ]
    assert left == [], f"acknowledged events left unprocessed: {left}"
