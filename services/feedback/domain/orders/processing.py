"""The consumer's use case: one queued webhook → normalised records (or a privacy request acted on).

Idempotent by construction: every record change is conditional on its version, so a redelivered
or replayed event changes nothing, and events applied in any order converge.

An event that names no order (a :class:`PermanentDefect`) is sent to the dead-letter queue at once with
its reason: retrying it could only fail the same way (decision 70).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.feedback.domain import compliance
from services.feedback.domain.model import ApplyReceipt, Change, PermanentDefect, QueuedEvent, StoredEvent
from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.normalise import order_tombstone
from services.feedback.domain.orders.records import order_from_items
from services.feedback.domain.ports import (
    DeadLetters,
    EventPublisher,
    OrderDetailsSource,
    RawEventStore,
    RecordStore,
)
from services.feedback.domain.surveys.planning import PlanningDeps, plan_order
from services.feedback.domain.webhooks.parsing import SHOPIFY_COMPLIANCE
from shared import events
from shared.tenancy import Platform, SecretStore, ShopDirectory


@dataclass(frozen=True)
class ProcessingDeps:
    records: RecordStore
    publisher: EventPublisher
    shops: ShopDirectory
    secrets: SecretStore
    details: OrderDetailsSource | None = None
    export_retention: timedelta = timedelta(days=30)
    # Survey planning after each order change; None where surveys are not wired (some tests).
    planning: PlanningDeps | None = None
    # Where a permanent defect goes at once, and the raw events it then stops being pending in. None
    # (some tests): the defect is raised, and the queue retries it and dead-letters it in the end.
    dead_letters: DeadLetters | None = None
    raw_events: RawEventStore | None = None


def _bigcommerce_changes(
    event: StoredEvent, payload: Mapping[str, Any], details: OrderDetailsSource | None
) -> list[Change]:
    changes = normalise.bigcommerce_status_ping(event, payload)
    if details is None:
        return changes
    order_id = event.resource.split("#", 1)[1]
    order = details.order(event.shop_id, order_id)
    if order is None:
        return changes
    return changes + normalise.bigcommerce_order(
        event.shop_id, order, details.shipments(event.shop_id, order_id), event.triggered_at
    )


def changes_for(
    event: StoredEvent, payload: Mapping[str, Any], details: OrderDetailsSource | None
) -> list[Change]:
    if event.platform is Platform.SHOPIFY:
        return normalise.shopify(event.shop_id, event, payload)
    if event.platform is Platform.WOOCOMMERCE:
        return normalise.woocommerce(event.shop_id, event, payload)
    return _bigcommerce_changes(event, payload, details)


def _ref(payload: Mapping[str, Any], orders_field: str) -> compliance.CustomerRef:
    customer = payload.get("customer") or {}
    return compliance.CustomerRef(
        platform=Platform.SHOPIFY,
        customer_id=str(customer["id"]) if customer.get("id") is not None else None,
        email=customer.get("email") or None,
        order_ids=tuple(str(o) for o in payload.get(orders_field) or []),
    )


def _compliance(
    event: StoredEvent, payload: Mapping[str, Any], deps: ProcessingDeps, now: datetime
) -> ApplyReceipt:
    shop, corr = event.shop_id, event.correlation_id
    if event.topic == "shop/redact":
        compliance.erase_shop(deps.records, deps.shops, deps.secrets, deps.publisher, shop, corr)
        return ApplyReceipt()
    if event.topic == "customers/redact":
        compliance.erase_customer(
            deps.records, deps.publisher, shop, _ref(payload, "orders_to_redact"), now, corr
        )
    else:  # customers/data_request
        request_id = str((payload.get("data_request") or {}).get("id") or event.dedupe_key)
        ref = _ref(payload, "orders_requested")
        compliance.record_export(
            deps.records, deps.publisher, shop, request_id, ref, now, deps.export_retention, corr
        )
    return deps.records.apply(shop, [], processed=event, now=now)


def process(message: QueuedEvent, deps: ProcessingDeps, now: datetime) -> ApplyReceipt:
    try:
        return _process(message, deps, now)
    except PermanentDefect as defect:
        if deps.dead_letters is None:
            raise
        # Dead-lettered before the message is acknowledged: a crash in between sends it twice, never
        # loses it. Then no longer pending, so the sweeper does not queue it again.
        deps.dead_letters.send(message, defect.reason)
        if deps.raw_events is not None:
            deps.raw_events.give_up(message.stored(), now)
        return ApplyReceipt(dead_lettered=defect.reason)


def _process(message: QueuedEvent, deps: ProcessingDeps, now: datetime) -> ApplyReceipt:
    event = message.stored()
    payload = json.loads(event.body)
    if event.platform is Platform.SHOPIFY and event.topic in SHOPIFY_COMPLIANCE:
        return _compliance(event, payload, deps, now)
    changes = changes_for(event, payload, deps.details)
    receipt = deps.records.apply(event.shop_id, changes, processed=event, now=now)
    receipt.warnings = [w for c in changes for w in c.warnings]
    if receipt.shop_erased:
        # A late webhook for a shop that was erased: keep nothing of it.
        deps.records.delete(event.shop_id, [event.sort_key])
        return receipt
    if receipt.redacted:
        # The person asked to be erased: keep the order facts, drop who they are, and the raw body.
        receipt = deps.records.apply(
            event.shop_id, normalise.strip_personal(changes), processed=event, now=now
        )
        deps.records.erase_personal(event.shop_id, event.sort_key, ("body",))
        receipt.redacted = True
        return receipt
    orders = sorted({order_tombstone(c.sk) for c in changes if c.sk.startswith("ORDER#")})
    if deps.planning is not None:
        # Always, not only when something was applied: a redelivery after a crash between the
        # records and the plan must still plan (planning is idempotent).
        for order in orders:
            plan_order(deps.planning, event.shop_id, order, now)
    for order in orders:
        announce_order(deps, event, order)
    return receipt


def announce_order(deps: ProcessingDeps, event: StoredEvent, order_sk: str) -> None:
    """OrderRecorded for the notifier's churn risk: the order as stored now, by the customer's key, with
    the address the owner writes to. Also after a redelivery: the notifier keeps one copy per order."""
    order = order_from_items(deps.records.items(event.shop_id, order_sk))
    if order is None or order.deleted or not order.customer_key or order.created_at is None:
        return
    try:
        # In the shop's own currency, so that a customer's orders in several currencies still add up.
        total = float(order.shop_total or order.total or 0)
    except ValueError:
        total = 0.0
    recorded = events.OrderRecorded(
        order_id=order.order_id,
        platform=order.platform,
        customer_key=order.customer_key,
        placed_at=order.created_at,
        total=total,
        currency=order.shop_currency or order.currency,
        cancelled=order.cancelled,
        first_name=order.first_name,
        email=order.email,
    )
    deps.publisher.publish(
        events.ORDER_RECORDED, event.shop_id, recorded.model_dump(mode="json"), event.correlation_id
    )
