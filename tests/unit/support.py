"""Builders for unit tests: signed requests (signed here, independently of the code under test),
shops with secrets, and the use cases' dependencies wired to the in-memory fakes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.feedback.domain.model import ApplyReceipt, QueuedEvent, StoredEvent
from services.feedback.domain.orders.processing import ProcessingDeps, process
from services.feedback.domain.webhooks.intake import (
    IntakeDeps,
    IntakePolicy,
    IntakeResult,
    WebhookRequest,
    accept_webhook,
)
from shared.tenancy import Platform, PlatformSecret, Shop, ShopSecrets
from tests.fakes import (
    FakeDetails,
    InMemoryFeedbackStore,
    InMemorySecrets,
    InMemoryShops,
    ListPublisher,
    ListQueue,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def shopify_headers(
    secret: str,
    topic: str,
    body: bytes,
    *,
    domain: str = "",
    event_id: str | None = None,
    triggered_at: str = "",
) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": b64_hmac(secret.encode(), body),
        "x-shopify-webhook-id": str(uuid.uuid4()),
        "x-shopify-event-id": event_id or str(uuid.uuid4()),
    }
    if domain:
        headers["x-shopify-shop-domain"] = domain
    if triggered_at:
        headers["x-shopify-triggered-at"] = triggered_at
    return headers


def woo_headers(
    secret: str, topic: str, body: bytes, *, source: str = "https://woo.example/"
) -> dict[str, str]:
    resource, _, action = topic.partition(".")
    return {
        "content-type": "application/json",
        "x-wc-webhook-source": source,
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": action,
        "x-wc-webhook-signature": b64_hmac(secret.encode(), body),
        "x-wc-webhook-id": "12",
        "x-wc-webhook-delivery-id": uuid.uuid4().hex,
    }


def standard_headers(key: bytes, body: bytes, timestamp: int, msg_id: str | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + b64_hmac(key, signed),
    }


class World:
    """One set of fakes, and the two use cases (intake, processing) wired to them."""

    def __init__(self) -> None:
        self.shops = InMemoryShops()
        self.secrets = InMemorySecrets()
        self.store = InMemoryFeedbackStore()
        self.queue = ListQueue()
        self.publisher = ListPublisher()
        self.details = FakeDetails()
        self.policy = IntakePolicy()

    # --- set-up ------------------------------------------------------------------------------

    def add_shop(
        self,
        shop_id: str,
        secrets: dict[Platform, str | PlatformSecret],
        *,
        domain: str = "",
        platforms: tuple[Platform, ...] | None = None,
    ) -> Shop:
        platforms = platforms or tuple(secrets)
        # ``domain`` is the first platform's (the shop's main one), as `cxloop shop add --domain` does.
        domains = {platforms[0]: domain} if domain else {}
        shop = Shop(shop_id=shop_id, name=f"Shop {shop_id}", platforms=platforms, domains=domains)
        self.shops.put(shop)
        entries = {
            p: (s if isinstance(s, PlatformSecret) else PlatformSecret(current=s)) for p, s in secrets.items()
        }
        self.secrets.put(shop_id, ShopSecrets(platforms=entries))
        return shop

    # --- use cases -----------------------------------------------------------------------------

    @property
    def intake_deps(self) -> IntakeDeps:
        return IntakeDeps(shops=self.shops, secrets=self.secrets, raw_events=self.store, queue=self.queue)

    @property
    def processing_deps(self) -> ProcessingDeps:
        return ProcessingDeps(
            records=self.store,
            publisher=self.publisher,
            shops=self.shops,
            secrets=self.secrets,
            details=self.details,
        )

    def post(
        self,
        platform: Platform | str,
        shop_id: str,
        headers: dict[str, str],
        body: bytes,
        received_at: datetime = T0,
    ) -> IntakeResult:
        req = WebhookRequest(
            platform=str(platform),
            shop_id=shop_id,
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
            received_at=received_at,
            correlation_id=uuid.uuid4().hex,  # API Gateway gives every request its own id
        )
        return accept_webhook(req, self.intake_deps, self.policy)

    def consume(self, now: datetime | None = None) -> list[ApplyReceipt]:
        """Process everything queued so far (and empty the queue)."""
        receipts = [
            process(m, self.processing_deps, now or T0 + timedelta(seconds=5)) for m in self.queue.messages
        ]
        self.queue.messages.clear()
        return receipts

    def process_event(self, event: StoredEvent, now: datetime | None = None) -> ApplyReceipt:
        return process(QueuedEvent.of(event), self.processing_deps, now or T0 + timedelta(seconds=5))


def stored_event(
    shop_id: str,
    topic: str,
    payload: dict[str, Any],
    *,
    platform: Platform = Platform.SHOPIFY,
    resource: str,
    dedupe_key: str | None = None,
    triggered_at: datetime = T0,
    received_at: datetime | None = None,
) -> StoredEvent:
    return StoredEvent(
        shop_id=shop_id,
        platform=platform,
        topic=topic,
        dedupe_key=dedupe_key or uuid.uuid4().hex,
        resource=resource,
        triggered_at=triggered_at,
        received_at=received_at or triggered_at,
        body=body_of(payload),
        correlation_id="corr-1",
    )
