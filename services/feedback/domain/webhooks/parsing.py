"""What a verified webhook is: its platform's topic, its event identity (for dedupe) and resource.

One parser per platform turns headers and raw body into an :class:`InboundEvent`, or raises
:class:`shared.errors.BadRequest` naming what is wrong. Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.feedback.domain.orders.woocommerce_versions import as_v3
from shared import json_bodies
from shared.errors import BadRequest
from shared.tenancy import Platform

SHOPIFY_COMPLIANCE = frozenset({"customers/data_request", "customers/redact", "shop/redact"})

# Topics acted on. Anything else is acknowledged with 200 and ignored (and logged).
TOPICS: dict[Platform, frozenset[str]] = {
    Platform.SHOPIFY: frozenset(
        {
            "orders/create",
            "orders/updated",
            "orders/paid",
            "orders/fulfilled",
            "orders/partially_fulfilled",
            "orders/cancelled",
            "orders/delete",
            "fulfillments/create",
            "fulfillments/update",
            "fulfillment_events/create",
            "refunds/create",
            "customers/create",
            "customers/update",
        }
    )
    | SHOPIFY_COMPLIANCE,
    Platform.WOOCOMMERCE: frozenset(
        {
            "order.created",
            "order.updated",
            "order.deleted",
            "order.restored",
            "customer.created",
            "customer.updated",
        }
    ),
    Platform.BIGCOMMERCE: frozenset(
        {
            "store/order/created",
            "store/order/updated",
            "store/order/statusUpdated",
            "store/order/archived",
            # Thin like the others (``data.refund.refund_id``): the refunds are fetched with the order.
            "store/order/refund/created",
            "store/shipment/created",
            "store/shipment/updated",
        }
    ),
}


class InboundEvent(BaseModel):
    """A verified, parsed webhook: enough to store it, dedupe it and route it."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    topic: str
    # The platform's identity of the event: the same merchant action always gives the same key.
    dedupe_key: str
    # The resource the event is about (``order#450789469``), to find raw events again on erasure.
    resource: str
    # When the platform says it happened (falls back to receipt time).
    triggered_at: datetime
    source: str = ""  # shop domain / site URL / store id, as the platform states it
    payload: dict[str, Any]

    @property
    def is_compliance(self) -> bool:
        return self.platform is Platform.SHOPIFY and self.topic in SHOPIFY_COMPLIANCE


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json_bodies.loads(body)
    except json_bodies.TooDeep as e:
        raise BadRequest(f"body {e}") from e
    except UnicodeDecodeError as e:
        raise BadRequest("body is not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise BadRequest(f"body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    if not isinstance(value, dict):
        raise BadRequest(f"body must be a JSON object, got {type(value).__name__}")
    return value


def _require_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise BadRequest(f"missing header {name}")
    return value


def _parse_time(value: Any, what: str) -> datetime:
    """ISO 8601 (with or without offset; naive means UTC) or epoch seconds, to aware UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise BadRequest(f"{what} is not an ISO 8601 time: {value!r}") from e
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise BadRequest(f"{what} is missing")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _id_of(payload: Mapping[str, Any], field: str, what: str) -> str:
    value = payload.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or value in ("", None):
        raise BadRequest(f"{what}: field '{field}' is missing or not an id")
    return str(value)


def topic_of(platform: Platform, headers: Mapping[str, str], body: bytes) -> str:
    """The topic, read before the body is parsed (BigCommerce carries it in the body's ``scope``)."""
    if platform is Platform.SHOPIFY:
        return _require_header(headers, "x-shopify-topic")
    if platform is Platform.WOOCOMMERCE:
        return _require_header(headers, "x-wc-webhook-topic")
    scope = _json_object(body).get("scope")
    if not isinstance(scope, str) or not scope:
        raise BadRequest("field 'scope' is missing")
    return scope


def _shopify_resource(topic: str, payload: Mapping[str, Any]) -> str:
    if topic.startswith("orders/"):
        return f"order#{_id_of(payload, 'id', topic)}"
    if topic.startswith(("fulfillments/", "fulfillment_events/", "refunds/")):
        return f"order#{_id_of(payload, 'order_id', topic)}"
    if topic.startswith("customers/") and topic not in SHOPIFY_COMPLIANCE:
        return f"customer#{_id_of(payload, 'id', topic)}"
    if topic == "shop/redact":
        return "shop"
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise BadRequest(f"{topic}: field 'customer' is missing")
    return f"customer#{_id_of(customer, 'id', topic + ' customer')}"


# What each compliance payload must carry. Shopify signs the body, not the topic header: an order
# body re-sent under a compliance topic must not pass for an erasure request.
_COMPLIANCE_SHAPE: dict[str, tuple[tuple[str, type], ...]] = {
    "shop/redact": (("shop_domain", str),),
    "customers/redact": (("shop_domain", str), ("customer", dict), ("orders_to_redact", list)),
    "customers/data_request": (("shop_domain", str), ("customer", dict), ("orders_requested", list)),
}


def _check_compliance_shape(topic: str, payload: Mapping[str, Any]) -> None:
    for field, kind in _COMPLIANCE_SHAPE[topic]:
        if not isinstance(payload.get(field), kind):
            raise BadRequest(f"{topic}: field '{field}' is missing or not a {kind.__name__}")
    if "line_items" in payload or "order_id" in payload or (topic == "shop/redact" and "customer" in payload):
        raise BadRequest(f"{topic}: the body is not a {topic} request")


def parse_shopify(topic: str, headers: Mapping[str, str], body: bytes, received_at: datetime) -> InboundEvent:
    payload = _json_object(body)
    if topic in SHOPIFY_COMPLIANCE:
        _check_compliance_shape(topic, payload)
    # Shopify's own dedupe guidance: X-Shopify-Event-Id is shared by every delivery of one action.
    # Older API versions lack it; X-Shopify-Webhook-Id then identifies the delivery.
    event_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    if not event_id:
        raise BadRequest("missing header x-shopify-event-id (or x-shopify-webhook-id)")
    triggered = headers.get("x-shopify-triggered-at")
    return InboundEvent(
        platform=Platform.SHOPIFY,
        topic=topic,
        dedupe_key=_digest(event_id.strip()),
        resource=_shopify_resource(topic, payload),
        triggered_at=_parse_time(triggered, "x-shopify-triggered-at") if triggered else received_at,
        source=headers.get("x-shopify-shop-domain", ""),
        payload=payload,
    )


def parse_woocommerce(
    topic: str, headers: Mapping[str, str], body: bytes, received_at: datetime
) -> InboundEvent:
    payload = _json_object(body)
    source = headers.get("x-wc-webhook-source", "")
    resource_type = topic.split(".", 1)[0]
    # Any API version the shop chose for this webhook, read as v3 (the stored body stays as sent).
    shape = as_v3(resource_type, payload, received_at)
    resource_id = _id_of(shape, "id", topic)
    modified = shape.get("date_modified_gmt")
    if topic.endswith(".deleted") and not modified:
        # Deletions carry only the id, so the delivery is the event (an order can be deleted, restored
        # and deleted again); a retried deletion applied twice is harmless.
        version = "deleted:" + (headers.get("x-wc-webhook-delivery-id") or received_at.isoformat())
        triggered = received_at
    else:
        triggered = _parse_time(modified, f"{topic}: field 'date_modified_gmt'")
        version = triggered.isoformat()
    return InboundEvent(
        platform=Platform.WOOCOMMERCE,
        topic=topic,
        # No event id in WooCommerce (X-WC-Webhook-Delivery-ID changes per attempt): the store, the
        # resource, its modification time and the topic identify the event.
        dedupe_key=_digest(source, resource_type, resource_id, version, topic),
        resource=f"{resource_type}#{resource_id}",
        triggered_at=triggered,
        source=source,
        payload=payload,
    )


def parse_bigcommerce(
    topic: str, headers: Mapping[str, str], body: bytes, received_at: datetime
) -> InboundEvent:
    payload = _json_object(body)
    event_hash = payload.get("hash")
    if not isinstance(event_hash, str) or not event_hash:
        raise BadRequest("field 'hash' is missing")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadRequest("field 'data' is missing or not an object")
    if topic.startswith("store/shipment/"):
        order_id = _id_of(data, "orderId", f"{topic} data")
    else:
        order_id = _id_of(data, "id", f"{topic} data")
    created = payload.get("created_at")
    # ``hash`` is the SHA-1 of ``data`` alone, the same {"type": "order", "id": N} for every event of
    # an order: with the scope and the event's own time it names one event, and a retry (the same body)
    # still finds it.
    return InboundEvent(
        platform=Platform.BIGCOMMERCE,
        topic=topic,
        dedupe_key=_digest(str(payload.get("store_id", "")), topic, event_hash, str(created)),
        resource=f"order#{order_id}",
        triggered_at=_parse_time(created, "field 'created_at'") if created is not None else received_at,
        source=str(payload.get("store_id", "")),
        payload=payload,
    )


PARSERS = {
    Platform.SHOPIFY: parse_shopify,
    Platform.WOOCOMMERCE: parse_woocommerce,
    Platform.BIGCOMMERCE: parse_bigcommerce,
}


def is_woocommerce_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned creation ping: form-encoded ``webhook_id=<id>``, no signature header."""
    if headers.get("x-wc-webhook-signature"):
        return False
    text = body.decode("ascii", "replace").strip()
    name, _, value = text.partition("=")
    return name == "webhook_id" and value.isdigit()
