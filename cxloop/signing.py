"""Build the exact headers each platform sends with a webhook, signed with the shop's secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared import signatures
from shared.tenancy import Platform


def webhook_headers(
    platform: Platform,
    topic: str,
    body: bytes,
    secret: str,
    source: str,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    event_id = event_id or str(uuid.uuid4())
    if platform is Platform.SHOPIFY:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signatures.shopify_signature(secret, body),
            "X-Shopify-Shop-Domain": source,
            "X-Shopify-API-Version": "2025-10",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": datetime.now(tz=UTC).isoformat(),
        }
    if platform is Platform.WOOCOMMERCE:
        resource, _, action = topic.partition(".")
        return {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.0 Hookshot (WordPress/6.6)",
            "X-WC-Webhook-Source": source,
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": action,
            "X-WC-Webhook-Signature": signatures.woocommerce_signature(secret, body),
            "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
    return {
        "Content-Type": "application/json",
        **signatures.standard_headers(secret, event_id, body, timestamp),
    }
