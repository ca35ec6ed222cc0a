"""Where a shop's platform API is and with what credential ``cxloop shop connect`` reaches it.

A credential comes from the environment or a hidden prompt (never from the command line, which shell
history and ``ps`` keep), else from the shop's secret in Secrets Manager, where a confirmed connect
stores what it was given. Nothing here prints or logs a credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cxloop.cli_errors import CliError
from cxloop.connect.http import Caller, Transport
from cxloop.connect.plan import topics
from cxloop.connect.platforms import bigcommerce, shopify, woocommerce
from cxloop.connect.ports import Subscriptions
from shared.tenancy import BigCommerceApi, Platform, Shop, ShopifyApi, ShopSecrets, WooCommerceApi

WOO_KEY, WOO_SECRET = "CXLOOP_WOO_CONSUMER_KEY", "CXLOOP_WOO_CONSUMER_SECRET"
# The names of environment variables, not credentials.
SHOPIFY_TOKEN = "CXLOOP_SHOPIFY_ACCESS_TOKEN"  # noqa: S105
SHOPIFY_CLIENT_ID = "CXLOOP_SHOPIFY_CLIENT_ID"
BIGCOMMERCE_TOKEN = "CXLOOP_BIGCOMMERCE_ACCESS_TOKEN"  # noqa: S105
LOOPBACK = ("127.0.0.1", "localhost", "::1")

Credential = WooCommerceApi | BigCommerceApi | ShopifyApi
Prompt = Callable[[str], str]


@dataclass(frozen=True)
class Options:
    store_url: str | None = None  # WooCommerce site URL
    store_hash: str | None = None  # BigCommerce
    platform_url: str | None = None  # any platform: the API's base URL (a local stand-in in tests)


@dataclass(frozen=True)
class Access:
    platform: Platform
    credential: Credential
    given: bool  # from the environment or the prompt: stored once a connect is confirmed


class NoAccess(CliError):
    """No credential or no store address for a platform: says what to give."""


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def _secret(env: Mapping[str, str], prompt: Prompt | None, name: str, label: str) -> str | None:
    if prompt is not None:
        return prompt(f"{label}: ").strip() or None
    return (env.get(name) or "").strip() or None


def resolve(
    platform: Platform,
    shop: Shop,
    stored: ShopSecrets | None,
    options: Options,
    env: Mapping[str, str],
    prompt: Prompt | None = None,
) -> Access:
    if platform is Platform.WOOCOMMERCE:
        return _woocommerce(shop, stored, options, env, prompt)
    if platform is Platform.BIGCOMMERCE:
        return _bigcommerce(shop, stored, options, env, prompt)
    return _shopify(shop, stored, env, prompt)


def _woocommerce(
    shop: Shop, stored: ShopSecrets | None, options: Options, env: Mapping[str, str], prompt: Prompt | None
) -> Access:
    old = stored.woocommerce_api if stored else None
    url = options.store_url or (old.store_url if old else None) or shop.domain_for(Platform.WOOCOMMERCE)
    if not url:
        raise NoAccess(
            f"woocommerce: no store URL for shop {shop.shop_id!r}: give --store-url https://your-store.example"
        )
    store_url = _url(url)
    if urlsplit(store_url).scheme != "https" and not is_loopback(store_url):
        raise NoAccess(
            f"--store-url {store_url!r}: WooCommerce takes a REST API key only over https: give the https URL"
        )
    key = _secret(env, prompt, WOO_KEY, "WooCommerce consumer key (ck_...)")
    secret = _secret(env, prompt, WOO_SECRET, "WooCommerce consumer secret (cs_...)") if key else None
    if key and secret:
        return Access(
            Platform.WOOCOMMERCE,
            WooCommerceApi(store_url=store_url, consumer_key=key, consumer_secret=secret),
            True,
        )
    if old is not None:
        return Access(
            Platform.WOOCOMMERCE, old.model_copy(update={"store_url": store_url}), store_url != old.store_url
        )
    raise NoAccess(
        f"woocommerce: no REST API key for shop {shop.shop_id!r}: set {WOO_KEY} and {WOO_SECRET} in the "
        "environment, or add --prompt to type them (a Read/Write key: WooCommerce → Settings → Advanced → "
        "REST API; see docs/connect.md)"
    )


def _bigcommerce(
    shop: Shop, stored: ShopSecrets | None, options: Options, env: Mapping[str, str], prompt: Prompt | None
) -> Access:
    old = stored.bigcommerce_api if stored else None
    store_hash = options.store_hash or (old.store_hash if old else None)
    if not store_hash:
        raise NoAccess(
            f"bigcommerce: no store hash for shop {shop.shop_id!r}: give --store-hash (the <hash> in the API "
            "path https://api.bigcommerce.com/stores/<hash>/v3/)"
        )
    token = _secret(env, prompt, BIGCOMMERCE_TOKEN, "BigCommerce API account access token")
    base = old.base_url if old else BigCommerceApi.model_fields["base_url"].default
    if token:
        return Access(
            Platform.BIGCOMMERCE,
            BigCommerceApi(store_hash=store_hash, access_token=token, base_url=base),
            True,
        )
    if old is not None:
        return Access(
            Platform.BIGCOMMERCE,
            old.model_copy(update={"store_hash": store_hash}),
            store_hash != old.store_hash,
        )
    raise NoAccess(
        f"bigcommerce: no API token for shop {shop.shop_id!r}: set {BIGCOMMERCE_TOKEN} in the environment, "
        "or add --prompt to type it (a store-level API account with Orders read-only; see docs/connect.md)"
    )


def _shopify(shop: Shop, stored: ShopSecrets | None, env: Mapping[str, str], prompt: Prompt | None) -> Access:
    if not shop.domain_for(Platform.SHOPIFY):
        raise NoAccess(
            f"shopify: shop {shop.shop_id!r} has no *.myshopify.com domain (cxloop shop add --domain)"
        )
    label = "Shopify Admin API access token (shpat_...; empty for a Dev Dashboard app)"
    token = _secret(env, prompt, SHOPIFY_TOKEN, label)
    if token:
        return Access(Platform.SHOPIFY, ShopifyApi(access_token=token), True)
    client_id = _secret(env, prompt, SHOPIFY_CLIENT_ID, "the Dev Dashboard app's client ID")
    if client_id:
        return Access(Platform.SHOPIFY, ShopifyApi(client_id=client_id), True)
    if stored is not None and stored.shopify_api is not None:
        return Access(Platform.SHOPIFY, stored.shopify_api, False)
    raise NoAccess(
        f"shopify: no way into the Admin API for shop {shop.shop_id!r}: set {SHOPIFY_CLIENT_ID} (a Dev "
        f"Dashboard app; its client secret is the shop's shopify secret) or {SHOPIFY_TOKEN} (a custom app "
        "made in the Shopify admin before 2026) in the environment, or add --prompt to type it "
        "(docs/connect.md)"
    )


def subscriptions(
    access: Access,
    shop: Shop,
    options: Options,
    transport: Transport,
    sleep: Callable[[float], None] | None = None,
    client_secret: str | None = None,
) -> Subscriptions:
    """The platform's adapter, pointed at ``options.platform_url`` when given (a local stand-in)."""
    wait = sleep or time.sleep
    cred = access.credential
    if isinstance(cred, WooCommerceApi):
        call = Caller("woocommerce", transport, woocommerce.REFUSED, sleep=wait)
        base = options.platform_url or cred.store_url
        return woocommerce.WooCommerceSubscriptions(
            call, base, cred.consumer_key, cred.consumer_secret, shop.shop_id
        )
    if isinstance(cred, BigCommerceApi):
        call = Caller("bigcommerce", transport, bigcommerce.REFUSED, sleep=wait)
        return bigcommerce.BigCommerceSubscriptions(
            call, options.platform_url or cred.base_url, cred.store_hash, cred.access_token
        )
    call = Caller("shopify", transport, shopify.REFUSED, sleep=wait)
    base = options.platform_url or _url(shop.domain_for(Platform.SHOPIFY))
    token = cred.access_token
    if not token and cred.client_id and client_secret:
        token = shopify.client_credentials_token(call, base, cred.client_id, client_secret)
    if not token:
        raise NoAccess(f"shopify: shop {shop.shop_id!r} has a client ID but no shopify secret to go with it")
    return shopify.ShopifySubscriptions(call, base, token, topics(Platform.SHOPIFY))


def stored_with(stored: ShopSecrets, access: Access) -> ShopSecrets:
    """The shop's secret with this credential in its place."""
    field = {
        Platform.WOOCOMMERCE: "woocommerce_api",
        Platform.BIGCOMMERCE: "bigcommerce_api",
        Platform.SHOPIFY: "shopify_api",
    }[access.platform]
    return stored.model_copy(update={field: access.credential})
