"""From platform payloads to the feedback service's records: orders, fulfilments, customers.

Each record is split into attribute groups (the order resource, its deletion, a fulfilment's
resource, its carrier tracking, a BigCommerce status ping). Every change to a group sets the same
attributes and carries a version; the store keeps the newest version of each group. Replaying any
set of events in any order therefore converges on one state.

Tolerance (decision 70): a bad optional field (a quantity of "two", a delivery estimate of "tomorrow",
a status id of "eleven") is dropped, or set to a neutral value, with a warning kept on the record
(``warnings``, per group) and the rest applied; an unreadable version time falls back to the event's
own time. Only a missing identity (an order or fulfilment id) makes an event unusable: that raises
:class:`PermanentDefect`, which the consumer dead-letters at once instead of retrying.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from services.feedback.domain.model import Change, PermanentDefect, StoredEvent
from services.feedback.domain.orders.woocommerce_versions import as_v3
from shared.dynamo import customer_index_pk
from shared.errors import BadRequest
from shared.tenancy import Platform

PERSONAL = ("email", "first_name", "last_name")
MAX_LINE_ITEMS = 50
# A warning quotes at most this much of the bad value: enough to recognise it, never a whole payload.
WARNED_VALUE_CHARS = 60

# What went wrong with one field and what was done instead: {"field", "value", "action"}.
Warnings = list[dict[str, str]]


def customer_key(platform: Platform, customer_id: Any, email: Any) -> str | None:
    """A stable key for a person: the platform's customer id, or a digest of the e-mail for guests."""
    if customer_id not in (None, "", 0, "0"):
        return f"{platform.value}:{customer_id}"
    if isinstance(email, str) and "@" in email:
        return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return None


def _obj(value: Any) -> dict[str, Any]:
    """A payload's nested object, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def to_utc(value: Any, what: str = "time") -> datetime | None:
    """ISO 8601, RFC 2822 (BigCommerce v2) or epoch seconds, to aware UTC; empty means None."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str):
        raise BadRequest(f"{what} is not a time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError) as e:
            raise BadRequest(f"{what} is not a time: {value!r}") from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def warn(warnings: Warnings, field: str, value: Any, action: str) -> None:
    warnings.append({"field": field, "value": repr(value)[:WARNED_VALUE_CHARS], "action": action})


def lenient_time(
    value: Any, field: str, warnings: Warnings, instead: datetime | None = None
) -> datetime | None:
    """An optional time: unreadable means ``instead`` (a cancellation without a readable time is
    still a cancellation), or nothing."""
    try:
        return to_utc(value, field)
    except BadRequest:
        warn(warnings, field, value, "dropped" if instead is None else "used the record's time")
        return instead


def quantity(value: Any, field: str, warnings: Warnings) -> int | None:
    """A whole number of items; a count that is not one (``"two"``, ``1.5``) is dropped, not guessed."""
    if value in (None, ""):
        return 0
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        count = Decimal(str(value).strip())
        if not count.is_finite() or count != count.to_integral_value():
            raise InvalidOperation
    except InvalidOperation:
        warn(warnings, field, value, "dropped")
        return None
    return int(count)


def identity(payload: Mapping[str, Any], field: str, what: str) -> str:
    """An id the record is stored under: without it nothing can be applied, now or on any retry."""
    value = _id_text(payload.get(field))
    if value is None:
        raise PermanentDefect(f"{what}: field '{field}' is missing")
    return value


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else None


def version(at: datetime, attrs: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(attrs, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{iso(at)}#{digest}"


def _change(
    sk: str,
    at: datetime,
    attrs: dict[str, Any],
    *,
    group: str = "v",
    personal: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    gsi1: tuple[str, str] | None = None,
    owns_gsi1: bool = False,
) -> Change:
    if sk.startswith("ORDER#"):
        # An erased person's orders are tombstoned too: a late fulfilment webhook names no person,
        # but its raw body (a destination address) must not outlive the erasure.
        keys = (*keys, order_tombstone(sk))
    return Change(
        sk=sk,
        group=group,
        version=version(at, attrs),
        attrs=attrs,
        personal=personal,
        customer_keys=keys,
        gsi1pk=gsi1[0] if gsi1 else None,
        gsi1sk=gsi1[1] if gsi1 else None,
        owns_gsi1=owns_gsi1,
    )


def order_tombstone(sk: str) -> str:
    """The tombstone key of the order an item belongs to: ``ORDER#<platform>#<id>``."""
    return "#".join(sk.split("#")[:3])


def person_keys(cust: str | None, email: Any) -> tuple[str, ...]:
    """All the keys a person may be known by: their customer key and their e-mail's."""
    keys = [cust] if cust else []
    if isinstance(email, str) and "@" in email:
        keys.append(email_key(email))
    return tuple(dict.fromkeys(keys))


def order_sk(platform: Platform, order_id: Any) -> str:
    return f"ORDER#{platform.value}#{order_id}"


def refund_sk(platform: Platform, order_id: Any, refund_id: Any) -> str:
    return f"{order_sk(platform, order_id)}#REF#{refund_id}"


def customer_sk(key: str) -> str:
    return f"CUSTOMER#{key}"


def _required_time(payload: Mapping[str, Any], field: str, what: str) -> datetime:
    at = to_utc(payload.get(field), f"{what} {field}")
    if at is None:
        raise BadRequest(f"{what}: field '{field}' is missing")
    return at


def version_time(
    payload: Mapping[str, Any], field: str, what: str, fallback: datetime | None, warnings: Warnings
) -> datetime:
    """The record's version time; missing or unreadable, the event's own time (``fallback``), so the
    event still applies and later events still win. Without a fallback, a :class:`BadRequest`."""
    try:
        return _required_time(payload, field, what)
    except BadRequest:
        if fallback is None:
            raise
        warn(warnings, field, payload.get(field), "used the event's time")
        return fallback


def _order_change(
    shop_id: str,
    platform: Platform,
    at: datetime,
    fields: dict[str, Any],
    cust: str | None,
) -> Change:
    attrs = {"kind": "order", "platform": platform.value, "customer_key": cust, **fields}
    sk = order_sk(platform, fields["order_id"])
    gsi1 = (customer_index_pk(shop_id, cust), sk) if cust else None
    keys = person_keys(cust, fields.get("email"))
    return _change(sk, at, attrs, personal=(*PERSONAL, "customer_key"), keys=keys, gsi1=gsi1, owns_gsi1=True)


def _customer_change(
    platform: Platform, at: datetime, cust: str, customer_id: Any, who: Mapping[str, Any]
) -> Change:
    attrs = {
        "kind": "customer",
        "platform": platform.value,
        "customer_id": str(customer_id) if customer_id not in (None, "", 0) else None,
        "email": who.get("email") or None,
        "first_name": who.get("first_name") or None,
        "last_name": who.get("last_name") or None,
    }
    return _change(customer_sk(cust), at, attrs, personal=PERSONAL, keys=person_keys(cust, attrs["email"]))


def _deletion(platform: Platform, order_id: Any, at: datetime) -> Change:
    attrs = {"kind": "order", "platform": platform.value, "order_id": str(order_id), "deleted_at": iso(at)}
    return _change(order_sk(platform, order_id), at, attrs, group="dv")


def named_line_items(items: Any, warnings: Warnings) -> list[dict[str, Any]]:
    """WooCommerce's line items and BigCommerce's products (both ``name``d) in the stored form."""
    return line_items(items, warnings, ("name",))


def line_items(items: Any, warnings: Warnings, titles: tuple[str, ...]) -> list[dict[str, Any]]:
    """Line items in the stored form, titled by the first of ``titles`` the item has."""
    if not isinstance(items, list):
        return []
    return [
        {
            "title": str(next((li[t] for t in titles if li.get(t)), "")),
            "quantity": quantity(li.get("quantity"), f"line_items[{i}].quantity", warnings),
            "product_id": str(li.get("product_id") or ""),
            "sku": str(li.get("sku") or ""),
        }
        for i, li in enumerate(items[:MAX_LINE_ITEMS])
        if isinstance(li, dict)
    ]


def money(value: Any, what: str) -> str:
    """An amount as a decimal string, never a float (BigCommerce's v3 sends JSON numbers), sign dropped:
    WooCommerce lists refunds as negative totals."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequest(f"{what} is not an amount: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as e:
        raise BadRequest(f"{what} is not an amount: {value!r}") from e
    if not amount.is_finite():
        raise BadRequest(f"{what} is not an amount: {value!r}")
    return str(abs(amount))


def lenient_money(value: Any, field: str, warnings: Warnings) -> str | None:
    """An amount, or None with a warning: a refund whose amount cannot be read is still a refund."""
    try:
        return money(value, field)
    except BadRequest:
        warn(warnings, field, value, "dropped")
        return None


def _refund_id(refund: Mapping[str, Any], field: str, order_warnings: Warnings) -> str | None:
    """A refund's id; without one the refund cannot be told from another, so it is dropped with a
    warning on its order (decision 70), never the order's event."""
    refund_id = _id_text(refund.get("id"))
    if refund_id is None:
        warn(order_warnings, field, refund.get("id"), "refund dropped: it has no id")
    return refund_id


def _identified_refunds(
    order: Mapping[str, Any], order_warnings: Warnings
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The order's ``refunds`` that are objects with an id, each with its id; the others are dropped
    with a warning naming their place (``refunds[2].id``)."""
    for i, refund in enumerate(_list(order.get("refunds"))):
        if isinstance(refund, dict) and (refund_id := _refund_id(refund, f"refunds[{i}].id", order_warnings)):
            yield refund_id, refund


def _refund_change(
    platform: Platform,
    order_id: str,
    refund_id: Any,
    at: datetime,
    fields: dict[str, Any],
) -> Change:
    """One refund as its own item under the order: refunds never change, so a redelivery rewrites
    the same values at the same version and changes nothing."""
    attrs = {"kind": "refund", "platform": platform.value, "order_id": order_id, "refund_id": str(refund_id)}
    return _change(refund_sk(platform, order_id, refund_id), at, {**attrs, **fields})


def _refund_warnings_change(platform: Platform, order_id: str, at: datetime, warnings: Warnings) -> Change:
    """A refund event that names no refund leaves its warning on the order, in a group of its own
    (``refund_warnings``): the order's other groups are not this event's to change."""
    attrs = {"kind": "order", "platform": platform.value, "order_id": order_id, "refund_warnings": warnings}
    return _change(order_sk(platform, order_id), at, attrs, group="rwv")


# --- Shopify ----------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _shopify_fulfilment(
    platform: Platform, ful: Mapping[str, Any], order_id: str, fallback: datetime | None = None
) -> Change:
    warnings: Warnings = []
    fulfilment_id = identity(ful, "id", "fulfillment")
    at = version_time(ful, "updated_at", "fulfillment", fallback, warnings)
    attrs = {
        "kind": "fulfilment",
        "platform": platform.value,
        "order_id": order_id,
        "fulfilment_id": fulfilment_id,
        "status": ful.get("status"),
        "shipment_status": ful.get("shipment_status"),
        "tracking_company": ful.get("tracking_company"),
        "tracking_numbers": list(_list(ful.get("tracking_numbers"))),
        "created_at": iso(lenient_time(ful.get("created_at"), "created_at", warnings)),
        "updated_at": iso(at),
        "warnings": warnings,
    }
    return _change(f"{order_sk(platform, order_id)}#FUL#{fulfilment_id}", at, attrs)


def shopify_order(shop_id: str, order: Mapping[str, Any], fallback: datetime | None = None) -> list[Change]:
    """``fallback``: the event's time, the version when ``updated_at`` is unreadable."""
    p = Platform.SHOPIFY
    warnings: Warnings = []
    order_id = identity(order, "id", "order")
    at = version_time(order, "updated_at", "order", fallback, warnings)
    customer = _obj(order.get("customer"))
    email = order.get("email") or order.get("contact_email") or customer.get("email")
    cust = customer_key(p, customer.get("id"), email)
    billing = _obj(order.get("billing_address"))
    refunds = [
        change
        for _, refund in _identified_refunds(order, warnings)
        for change in shopify_refund({"order_id": order_id, **refund}, at)
    ]
    fields = {
        "order_id": order_id,
        "name": order.get("name"),
        "created_at": iso(lenient_time(order.get("created_at"), "created_at", warnings)),
        "source_updated_at": iso(at),
        **_shopify_totals(order, warnings),
        "financial_status": order.get("financial_status"),
        "fulfillment_status": order.get("fulfillment_status"),
        "cancelled_at": iso(lenient_time(order.get("cancelled_at"), "cancelled_at", warnings, at)),
        "closed_at": iso(lenient_time(order.get("closed_at"), "closed_at", warnings, at)),
        "email": email or None,
        "first_name": customer.get("first_name") or billing.get("first_name") or None,
        "last_name": customer.get("last_name") or billing.get("last_name") or None,
        "locale": order.get("customer_locale"),
        "test": bool(order.get("test")),
        "line_items": line_items(order.get("line_items"), warnings, ("title", "name")),
        "warnings": warnings,
    }
    changes = [_order_change(shop_id, p, at, fields, cust)]
    if cust and customer:
        cust_at = lenient_time(customer.get("updated_at"), "customer.updated_at", warnings) or at
        who = {**customer, "email": customer.get("email") or email}
        changes.append(_customer_change(p, cust_at, cust, customer.get("id"), who))
    for ful in _list(order.get("fulfillments")):
        if isinstance(ful, dict) and _id_text(ful.get("id")) is not None:
            changes.append(_shopify_fulfilment(p, ful, order_id, fallback))
    return changes + refunds


def _shopify_totals(order: Mapping[str, Any], warnings: Warnings) -> dict[str, Any]:
    """The order's total in the currency the customer paid (``presentment_currency``, in which its
    refunds are recorded too), and in the shop's own currency when that differs: what the shop's
    figures (a customer's spend) add up."""
    shop_currency = order.get("currency")
    shop_total = str(order.get("total_price") or "0")
    currency = order.get("presentment_currency") or shop_currency
    if currency == shop_currency:
        return {"currency": currency, "total": shop_total, "shop_currency": None, "shop_total": None}
    amount, paid_in = money_set(order.get("total_price_set"), "presentment_money")
    field = "total_price_set.presentment_money"
    total = (
        lenient_money(amount, field, warnings) if amount is not None and paid_in in (None, currency) else None
    )
    return {"currency": currency, "total": total, "shop_currency": shop_currency, "shop_total": shop_total}


def shopify_refund(refund: Mapping[str, Any], fallback: datetime | None = None) -> list[Change]:
    """A Shopify Refund (``refunds/create``, or one of an order's ``refunds``): the money is its
    ``kind: refund`` transactions that did not fail; a restock-only refund has none and counts 0.

    ``fallback``: the version time when ``created_at`` is unreadable (the event's, or the order's); a
    ``refunds/create`` without an id leaves its warning on the order (``refund_warnings``)."""
    order_id = _id_text(refund.get("order_id"))
    if order_id is None:
        return []
    dropped: Warnings = []
    refund_id = _refund_id(refund, "id", dropped)
    if refund_id is None:
        return (
            []
            if fallback is None
            else [_refund_warnings_change(Platform.SHOPIFY, order_id, fallback, dropped)]
        )
    warnings: Warnings = []
    at = version_time(refund, "created_at", "refund", fallback, warnings)
    fields = {
        **_shopify_refund_money(refund, warnings),
        "refunded_at": iso(lenient_time(refund.get("processed_at"), "processed_at", warnings, at) or at),
        "warnings": warnings,
    }
    return [_refund_change(Platform.SHOPIFY, order_id, refund_id, at, fields)]


def money_set(value: Any, which: str) -> tuple[Any, Any]:
    """One side of a Shopify MoneyBag (``{"shop_money": {"amount", "currency_code"}, "presentment_money":
    ...}``) as (amount, currency); (None, None) when the set or the side is missing."""
    side = _obj(_obj(value).get(which))
    return side.get("amount"), side.get("currency_code") or side.get("currency")


def _sum_one_currency(
    amounts: list[tuple[str | None, Any]], field: str, warnings: Warnings
) -> tuple[str | None, Any]:
    """Amounts of one currency summed; any unreadable one, or two currencies, leaves no sum (never a
    total of different currencies), with a warning naming them."""
    currencies = sorted({str(c) for _, c in amounts if c})
    if len(currencies) > 1:
        warn(warnings, field, currencies, "not summed: amounts in different currencies")
        return None, None
    currency = currencies[0] if currencies else None
    if any(a is None for a, _ in amounts):
        return None, currency
    return str(sum((Decimal(a) for a, _ in amounts if a is not None), Decimal(0))), currency


def _shopify_refund_money(refund: Mapping[str, Any], warnings: Warnings) -> dict[str, Any]:
    """What the customer got back, in the currency they paid (the order's presentment currency: a
    transaction's ``amount_set.presentment_money``, else its ``amount`` and ``currency``, which Shopify
    gives in the presentment currency), and what it came to in the shop's currency when that differs."""
    transactions = [
        t
        for t in _list(refund.get("transactions"))
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") not in ("failure", "error")
    ]
    paid: list[tuple[str | None, Any]] = []
    shop: list[tuple[str | None, Any]] = []
    for i, t in enumerate(transactions):
        amount, currency = money_set(t.get("amount_set"), "presentment_money")
        if amount is None:
            amount, currency = t.get("amount"), t.get("currency")
        paid.append((lenient_money(amount, f"transactions[{i}].amount", warnings), currency))
        shop_amount, shop_currency = money_set(t.get("amount_set"), "shop_money")
        shop.append(
            (lenient_money(shop_amount, f"transactions[{i}].amount_set.shop_money", []), shop_currency)
        )
    amount, currency = _sum_one_currency(paid, "transactions[].currency", warnings)
    if currency is None:
        # A restock-only refund moves no money; its line items still say which currency it is in.
        line = next((li for li in _list(refund.get("refund_line_items")) if isinstance(li, dict)), {})
        currency = money_set(line.get("subtotal_set"), "presentment_money")[1]
    shop_amount, shop_currency = _sum_one_currency(shop, "transactions[].amount_set.shop_money", [])
    if not transactions:
        amount = "0"
    if shop_amount is None or shop_currency is None or shop_currency == currency:
        shop_amount, shop_currency = None, None
    return {
        "amount": amount,
        "currency": currency,
        "shop_amount": shop_amount,
        "shop_currency": shop_currency,
    }


def _id_text(value: Any) -> str | None:
    return None if value in (None, "") or isinstance(value, bool) else str(value)


def shopify_fulfilment_event(ev: Mapping[str, Any], fallback: datetime | None = None) -> list[Change]:
    p = Platform.SHOPIFY
    warnings: Warnings = []
    order_id = identity(ev, "order_id", "fulfillment event")
    fulfilment_id = identity(ev, "fulfillment_id", "fulfillment event")
    at = version_time(ev, "happened_at", "fulfillment event", fallback, warnings)
    attrs = {
        "kind": "fulfilment",
        "platform": p.value,
        "order_id": order_id,
        "fulfilment_id": fulfilment_id,
        "tracking_status": ev.get("status"),
        "tracking_at": iso(at),
        "estimated_delivery_at": iso(
            lenient_time(ev.get("estimated_delivery_at"), "estimated_delivery_at", warnings)
        ),
        # Its own name: the fulfilment's resource group keeps ``warnings`` on the same item.
        "tracking_warnings": warnings,
    }
    sk = f"{order_sk(p, order_id)}#FUL#{fulfilment_id}"
    return [_change(sk, at, attrs, group="tv")]


def customer_resource(platform: Platform, customer: Mapping[str, Any], updated_field: str) -> list[Change]:
    """A platform's customer resource (Shopify ``customers/*``, WooCommerce ``customer.*``)."""
    cust = customer_key(platform, customer.get("id"), customer.get("email"))
    if cust is None:
        return []
    at = _required_time(customer, updated_field, "customer")
    return [_customer_change(platform, at, cust, customer.get("id"), customer)]


def shopify_customer(customer: Mapping[str, Any]) -> list[Change]:
    return customer_resource(Platform.SHOPIFY, customer, "updated_at")


# Topics whose body is one item under an order, not the order; given the event's time as a fallback.
_SHOPIFY_SUB_RESOURCES: dict[str, Callable[[Mapping[str, Any], datetime], list[Change]]] = {
    "fulfillment_events/create": shopify_fulfilment_event,
    "refunds/create": shopify_refund,
}


def shopify(shop_id: str, event: StoredEvent, payload: Mapping[str, Any]) -> list[Change]:
    topic, at = event.topic, event.triggered_at
    if topic == "orders/delete":
        return [_deletion(Platform.SHOPIFY, identity(payload, "id", topic), at)]
    if topic.startswith("orders/"):
        return shopify_order(shop_id, payload, at)
    if topic.startswith("fulfillments/"):
        return [_shopify_fulfilment(Platform.SHOPIFY, payload, identity(payload, "order_id", topic), at)]
    if topic in _SHOPIFY_SUB_RESOURCES:
        return _SHOPIFY_SUB_RESOURCES[topic](payload, at)
    if topic.startswith("customers/"):
        return shopify_customer(payload)
    return []


# --- WooCommerce ------------------------------------------------------------------------------


def woocommerce_order(
    shop_id: str, order: Mapping[str, Any], fallback: datetime | None = None
) -> list[Change]:
    p = Platform.WOOCOMMERCE
    warnings: Warnings = []
    order_id = identity(order, "id", "order")
    at = version_time(order, "date_modified_gmt", "order", fallback, warnings)
    billing = _obj(order.get("billing"))
    email = billing.get("email")
    cust = customer_key(p, order.get("customer_id"), email)
    status = order.get("status")
    refunds = order.get("refunds") or []
    refund_changes = woocommerce_refunds(order, at, warnings)
    fields = {
        "order_id": order_id,
        "name": f"#{order.get('number') or order_id}",
        "created_at": iso(lenient_time(order.get("date_created_gmt"), "date_created_gmt", warnings)),
        "source_updated_at": iso(at),
        "currency": order.get("currency"),
        "total": str(order.get("total") or "0"),
        "financial_status": "refunded"
        if status == "refunded"
        else ("partially_refunded" if refunds else None),
        "fulfillment_status": "fulfilled" if status == "completed" else None,
        "cancelled_at": iso(at) if status in ("cancelled", "failed", "trash") else None,
        "closed_at": None,
        # The status is the truth: legacy v3 and v1 send a completion time on orders still processing
        # (their docs' examples), and a reopened order keeps its old one.
        "fulfilled_at": iso(lenient_time(order.get("date_completed_gmt"), "date_completed_gmt", warnings, at))
        if status == "completed"
        else None,
        "email": email or None,
        "first_name": billing.get("first_name") or None,
        "last_name": billing.get("last_name") or None,
        "status": status,
        "test": False,
        "line_items": named_line_items(order.get("line_items"), warnings),
        # The refunds this version of the order lists: one it no longer lists was deleted in the shop.
        # Not known when the payload has no list (legacy v3 lists none, decision 66).
        "refund_ids": [c.attrs["refund_id"] for c in refund_changes]
        if isinstance(order.get("refunds"), list)
        else None,
        "warnings": warnings,
    }
    changes = [_order_change(shop_id, p, at, fields, cust), *refund_changes]
    if cust:
        changes.append(_customer_change(p, at, cust, order.get("customer_id"), billing))
    return changes


# WooCommerce lists an order's refunds without their time: each event that lists one bounds it from
# above by the order's modification time, and the earliest bound is kept. The version counts down (the
# store keeps the greatest), so events applied in any order converge on the first sighting.
_COUNTDOWN_FROM = datetime(9999, 1, 1, tzinfo=UTC)


def _earliest_wins(at: datetime, attrs: Mapping[str, Any]) -> str:
    left = (_COUNTDOWN_FROM - at) // timedelta(microseconds=1)
    return f"{left:020d}#{version(at, attrs).split('#', 1)[1]}"


def woocommerce_refunds(order: Mapping[str, Any], at: datetime, order_warnings: Warnings) -> list[Change]:
    """The v3 order's ``refunds`` (``{id, reason, total}``, totals negative), in the order's currency."""
    order_id = str(order.get("id"))
    changes = []
    for refund_id, refund in _identified_refunds(order, order_warnings):
        warnings: Warnings = []
        fields = {
            "amount": lenient_money(refund.get("total"), "total", warnings),
            "currency": order.get("currency"),
            "refunded_at": iso(at),
            "warnings": warnings,
        }
        change = _refund_change(Platform.WOOCOMMERCE, order_id, refund_id, at, fields)
        changes.append(change.model_copy(update={"version": _earliest_wins(at, change.attrs)}))
    return changes


def woocommerce(shop_id: str, event: StoredEvent, payload: Mapping[str, Any]) -> list[Change]:
    topic = event.topic
    shape = as_v3(topic.split(".", 1)[0], payload, event.triggered_at)
    if topic == "order.deleted":
        return [_deletion(Platform.WOOCOMMERCE, identity(shape, "id", topic), event.triggered_at)]
    if topic.startswith("order."):
        return woocommerce_order(shop_id, shape, event.triggered_at)
    if topic.startswith("customer."):
        return customer_resource(Platform.WOOCOMMERCE, shape, "date_modified_gmt")
    return []


# --- BigCommerce ------------------------------------------------------------------------------

BIGCOMMERCE_STATUS = {
    0: "incomplete",
    1: "pending",
    2: "shipped",
    3: "partially_shipped",
    4: "refunded",
    5: "cancelled",
    6: "declined",
    7: "awaiting_payment",
    8: "awaiting_pickup",
    9: "awaiting_shipment",
    10: "completed",
    11: "awaiting_fulfillment",
    12: "manual_verification_required",
    13: "disputed",
    14: "partially_refunded",
}


def bigcommerce_status(status_id: Any, unknown: Any, field: str, warnings: Warnings) -> str | None:
    """A status id by its name; an id BigCommerce does not define keeps ``unknown`` (its own status
    text), and one that is not a number (``"eleven"``) is dropped with a warning."""
    try:
        if isinstance(status_id, bool) or not isinstance(status_id, int | float | str):
            raise ValueError
        number = int(status_id) if not isinstance(status_id, float) or status_id.is_integer() else -1
        if number < 0:
            raise ValueError
    except ValueError:
        warn(warnings, field, status_id, "dropped")
        return None
    return BIGCOMMERCE_STATUS.get(number, str(unknown))


def bigcommerce_status_ping(event: StoredEvent, payload: Mapping[str, Any]) -> list[Change]:
    """What the thin webhook alone says: an order's new status, at the webhook's time."""
    p = Platform.BIGCOMMERCE
    data = _obj(payload.get("data"))
    status = _obj(data.get("status")).get("new_status_id")
    if status is None:
        return []
    order_id = identity(data, "id", f"{event.topic} data")
    warnings: Warnings = []
    attrs = {
        "kind": "order",
        "platform": p.value,
        "order_id": order_id,
        "status_ping": bigcommerce_status(status, status, "data.status.new_status_id", warnings),
        "status_ping_at": iso(event.triggered_at),
        # Its own name: the order's resource group keeps ``warnings`` on the same item.
        "status_ping_warnings": warnings,
    }
    return [_change(order_sk(p, order_id), event.triggered_at, attrs, group="sv")]


# Statuses that say goods left. ``date_shipped`` alone does not: BigCommerce keeps it on an order
# moved back to "Awaiting Fulfillment".
BIGCOMMERCE_SHIPPED = frozenset({"shipped", "partially_shipped", "completed"})


def bigcommerce_order(
    shop_id: str,
    order: Mapping[str, Any],
    shipments: list[dict[str, Any]],
    fallback: datetime | None = None,
) -> list[Change]:
    """The full order fetched from the v2 API (RFC 2822 times), its products and shipments."""
    p = Platform.BIGCOMMERCE
    warnings: Warnings = []
    order_id = identity(order, "id", "order")
    at = version_time(order, "date_modified", "order", fallback, warnings)
    billing = _obj(order.get("billing_address"))
    email = billing.get("email")
    cust = customer_key(p, order.get("customer_id"), email)
    status = bigcommerce_status(order.get("status_id") or 0, order.get("status"), "status_id", warnings)
    refunds = bigcommerce_refunds(order, at, warnings)
    fields: dict[str, Any] = {
        "order_id": order_id,
        "name": f"#{order_id}",
        "created_at": iso(lenient_time(order.get("date_created"), "date_created", warnings)),
        "source_updated_at": iso(at),
        "currency": order.get("currency_code"),
        "total": str(order.get("total_inc_tax") or "0"),
        "financial_status": status if status in ("refunded", "partially_refunded") else None,
        "fulfillment_status": "fulfilled" if status in ("shipped", "completed") else None,
        "cancelled_at": iso(at) if status in ("cancelled", "declined") else None,
        "closed_at": None,
        "fulfilled_at": iso(lenient_time(order.get("date_shipped"), "date_shipped", warnings, at))
        if status in BIGCOMMERCE_SHIPPED
        else None,
        "email": email or None,
        "first_name": billing.get("first_name") or None,
        "last_name": billing.get("last_name") or None,
        "status": status,
        "test": False,
        # ``products`` as the adapter fetched it (in the v2 order itself, a link to the sub-resource).
        "line_items": named_line_items(order.get("products"), warnings),
        "warnings": warnings,
    }
    changes = [_order_change(shop_id, p, at, fields, cust)]
    if cust:
        changes.append(_customer_change(p, at, cust, order.get("customer_id"), billing))
    changes.extend(_bigcommerce_shipment(order_id, shipment, at) for shipment in shipments)
    return changes + refunds


def _bigcommerce_shipment(order_id: str, shipment: Mapping[str, Any], order_at: datetime) -> Change:
    """A shipment as a fulfilment; created once, so its creation time is its version (the order's
    modification time when unreadable)."""
    p = Platform.BIGCOMMERCE
    warnings: Warnings = []
    shipment_id = identity(shipment, "id", "shipment")
    ship_at = version_time(shipment, "date_created", "shipment", order_at, warnings)
    attrs = {
        "kind": "fulfilment",
        "platform": p.value,
        "order_id": order_id,
        "fulfilment_id": shipment_id,
        "status": "success",
        "shipment_status": None,
        "tracking_company": shipment.get("shipping_provider") or shipment.get("tracking_carrier") or None,
        "tracking_numbers": [shipment["tracking_number"]] if shipment.get("tracking_number") else [],
        "created_at": iso(ship_at),
        "updated_at": iso(ship_at),
        "warnings": warnings,
    }
    return _change(f"{order_sk(p, order_id)}#FUL#{shipment_id}", ship_at, attrs)


# Set by the adapter when the refunds could not be read (``{"status", "action"}``): the order is still
# applied, and the warning says what the shop can do about it.
REFUNDS_UNAVAILABLE = "cxloop_refunds_unavailable"


def bigcommerce_refunds(
    order: Mapping[str, Any], order_at: datetime, order_warnings: Warnings
) -> list[Change]:
    """The v3 refunds the adapter fetched into the order (``total_amount`` a JSON number, ``created``
    ISO 8601); they name no currency, so the order's. An unreadable ``created`` is the order's
    modification time."""
    unavailable = _obj(order.get(REFUNDS_UNAVAILABLE))
    if unavailable:
        warn(order_warnings, "refunds", unavailable.get("status"), str(unavailable.get("action")))
    order_id = str(order.get("id"))
    changes = []
    for refund_id, refund in _identified_refunds(order, order_warnings):
        warnings: Warnings = []
        at = version_time(refund, "created", "refund", order_at, warnings)
        fields = {
            "amount": lenient_money(refund.get("total_amount"), "total_amount", warnings),
            "currency": order.get("currency_code"),
            "refunded_at": iso(at),
            "warnings": warnings,
        }
        changes.append(_refund_change(Platform.BIGCOMMERCE, order_id, refund_id, at, fields))
    return changes


def strip_personal(changes: list[Change]) -> list[Change]:
    """The same changes without personal data, for a customer who asked to be erased."""
    out = []
    for c in changes:
        if c.sk.startswith("CUSTOMER#"):
            continue
        attrs = {k: (None if k in c.personal else v) for k, v in c.attrs.items()}
        out.append(c.model_copy(update={"attrs": attrs, "gsi1pk": None, "gsi1sk": None, "customer_keys": ()}))
    return out
