"""The notifier's bookkeeping events: orders for churn risk, sent counts for response rates,
suppressions for replies, and erasures."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from services.notifier.domain.ports import NotifierStore, OrderLine
from shared import events


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
        line = OrderLine(order.order_id, order.placed_at, order.total, order.cancelled)
        store.add_order(shop_id, order.customer_key, line, {"first_name": order.first_name or ""})
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
