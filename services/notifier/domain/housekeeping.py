"""The notifier's bookkeeping events: orders for churn risk, sent counts for response rates,
suppressions for replies, and erasures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from services.notifier.domain.ports import NotifierStore, OrderLine
from shared import events

RISK_STALE = "churn#stale"  # a mark: the shop's churn risk has changed since it was last computed
RISK_STALE_TTL = timedelta(days=3)  # the daily run computes it anyway


def risk_changed(store: NotifierStore, shop_id: str, now: datetime) -> None:
    """An order or an answer of a customer came: the next read of the customers at risk computes again."""
    if not store.is_marked(shop_id, RISK_STALE):  # a read, not a write per order of a busy shop
        store.mark_once(shop_id, RISK_STALE, now + RISK_STALE_TTL)


class HookSecrets(Protocol):
    def delete(self, shop_id: str, source: str) -> None: ...


def handle(
    store: NotifierStore,
    hooks: HookSecrets,
    detail_type: str,
    shop_id: str,
    data: dict[str, Any],
    now: datetime,
) -> str:
    if detail_type == events.ORDER_RECORDED:
        order = events.OrderRecorded.model_validate(data)
        line = OrderLine(order.order_id, order.placed_at, order.total, order.cancelled, order.currency)
        contact = {"first_name": order.first_name or "", "email": order.email or ""}
        store.add_order(shop_id, order.customer_key, line, contact)
        risk_changed(store, shop_id, now)
        return "order"
    if detail_type == events.SURVEYS_SENT:
        sent = events.SurveysSent.model_validate(data)
        for survey_type, count in sent.counts.items():
            store.add_sent(shop_id, sent.day, survey_type, count, sent.run_id)
        return "sent counts"
    if detail_type == events.CONTACT_SUPPRESSED:
        suppressed = events.ContactSuppressed.model_validate(data)
        store.suppress(shop_id, suppressed.email_hash, suppressed.reason, now)
        return "suppressed"
    if detail_type == events.CUSTOMER_ERASED:
        keys = [str(k) for k in data.get("customer_keys") or []]
        return f"{store.erase_customer(shop_id, keys, [str(o) for o in data.get('orders') or []])} erased"
    if detail_type == events.SHOP_ERASED:
        hooks.delete(shop_id, "slack")
        return f"{store.erase_shop(shop_id)} erased"
    return "ignored"
