"""Webhook signatures (Shopify, WooCommerce, Standard Webhooks): verified on the raw bytes, in constant time.

Signing lives beside verifying so the CLI's ``replay``, the tests and the benchmark produce
exactly what the platforms send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def _any_secret(secrets: Iterable[str], check: Callable[[str], bool]) -> bool:
    # Evaluate every secret (no early exit) so timing says nothing about which one matched.
    results = [check(secret) for secret in secrets if secret]
    return any(results)


# --- Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) in one header ---------------
# Shopify: X-Shopify-Hmac-Sha256, keyed by the app's client secret.
# WooCommerce: X-WC-Webhook-Signature, keyed by the webhook's secret.


def body_signature(secret: str, body: bytes) -> str:
    return _b64_hmac(secret.encode(), body)


shopify_signature = woocommerce_signature = body_signature


def _verify_body(header: str, secrets: Iterable[str], body: bytes, headers: Mapping[str, str]) -> bool:
    given = headers.get(header, "")
    if not given:
        return False
    return _any_secret(secrets, lambda s: _matches(body_signature(s, body), given))


def verify_shopify(secrets: Iterable[str], body: bytes, headers: Mapping[str, str]) -> bool:
    return _verify_body("x-shopify-hmac-sha256", secrets, body, headers)


def verify_woocommerce(secrets: Iterable[str], body: bytes, headers: Mapping[str, str]) -> bool:
    return _verify_body("x-wc-webhook-signature", secrets, body, headers)


# --- BigCommerce: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) -------------


def _standard_key(secret: str) -> bytes:
    """The HMAC key: a ``whsec_`` secret is base64 of the key; BigCommerce's client secret is the key."""
    if secret.startswith("whsec_"):
        key = secret.removeprefix("whsec_")
        return base64.b64decode(key + "=" * (-len(key) % 4))  # tolerate unpadded, as the spec's libraries do
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + _b64_hmac(_standard_key(secret), signed)


class TimestampOutOfRange(ValueError):
    """webhook-timestamp is missing, malformed or outside the tolerance."""


def verify_standard(
    secrets: Iterable[str],
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> bool:
    msg_id = headers.get("webhook-id", "")
    ts_raw = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not (msg_id and ts_raw and given):
        return False
    try:
        timestamp = int(ts_raw)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise TimestampOutOfRange(f"webhook-timestamp {timestamp} is more than {tolerance_s}s from now")
    # The header may carry several space-separated signatures (key rotation); any v1 match counts.
    candidates = [part.split(",", 1)[1] for part in given.split() if part.startswith("v1,")]

    def check(secret: str) -> bool:
        expected = standard_signature(secret, msg_id, timestamp, body).split(",", 1)[1]
        return any([_matches(expected, c) for c in candidates])

    return _any_secret(secrets, check)


def standard_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }
