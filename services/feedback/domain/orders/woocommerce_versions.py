"""WooCommerce's webhook API versions, read as the WP REST v3 shape the normaliser knows.

A shop picks the API version per webhook (legacy v3, WP REST v1, v2, v3) and no header names it
(``X-WC-Webhook-Resource`` and ``-Event`` say only ``order`` and ``updated``), so the body's shape
decides: legacy v3 wraps the resource (``{"order": {...}}``), v1 has no ``*_gmt`` time at all (a v3
body without ``date_modified_gmt`` but with ``date_created_gmt`` stays v3, and a bad request), v2 is v3.
Pure mapping, no I/O; what a version does not carry stays absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def as_v3(resource: str, payload: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
    """The payload in the v3 shape. ``received_at`` stands in for a legacy customer's modification
    time when its WooCommerce is too old to send ``last_update`` (the docs' example has none)."""
    legacy = payload.get(resource)
    if resource == "order" and isinstance(legacy, dict):
        return _legacy_order(legacy)
    if resource == "customer" and isinstance(legacy, dict):
        return _legacy_customer(legacy, received_at)
    if payload.get("date_modified") and not any(key.endswith("_gmt") for key in payload):
        return _wp_v1(payload)
    return dict(payload)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _legacy_order(order: Mapping[str, Any]) -> dict[str, Any]:
    # Legacy times are UTC with a "Z". No refunds list in this version: a refund shows only as the
    # status "refunded".
    billing = _obj(order.get("billing_address"))
    email = billing.get("email") or _obj(order.get("customer")).get("email")
    return {
        "id": order.get("id"),
        "number": order.get("order_number"),
        "status": order.get("status"),
        "currency": order.get("currency"),
        "total": order.get("total"),
        "customer_id": order.get("customer_id"),
        "date_created_gmt": order.get("created_at"),
        "date_modified_gmt": order.get("updated_at"),
        "date_completed_gmt": order.get("completed_at"),
        "billing": {**billing, "email": email} if email else billing,
        "shipping": _obj(order.get("shipping_address")),
        "line_items": order.get("line_items") or [],
    }


def _legacy_customer(customer: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
    modified = customer.get("last_update") or received_at.isoformat()
    return {
        **customer,
        "date_created_gmt": customer.get("created_at"),
        "date_modified_gmt": modified,
        "billing": _obj(customer.get("billing_address")),
        "shipping": _obj(customer.get("shipping_address")),
    }


def _wp_v1(resource: Mapping[str, Any]) -> dict[str, Any]:
    # v1 sends ``date_created`` and ``date_modified`` in UTC (WooCommerce's v1 controller: "v1 API used
    # UTC", whatever its docs say) but ``date_completed`` in the site's time, offset not given. It is
    # read as UTC and capped at the modification: off by at most the site's offset, never later than
    # the change that completed the order.
    shape = {
        **resource,
        "date_created_gmt": resource.get("date_created"),
        "date_modified_gmt": resource.get("date_modified"),
    }
    if "date_completed" in resource:
        shape["date_completed_gmt"] = _capped(resource.get("date_completed"), resource.get("date_modified"))
    return shape


def _capped(local: Any, modified: Any) -> Any:
    try:
        if datetime.fromisoformat(str(local)) > datetime.fromisoformat(str(modified)):
            return modified
    except (TypeError, ValueError):
        pass  # left as sent: the normaliser names a bad time
    return local
