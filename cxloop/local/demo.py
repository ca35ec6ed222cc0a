"""The demo that ``cxloop run`` plays: three shops, a few orders, duplicates and late events."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from importlib import resources as pkg
from typing import TYPE_CHECKING, Any

from cxloop.admin import Admin
from cxloop.signing import webhook_headers
from shared.tenancy import BigCommerceApi, Platform, Shop

if TYPE_CHECKING:
    from cxloop.local.stack import LocalStack

DEMO_SHOPS = (
    Shop(
        shop_id="demo-shopify",
        name="Sandpiper Linen (Shopify)",
        platforms=(Platform.SHOPIFY,),
        domains={Platform.SHOPIFY: "sandpiper-linen.myshopify.com"},
        timezone="Europe/Lisbon",
        owner_email="owner@sandpiper.example",
    ),
    Shop(
        shop_id="demo-woo",
        name="Blue Kiln Pottery (WooCommerce)",
        platforms=(Platform.WOOCOMMERCE,),
        domains={Platform.WOOCOMMERCE: "https://bluekiln.example"},
        timezone="Europe/Lisbon",
        owner_email="owner@bluekiln.example",
    ),
    Shop(
        shop_id="demo-bigcommerce",
        name="Trailhead Gear (BigCommerce)",
        platforms=(Platform.BIGCOMMERCE,),
        domains={Platform.BIGCOMMERCE: "1001"},
        timezone="America/Denver",
        owner_email="owner@trailhead.example",
    ),
)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_for(stack: LocalStack) -> Admin:
    assert stack.resources is not None
    c = stack.clients
    return Admin(c["dynamodb"], c["sqs"], c["secretsmanager"], c["events"], stack.resources)


def seed(stack: LocalStack) -> dict[str, str]:
    admin = admin_for(stack)
    secrets = {}
    for shop in DEMO_SHOPS:
        api = None
        if Platform.BIGCOMMERCE in shop.platforms:
            api = BigCommerceApi(
                store_hash="demo1001",
                access_token="local-bigcommerce-token",  # noqa: S106
                base_url=f"{stack.api_url}/_local/bigcommerce",
            )
        stored = admin.add_shop(shop, bigcommerce_api=api)
        secrets[shop.shop_id] = stored.platforms[shop.platforms[0]].current
    return secrets


def deliveries() -> list[dict[str, Any]]:
    return json.loads(pkg.files("cxloop.local").joinpath("demo/deliveries.json").read_text())  # type: ignore[no-any-return]


def run_demo(stack: LocalStack) -> None:
    secrets = seed(stack)
    shops = {s.shop_id: s for s in DEMO_SHOPS}
    print("\nDemo shops (webhook URL, secret):")
    for shop in DEMO_SHOPS:
        platform = shop.platforms[0].value
        print(f"  {shop.name}\n    {stack.api_url}/webhooks/{platform}/{shop.shop_id}")
        print(f"    secret: {secrets[shop.shop_id]}")
    print("\nReplaying demo webhooks:")
    for d in deliveries():
        shop = shops[d["shop"]]
        platform = Platform(d["platform"])
        body = json.dumps(d["body"]).encode()
        headers = webhook_headers(
            platform, d["topic"], body, secrets[shop.shop_id], shop.domain_for(platform), d.get("event_id")
        )
        status, text = post(f"{stack.api_url}/webhooks/{platform.value}/{shop.shop_id}", body, headers)
        outcome = json.loads(text).get("status", text) if text.startswith("{") else text
        print(f"  {status} {outcome:<10} {platform.value:<12} {d['topic']:<26} {d.get('note', '')}")
    print("  ...and one with a forged signature:", end=" ")
    forged = webhook_headers(
        Platform.SHOPIFY,
        "orders/create",
        b"{}",
        "not-the-secret",
        shops["demo-shopify"].domain_for(Platform.SHOPIFY),
    )
    print(post(f"{stack.api_url}/webhooks/shopify/demo-shopify", b"{}", forged)[0])
    stack.wait_idle()
    admin = admin_for(stack)
    print("\nOrders as cxloop now holds them:")
    for shop in DEMO_SHOPS:
        for order in sorted(admin.orders(shop.shop_id), key=lambda o: o.order_id):
            delivered = order.delivered_at.isoformat() if order.delivered_at else "-"
            print(
                f"  {shop.shop_id:<17} {order.name or order.order_id:<7} {order.state:<10} "
                f"customer={order.first_name or '-':<6} delivered_at={delivered}"
            )
    print()
