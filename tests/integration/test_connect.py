"""``cxloop shop connect`` against local stand-ins of the three platforms' APIs (tests/platform_standins.py)
and the shops of moto's Secrets Manager: idempotent, updates instead of duplicating, stores the credential
only once the platform confirmed everything, and fails clearly on 401, 429 and 5xx."""

from __future__ import annotations

import socket

import pytest

from cxloop.connect import Options, Report, connect_platform, verify
from cxloop.connect.http import CredentialRefused, PlatformUnavailable, RateLimited
from cxloop.connect.plan import secret_mark, topics
from cxloop.connect.platforms.shopify import enum
from shared.tenancy import Platform
from tests.integration.conftest import SHOP_A, SHOP_B, Stack
from tests.platform_standins import THROTTLED, BigCommerceStandIn, ShopifyStandIn, Sleeps, WooCommerceStandIn

pytestmark = pytest.mark.integration

API = "https://cx.example.com"
WOO_ENV = {
    "CXLOOP_WOO_CONSUMER_KEY": WooCommerceStandIn.KEY,
    "CXLOOP_WOO_CONSUMER_SECRET": WooCommerceStandIn.SECRET,
}


@pytest.fixture
def admin(stack: Stack) -> object:
    stack.admin.api_url = API  # type: ignore[attr-defined]
    return stack.admin


def _woo(
    admin: object,
    standin: WooCommerceStandIn,
    check: bool = False,
    env: dict[str, str] | None = None,
    sleeps: Sleeps | None = None,
) -> Report:
    options = Options(store_url=standin.url)
    return connect_platform(
        admin,
        "shop-a",
        Platform.WOOCOMMERCE,
        check=check,
        options=options,
        env=WOO_ENV if env is None else env,
        sleep=sleeps or Sleeps(),
    )


def test_woocommerce_connect_creates_each_topic_once_with_the_shops_secret_and_a_second_run_changes_nothing(
    admin: object, woo_standin: WooCommerceStandIn, stack: Stack
) -> None:
    report = _woo(admin, woo_standin)
    assert report.connected and [c.kind for c in report.done] == ["create"] * 6
    hooks = woo_standin.ours()
    secret = stack.admin.secrets.get("shop-a", fresh=True).platforms[Platform.WOOCOMMERCE].current  # type: ignore[union-attr]
    assert sorted(h["topic"] for h in hooks) == sorted(topics(Platform.WOOCOMMERCE))
    assert {h["delivery_url"] for h in hooks} == {f"{API}/webhooks/woocommerce/shop-a"}
    assert {h["secret"] for h in hooks} == {secret} and {h["status"] for h in hooks} == {"active"}

    writes = len(woo_standin.writes())
    again = _woo(admin, woo_standin, env={})  # the stored key is used: nothing given this time
    assert again.connected and again.done == [] and len(woo_standin.writes()) == writes
    assert len(woo_standin.ours()) == 6
    stored = stack.admin.secrets.get("shop-a", fresh=True).woocommerce_api  # type: ignore[union-attr]
    assert stored is not None and stored.consumer_key == WooCommerceStandIn.KEY


def test_woocommerce_stale_address_disabled_hook_and_unknown_secret_are_updated_not_duplicated(
    admin: object, woo_standin: WooCommerceStandIn
) -> None:
    old = woo_standin.seed("order.created", "https://old.example.com/webhooks/woocommerce/shop-a")
    disabled = woo_standin.seed("order.updated", f"{API}/webhooks/woocommerce/shop-a", status="disabled")
    by_hand = woo_standin.seed("order.deleted", f"{API}/webhooks/woocommerce/shop-a")
    duplicate = woo_standin.seed("order.deleted", f"{API}/webhooks/woocommerce/shop-a")
    other_app = woo_standin.seed("order.created", "https://erp.example.com/woo")

    report = _woo(admin, woo_standin)
    kinds = {(c.kind, c.existing.id if c.existing else c.topic) for c in report.done}
    assert {("update", old), ("update", disabled), ("update", by_hand), ("delete", duplicate)} <= kinds
    assert report.connected and len(woo_standin.ours()) == 6  # none twice
    assert woo_standin.hooks[old]["delivery_url"] == f"{API}/webhooks/woocommerce/shop-a"
    assert woo_standin.hooks[disabled]["status"] == "active"
    assert secret_mark(woo_standin.hooks[by_hand]["secret"]) in woo_standin.hooks[by_hand]["name"]
    assert (
        woo_standin.hooks[other_app]["delivery_url"] == "https://erp.example.com/woo"
    )  # another app's: untouched


def test_a_rotated_webhook_secret_is_pushed_to_every_woocommerce_webhook(
    admin: object, woo_standin: WooCommerceStandIn, stack: Stack
) -> None:
    from datetime import timedelta

    _woo(admin, woo_standin)
    fresh = stack.admin.rotate_secret("shop-a", Platform.WOOCOMMERCE, timedelta(hours=1))
    assert not _woo(admin, woo_standin, check=True).plan.settled
    report = _woo(admin, woo_standin)
    assert report.connected and {c.kind for c in report.done} == {"update"}
    assert {h["secret"] for h in woo_standin.ours()} == {fresh}


def test_a_refused_key_says_what_to_do_stores_nothing_and_never_shows_the_key(
    admin: object, woo_standin: WooCommerceStandIn, stack: Stack
) -> None:
    env = {"CXLOOP_WOO_CONSUMER_KEY": "ck_wrong", "CXLOOP_WOO_CONSUMER_SECRET": "cs_wrong_secret"}
    with pytest.raises(CredentialRefused) as e:
        _woo(admin, woo_standin, env=env)
    message = str(e.value)
    assert "HTTP 401" in message and "Read/Write" in message and "GET /wp-json/wc/v3/webhooks" in message
    assert "ck_wrong" not in message and "cs_wrong_secret" not in message
    assert stack.admin.secrets.get("shop-a", fresh=True).woocommerce_api is None  # type: ignore[union-attr]
    assert woo_standin.ours() == []


def test_429_waits_its_retry_after_then_succeeds(admin: object, woo_standin: WooCommerceStandIn) -> None:
    sleeps = Sleeps()
    woo_standin.fail_next(429, {"code": "too_many_requests"}, {"Retry-After": "7"}, times=2)
    assert _woo(admin, woo_standin, sleeps=sleeps).connected
    assert sleeps.waits == [7.0, 7.0]


def test_429_that_does_not_end_fails_after_a_bounded_number_of_tries(
    admin: object, woo_standin: WooCommerceStandIn
) -> None:
    sleeps = Sleeps()
    woo_standin.fail_next(429, None, {"Retry-After": "1"}, times=100)
    with pytest.raises(RateLimited, match="still rate-limited"):
        _woo(admin, woo_standin, sleeps=sleeps)
    assert len(woo_standin.seen) == 4 and sleeps.waits == [1.0, 1.0, 1.0]


def test_a_retry_after_longer_than_a_minute_is_not_slept_through(
    admin: object, woo_standin: WooCommerceStandIn
) -> None:
    woo_standin.fail_next(429, None, {"Retry-After": "3600"})
    with pytest.raises(RateLimited, match="asks to wait 3600 s"):
        _woo(admin, woo_standin)


def test_5xx_and_no_answer_name_the_platform_call_that_failed(
    admin: object, woo_standin: WooCommerceStandIn
) -> None:
    woo_standin.fail_next(503, {"message": "maintenance"}, times=10)
    with pytest.raises(
        PlatformUnavailable, match=r"woocommerce: GET /wp-json/wc/v3/webhooks failed: HTTP 503"
    ):
        _woo(admin, woo_standin)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    options = Options(store_url=closed)
    with pytest.raises(PlatformUnavailable, match="no answer"):
        connect_platform(
            admin, "shop-a", Platform.WOOCOMMERCE, check=True, options=options, env=WOO_ENV, sleep=Sleeps()
        )


BC_ENV = {"CXLOOP_BIGCOMMERCE_ACCESS_TOKEN": BigCommerceStandIn.TOKEN}


def _bc(
    admin: object, standin: BigCommerceStandIn, check: bool = False, env: dict[str, str] | None = None
) -> Report:
    options = Options(store_hash=BigCommerceStandIn.STORE_HASH, platform_url=standin.url)
    return connect_platform(
        admin,
        "shop-b",
        Platform.BIGCOMMERCE,
        check=check,
        options=options,
        env=BC_ENV if env is None else env,
        sleep=Sleeps(),
    )


def test_bigcommerce_connect_is_idempotent_and_updates_stale_or_inactive_hooks(
    admin: object, bigcommerce_standin: BigCommerceStandIn, stack: Stack
) -> None:
    stale = bigcommerce_standin.seed(
        "store/order/created", "https://old.example.com/webhooks/bigcommerce/shop-b"
    )
    inactive = bigcommerce_standin.seed(
        "store/shipment/created", f"{API}/webhooks/bigcommerce/shop-b", is_active=False
    )
    report = _bc(admin, bigcommerce_standin)
    assert report.connected
    assert {c.kind for c in report.done if c.existing and c.existing.id in (stale, inactive)} == {"update"}
    assert sorted(h["scope"] for h in bigcommerce_standin.hooks.values()) == sorted(
        topics(Platform.BIGCOMMERCE)
    )
    assert all(
        h["is_active"] and h["destination"] == f"{API}/webhooks/bigcommerce/shop-b"
        for h in bigcommerce_standin.hooks.values()
    )
    writes = len(bigcommerce_standin.writes())
    assert _bc(admin, bigcommerce_standin, env={}).done == [] and len(bigcommerce_standin.writes()) == writes
    api = stack.admin.secrets.get("shop-b", fresh=True).bigcommerce_api  # type: ignore[union-attr]
    assert api is not None and (api.store_hash, api.access_token) == ("abc123", BigCommerceStandIn.TOKEN)


def test_bigcommerce_refuses_a_destination_off_https_443_and_nothing_is_claimed(
    stack: Stack, bigcommerce_standin: BigCommerceStandIn
) -> None:
    from cxloop.connect.http import PlatformRejected

    stack.admin.api_url = "https://cx.example.com:8443"  # type: ignore[attr-defined]
    with pytest.raises(PlatformRejected, match="HTTP 422"):
        _bc(stack.admin, bigcommerce_standin)


SHOPIFY_ENV = {"CXLOOP_SHOPIFY_ACCESS_TOKEN": ShopifyStandIn.TOKEN}


def _shopify(
    admin: object, standin: ShopifyStandIn, check: bool = False, sleeps: Sleeps | None = None
) -> Report:
    return connect_platform(
        admin,
        "shop-a",
        Platform.SHOPIFY,
        check=check,
        options=Options(platform_url=standin.url),
        env=SHOPIFY_ENV,
        sleep=sleeps or Sleeps(),
    )


def test_shopify_connect_subscribes_every_topic_but_the_compliance_ones_and_updates_a_stale_uri(
    admin: object, shopify_standin: ShopifyStandIn
) -> None:
    stale = shopify_standin.seed("ORDERS_CREATE", "https://old.example.com/webhooks/shopify/shop-a")
    sleeps = Sleeps()
    shopify_standin.fail_next(200, THROTTLED)  # Shopify's GraphQL throttle: retried like a 429
    report = _shopify(admin, shopify_standin, sleeps=sleeps)
    assert report.connected and sleeps.waits == [1.0]
    assert sorted(h["topic"] for h in shopify_standin.hooks.values()) == sorted(
        enum(t) for t in topics(Platform.SHOPIFY)
    )
    assert shopify_standin.hooks[stale]["uri"] == f"{API}/webhooks/shopify/shop-a"
    assert not {"CUSTOMERS_REDACT", "SHOP_REDACT", "CUSTOMERS_DATA_REQUEST"} & {
        h["topic"] for h in shopify_standin.hooks.values()
    }
    writes = len(shopify_standin.writes())
    assert _shopify(admin, shopify_standin).done == [] and len(shopify_standin.writes()) == writes


def test_a_wrong_shopify_token_is_refused_with_where_to_find_the_right_one(
    admin: object, shopify_standin: ShopifyStandIn
) -> None:
    shopify_standin.TOKEN = "shpat_other"
    with pytest.raises(CredentialRefused, match="Develop apps") as e:
        _shopify(admin, shopify_standin)
    assert ShopifyStandIn.TOKEN not in str(e.value)


def test_verify_reports_each_expected_subscription_and_changes_nothing(
    admin: object, shopify_standin: ShopifyStandIn, woo_standin: WooCommerceStandIn
) -> None:
    assert _shopify(admin, shopify_standin).connected
    shopify_standin.hooks.pop(
        next(g for g, h in shopify_standin.hooks.items() if h["topic"] == "REFUNDS_CREATE")
    )
    shopify_standin.app_api_version = "2024-07"
    shopify_standin.seed(
        "ORDERS_PAID", f"{API}/webhooks/shopify/shop-a", api_version="2024-07"
    )  # a duplicate
    writes = len(shopify_standin.writes())
    results = verify(admin, "shop-a", options=Options(platform_url=shopify_standin.url), sleep=Sleeps())
    by_name = {r.name: r for r in results}
    assert by_name["shopify refunds/create"].status == "fail"
    assert by_name["shopify refunds/create"].fix == "run cxloop shop connect shop-a --platform shopify"
    assert by_name["shopify orders/create"].status == "ok"
    assert [r.status for r in results if r.name == "shopify orders/paid"] == ["ok", "warn"]
    # WooCommerce: nothing stored for it yet, so it is not checked (and says what to give).
    unchecked = by_name["woocommerce webhooks"]
    assert unchecked.status == "warn" and "--store-url" in unchecked.detail
    assert len(shopify_standin.writes()) == writes
    assert {r.platform for r in results} == {Platform.SHOPIFY, Platform.WOOCOMMERCE}


def test_verify_turns_a_refusal_into_a_failed_result(
    admin: object, shopify_standin: ShopifyStandIn, stack: Stack
) -> None:
    assert _shopify(admin, shopify_standin).connected
    shopify_standin.fail_next(
        401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    )
    results = verify(
        admin,
        "shop-a",
        (Platform.SHOPIFY,),
        options=Options(platform_url=shopify_standin.url),
        sleep=Sleeps(),
    )
    assert [(r.status, r.name) for r in results] == [("fail", "shopify API")]
    assert "HTTP 401" in results[0].detail and results[0].fix is not None
    assert verify(admin, "no-such-shop")[0].status == "fail"
    assert SHOP_A.shop_id == "shop-a" and SHOP_B.shop_id == "shop-b"


def test_a_dev_dashboard_app_gets_its_token_by_client_credentials_with_the_shops_shopify_secret(
    admin: object, shopify_standin: ShopifyStandIn, stack: Stack
) -> None:
    shopify_standin.client_secret = stack.secrets[
        "shop-a"
    ]  # the app's client secret is the shop's webhook secret
    env = {"CXLOOP_SHOPIFY_CLIENT_ID": ShopifyStandIn.CLIENT_ID}
    options = Options(platform_url=shopify_standin.url)
    report = connect_platform(
        admin, "shop-a", Platform.SHOPIFY, check=False, options=options, env=env, sleep=Sleeps()
    )
    assert report.connected
    grant = [s for s in shopify_standin.seen if s.path == "/admin/oauth/access_token"]
    assert grant and grant[0].body["grant_type"] == "client_credentials"
    stored = stack.admin.secrets.get("shop-a", fresh=True).shopify_api  # type: ignore[union-attr]
    assert stored is not None and stored.client_id == ShopifyStandIn.CLIENT_ID and stored.access_token is None
    again = connect_platform(
        admin, "shop-a", Platform.SHOPIFY, check=True, options=options, env={}, sleep=Sleeps()
    )
    assert again.plan.settled  # a fresh token from the stored client ID

    wrong = {"CXLOOP_SHOPIFY_CLIENT_ID": "someone-elses-app"}
    with pytest.raises(CredentialRefused, match="Dev Dashboard") as e:
        connect_platform(
            admin, "shop-a", Platform.SHOPIFY, check=True, options=options, env=wrong, sleep=Sleeps()
        )
    assert stack.secrets["shop-a"] not in str(e.value)


def test_a_store_url_that_redirects_says_where_to(admin: object, woo_standin: WooCommerceStandIn) -> None:
    from cxloop.connect.http import PlatformRejected

    woo_standin.fail_next(301, None, {"Location": "https://www.shop.example/wp-json/wc/v3/webhooks"})
    with pytest.raises(
        PlatformRejected, match=r"redirects to https://www\.shop\.example/wp-json/wc/v3/webhooks"
    ):
        _woo(admin, woo_standin)
