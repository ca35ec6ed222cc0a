"""Reading the normalised records back: an order with its fulfilments and refunds, and its derived
delivery and financial states."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field

from services.feedback.domain.orders.normalise import to_utc

DELIVERED = "delivered"


class Fulfilment(BaseModel):
    fulfilment_id: str
    status: str | None = None
    shipment_status: str | None = None
    tracking_status: str | None = None
    tracking_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Fields dropped or replaced on the way in (decision 70): {"field", "value", "action"}.
    warnings: list[dict[str, str]] = Field(default_factory=list)

    @property
    def delivered_at(self) -> datetime | None:
        if self.tracking_status == DELIVERED:
            return self.tracking_at
        if self.shipment_status == DELIVERED:
            return self.updated_at
        return None

    @property
    def cancelled(self) -> bool:
        return self.status in ("cancelled", "error", "failure")


class Refund(BaseModel):
    refund_id: str
    # What the customer got back, in the currency they paid (the order's); None when unreadable.
    amount: str | None = None  # a decimal string
    currency: str | None = None
    refunded_at: datetime | None = None
    # The same in the shop's own currency, where that differs (Shopify's multi-currency orders).
    shop_amount: str | None = None
    shop_currency: str | None = None
    # Deleted in the shop (WooCommerce): the order's newest version no longer lists it; not counted.
    deleted: bool = False
    warnings: list[dict[str, str]] = Field(default_factory=list)

    def amount_in(self, currency: str | None) -> Decimal | None:
        """Its amount in ``currency`` (either of its own two; either side unknown counts as the same),
        or None: amounts of different currencies are never added."""
        if self.deleted:
            return None
        if self.currency is None or currency is None or self.currency == currency:
            return _decimal(self.amount)
        return _decimal(self.shop_amount) if self.shop_currency == currency else None


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None


class Order(BaseModel):
    platform: str
    order_id: str
    name: str | None = None
    email: str | None = None
    first_name: str | None = None
    customer_key: str | None = None
    created_at: datetime | None = None
    source_updated_at: datetime | None = None
    # In the currency the customer paid; the shop's own currency and total beside it when they differ.
    total: str | None = None
    currency: str | None = None
    shop_total: str | None = None
    shop_currency: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    fulfilled_at: datetime | None = None
    deleted_at: datetime | None = None
    status_ping: str | None = None
    status_ping_at: datetime | None = None
    test: bool = False
    line_items: list[dict[str, Any]] = Field(default_factory=list)
    fulfilments: list[Fulfilment] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    # Fields of the order dropped or replaced on the way in (decision 70): {"field", "value", "action"}.
    warnings: list[dict[str, str]] = Field(default_factory=list)

    @property
    def deleted(self) -> bool:
        if self.deleted_at is None:
            return False
        return self.source_updated_at is None or self.deleted_at >= self.source_updated_at

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None or self.financial_state == "refunded"

    @property
    def refunded(self) -> Decimal:
        """The live refunds' sum in the order's currency (a refund in another one cannot be compared)."""
        amounts = (r.amount_in(self.currency) for r in self.refunds)
        return sum((a for a in amounts if a is not None), Decimal(0))

    @property
    def financial_state(self) -> str:
        """paid, partially_refunded or refunded: from the refunds against the total, or the platform's
        own status when it says more (a refund cxloop has not seen, or one in another currency)."""
        total = _decimal(self.total)
        refunded = self.refunded
        if self.financial_status == "refunded" or (total and total > 0 and refunded >= total):
            return "refunded"
        if refunded > 0 or self.financial_status == "partially_refunded":
            return "partially_refunded"
        return "paid"

    @property
    def shipped_at(self) -> datetime | None:
        """When the order left: the fulfilment platform's time, or the earliest fulfilment."""
        times = [f.created_at for f in self.fulfilments if f.created_at and not f.cancelled]
        if self.fulfilled_at:
            times.append(self.fulfilled_at)
        if self.status_ping in ("shipped", "completed") and self.status_ping_at:
            times.append(self.status_ping_at)
        return min(times) if times else None

    @property
    def delivered_at(self) -> datetime | None:
        """When the last live fulfilment was delivered; None until all of them are."""
        live = [f for f in self.fulfilments if not f.cancelled]
        if not live or any(f.delivered_at is None for f in live):
            return None
        return max(f.delivered_at for f in live if f.delivered_at)

    @property
    def state(self) -> str:
        if self.deleted:
            return "deleted"
        if self.cancelled:
            return "cancelled"
        if self.delivered_at:
            return "delivered"
        if self.shipped_at:
            return "shipped"
        return "open"


def _times(item: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {f: to_utc(item.get(f), f) for f in fields if item.get(f)}


def _warnings(item: dict[str, Any], *fields: str) -> list[dict[str, str]]:
    """The warnings each attribute group of the item keeps (one attribute per group)."""
    return [w for f in fields for w in item.get(f) or []]


def order_from_items(items: list[dict[str, Any]]) -> Order | None:
    """Build the view from the order item and its ``#FUL#`` and ``#REF#`` items (plain attribute dicts)."""
    head = next((i for i in items if i.get("kind") == "order"), None)
    if head is None:
        return None
    fulfilments = [
        Fulfilment(
            fulfilment_id=str(i.get("fulfilment_id")),
            status=i.get("status"),
            shipment_status=i.get("shipment_status"),
            tracking_status=i.get("tracking_status"),
            **_times(i, "tracking_at", "created_at", "updated_at"),
            warnings=_warnings(i, "warnings", "tracking_warnings"),
        )
        for i in items
        if i.get("kind") == "fulfilment"
    ]
    listed = head.get("refund_ids")
    refunds = [
        Refund(
            refund_id=str(i.get("refund_id")),
            amount=i.get("amount"),
            currency=i.get("currency"),
            shop_amount=i.get("shop_amount"),
            shop_currency=i.get("shop_currency"),
            deleted=isinstance(listed, list) and str(i.get("refund_id")) not in listed,
            warnings=_warnings(i, "warnings"),
            **_times(i, "refunded_at"),
        )
        for i in items
        if i.get("kind") == "refund"
    ]
    plain = {
        k: head.get(k)
        for k in (
            "platform",
            "order_id",
            "name",
            "email",
            "first_name",
            "customer_key",
            "total",
            "currency",
            "shop_total",
            "shop_currency",
            "financial_status",
            "fulfillment_status",
            "status_ping",
        )
        if head.get(k) is not None
    }
    if head.get("test") is True:
        plain["test"] = True
    times = _times(
        head,
        "created_at",
        "source_updated_at",
        "cancelled_at",
        "fulfilled_at",
        "deleted_at",
        "status_ping_at",
    )
    return Order(
        **plain,
        **times,
        line_items=head.get("line_items") or [],
        fulfilments=fulfilments,
        refunds=sorted(refunds, key=lambda r: (r.refunded_at is None, r.refunded_at, r.refund_id)),
        warnings=_warnings(head, "warnings", "status_ping_warnings", "refund_warnings"),
    )
