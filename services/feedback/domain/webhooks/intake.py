"""Accepting a webhook: verify, store raw (dedupe), queue, acknowledge. Nothing else on this path.

The order of checks is part of the contract: unknown shop → 404, oversized → 413, WooCommerce's
unsigned ping → 200, bad signature → 401 (nothing stored), malformed → 400, unknown topic → 200
ignored, duplicate → 200 (not queued again), accepted → 200 after the event is stored and queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.feedback.domain.model import QueuedEvent, StoredEvent
from services.feedback.domain.ports import EventQueue, RawEventStore
from services.feedback.domain.webhooks.parsing import (
    PARSERS,
    TOPICS,
    InboundEvent,
    is_woocommerce_ping,
    topic_of,
)
from shared import signatures
from shared.errors import NotFound, PayloadTooLarge, Unauthorized
from shared.tenancy import Platform, SecretStore, Shop, ShopDirectory, ShopSecrets

# DynamoDB items stop at 400 KB and SQS messages at 256 KiB: the compressed body must fit both.
MAX_COMPRESSED_BYTES = 200 * 1024


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DEFERRED = "deferred"  # stored, but the queue refused it: the sweeper will queue it
    DUPLICATE = "duplicate"
    REQUEUED = "requeued"
    IGNORED = "ignored"
    PING = "ping"


@dataclass(frozen=True)
class WebhookRequest:
    platform: str
    shop_id: str
    headers: Mapping[str, str]  # names lower-cased by the handler
    body: bytes
    received_at: datetime
    correlation_id: str = ""


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    topic: str = ""
    dedupe_key: str = ""


@dataclass(frozen=True)
class IntakePolicy:
    max_body_bytes: int = 1024 * 1024
    retention: timedelta = timedelta(days=30)
    timestamp_tolerance_s: int = 300
    requeue_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class IntakeDeps:
    shops: ShopDirectory
    secrets: SecretStore
    raw_events: RawEventStore
    queue: EventQueue


def _verify(
    platform: Platform, secrets: ShopSecrets | None, req: WebhookRequest, policy: IntakePolicy
) -> bool:
    entry = secrets.platforms.get(platform) if secrets else None
    if entry is None:
        return False
    keys = entry.valid(req.received_at)
    if platform is Platform.SHOPIFY:
        return signatures.verify_shopify(keys, req.body, req.headers)
    if platform is Platform.WOOCOMMERCE:
        return signatures.verify_woocommerce(keys, req.body, req.headers)
    try:
        return signatures.verify_standard(
            keys,
            req.body,
            req.headers,
            now=req.received_at.timestamp(),
            tolerance_s=policy.timestamp_tolerance_s,
        )
    except signatures.TimestampOutOfRange as e:
        raise Unauthorized(str(e)) from e


def _host(value: str) -> str:
    return value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def _source_matches(shop: Shop, event: InboundEvent) -> bool:
    """Platforms sign the body only: the source header binds a delivery to this shop (a Shopify app's
    secret is shared by every shop that installs it), so when a domain is configured it must be there."""
    expected = shop.domain_for(event.platform)
    if not expected:
        return True
    return _host(expected) == _host(event.source)


def _authenticate(
    platform: Platform, shop: Shop, req: WebhookRequest, deps: IntakeDeps, policy: IntakePolicy
) -> None:
    if _verify(platform, deps.secrets.get(shop.shop_id), req, policy):
        return
    # The secret may have been rotated since this container cached it: ask once for a fresh copy
    # (the store rate-limits fresh reads, so bad requests cannot run up Secrets Manager calls).
    if _verify(platform, deps.secrets.get(shop.shop_id, fresh=True), req, policy):
        return
    raise Unauthorized("signature does not match")


def accept_webhook(req: WebhookRequest, deps: IntakeDeps, policy: IntakePolicy) -> IntakeResult:
    try:
        platform = Platform(req.platform)
    except ValueError as e:
        raise NotFound(f"unknown platform {req.platform!r}") from e
    shop = deps.shops.get(req.shop_id)
    if shop is None or platform not in shop.platforms:
        raise NotFound(f"no shop {req.shop_id!r} connected to {platform.value}")
    if len(req.body) > policy.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(req.body)} bytes; the limit is {policy.max_body_bytes}")
    if platform is Platform.WOOCOMMERCE and is_woocommerce_ping(req.headers, req.body):
        return IntakeResult(Outcome.PING)

    _authenticate(platform, shop, req, deps, policy)

    topic = topic_of(platform, req.headers, req.body)
    if topic not in TOPICS[platform]:
        return IntakeResult(Outcome.IGNORED, topic=topic)
    event = PARSERS[platform](topic, req.headers, req.body, req.received_at)
    if not _source_matches(shop, event):
        expected = shop.domain_for(platform)
        raise Unauthorized(f"webhook comes from {event.source!r}, not from this shop's {expected!r}")
    named = str(event.payload.get("shop_domain", ""))
    if event.is_compliance and _host(named) != _host(shop.domain_for(platform) or event.source):
        raise Unauthorized(f"{topic} names shop {named!r}, not this one")

    stored = StoredEvent(
        shop_id=shop.shop_id,
        platform=platform,
        topic=topic,
        dedupe_key=event.dedupe_key,
        resource=event.resource,
        triggered_at=event.triggered_at,
        received_at=req.received_at,
        source=event.source,
        body=req.body,
        correlation_id=req.correlation_id,
    )
    message = QueuedEvent.of(stored)
    if len(message.body_z) > MAX_COMPRESSED_BYTES:
        raise PayloadTooLarge(
            f"body compresses to {len(message.body_z)} bytes; the limit is {MAX_COMPRESSED_BYTES}"
        )

    return _store_and_queue(stored, message, deps, policy)


def _store_and_queue(
    stored: StoredEvent, message: QueuedEvent, deps: IntakeDeps, policy: IntakePolicy
) -> IntakeResult:
    """Store first (the conditional write is the dedupe), then queue. A failed send keeps the event stored
    and pending for the sweeper (DEFERRED): WooCommerce never retries, so nothing stored is undone."""
    done = IntakeResult(Outcome.ACCEPTED, topic=stored.topic, dedupe_key=stored.dedupe_key)
    receipt = deps.raw_events.put_new(stored, expires_at=stored.received_at + policy.retention)
    if receipt.shop_erased:
        raise NotFound(f"no shop {stored.shop_id!r}: it was erased")
    # The SDK retries a write whose answer was lost; its retry then finds this very request's item.
    own_write = bool(stored.correlation_id) and receipt.correlation_id == stored.correlation_id
    if receipt.created or own_write:
        try:
            deps.queue.send(message)
        except Exception:
            # Stored durably and still pending: the sweeper queues it. WooCommerce never retries, so
            # undoing the write and answering 5xx could lose the event for good.
            return IntakeResult(Outcome.DEFERRED, topic=stored.topic, dedupe_key=stored.dedupe_key)
        return done
    in_flight_since = receipt.received_at or stored.received_at
    if not receipt.processed and stored.received_at - in_flight_since > policy.requeue_after:
        # Stored long ago and never processed: the first attempt was lost; this retry recovers it.
        deps.queue.send(message)
        return IntakeResult(Outcome.REQUEUED, topic=stored.topic, dedupe_key=stored.dedupe_key)
    return IntakeResult(Outcome.DUPLICATE, topic=stored.topic, dedupe_key=stored.dedupe_key)
