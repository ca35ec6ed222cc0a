"""What the CLI does, as functions over AWS clients: shops, secrets, dead letters, privacy requests."""

from __future__ import annotations

import json
import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cxloop.resources import Resources
from services.feedback.adapters.dynamo_store import DynamoFeedbackStore
from services.feedback.adapters.sqs_dead_letters import DEAD_LETTER_REASON
from services.feedback.domain import compliance
from services.feedback.domain.model import SHOP_TOMBSTONE
from services.feedback.domain.orders.normalise import iso, order_sk
from services.feedback.domain.orders.records import Order, order_from_items
from shared.dynamo_shops import DynamoShopDirectory
from shared.events import EventBridgePublisher
from shared.secrets_store import SecretsManagerStore
from shared.tenancy import BigCommerceApi, Platform, PlatformSecret, Shop, ShopSecrets


@dataclass
class Admin:
    dynamodb: Any
    sqs: Any
    secretsmanager: Any
    events: Any
    resources: Resources

    @property
    def shops(self) -> DynamoShopDirectory:
        return DynamoShopDirectory(self.dynamodb, self.resources.tables["shops"], cache_seconds=0)

    @property
    def secrets(self) -> SecretsManagerStore:
        return SecretsManagerStore(
            self.secretsmanager, self.resources.prefix, cache_seconds=0, min_refresh_seconds=0
        )

    @property
    def store(self) -> DynamoFeedbackStore:
        return DynamoFeedbackStore(self.dynamodb, self.resources.tables["feedback"])

    # --- shops ------------------------------------------------------------------------------

    def add_shop(
        self,
        shop: Shop,
        secret_values: dict[Platform, str] | None = None,
        bigcommerce_api: BigCommerceApi | None = None,
    ) -> ShopSecrets:
        if Platform.SHOPIFY in shop.platforms and not shop.domain_for(Platform.SHOPIFY):
            # A Shopify app's secret is shared by every shop that installs it: only the shop's
            # *.myshopify.com domain binds a delivery to this shop.
            raise ValueError("a Shopify shop needs its *.myshopify.com domain (--domain)")
        if self.shops.get(shop.shop_id) is not None:
            raise ValueError(
                f"shop_id {shop.shop_id!r}: that shop exists already (`cxloop shop rotate-secret` changes "
                "its secrets)"
            )
        given = secret_values or {}
        stored = ShopSecrets(
            platforms={p: PlatformSecret(current=given.get(p) or new_secret()) for p in shop.platforms},
            bigcommerce_api=bigcommerce_api,
        )
        self.secrets.put(shop.shop_id, stored)
        self.shops.put(shop)
        # A shop that was erased and comes back (reinstalled) starts anew.
        self.store.delete(shop.shop_id, [f"TOMBSTONE#{SHOP_TOMBSTONE}"])
        return stored

    def rotate_secret(
        self, shop_id: str, platform: Platform, grace: timedelta, value: str | None = None
    ) -> str:
        current = self.secrets.get(shop_id, fresh=True)
        if current is None or platform not in current.platforms:
            raise ValueError(f"shop {shop_id!r} has no {platform.value} secret")
        old = current.platforms[platform]
        fresh = value or new_secret()
        current.platforms[platform] = PlatformSecret(
            current=fresh,
            previous=old.current if grace.total_seconds() > 0 else None,
            previous_valid_until=datetime.now(tz=UTC) + grace if grace.total_seconds() > 0 else None,
        )
        self.secrets.put(shop_id, current)
        return fresh

    # --- dead letters -----------------------------------------------------------------------

    def dlq_list(self, queue: str = "feedback-events", limit: int = 100) -> list[dict[str, Any]]:
        """Peek at dead-lettered messages (they become visible again after a short timeout)."""
        url = self.resources.dlq_urls[queue]
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, limit // 10)):
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=2,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen[m["MessageId"]] = _describe(m)
        for m in seen.values():
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=m.pop("_receipt"), VisibilityTimeout=0
            )
        return list(seen.values())

    def dlq_replay(self, queue: str = "feedback-events", message_id: str | None = None) -> int:
        """Move dead-lettered messages (all, or the one with ``message_id``) back to their queue.

        Each body moves at most once per run: a permanent defect the consumer dead-letters again at
        once comes back as a new message, and is left for the next run instead of looping."""
        source, url = self.resources.queue_urls[queue], self.resources.dlq_urls[queue]
        moved, held, bodies = 0, [], set()
        try:
            while batch := self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
            ).get("Messages", []):
                for m in batch:
                    if (message_id and m["MessageId"] != message_id) or m["Body"] in bodies:
                        held.append(m["ReceiptHandle"])  # kept out of sight until the search ends
                        continue
                    bodies.add(m["Body"])
                    attrs = {
                        k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                        for k, v in (m.get("MessageAttributes") or {}).items()
                        if "StringValue" in v and k != DEAD_LETTER_REASON
                    }
                    self.sqs.send_message(QueueUrl=source, MessageBody=m["Body"], MessageAttributes=attrs)
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    moved += 1
                if message_id and moved:
                    return moved  # the rest of this batch is in `held`: visible again at once
            return moved
        finally:
            for receipt in held:
                self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)

    # --- records and privacy ----------------------------------------------------------------

    def order(self, shop_id: str, platform: Platform, order_id: str) -> Order | None:
        return order_from_items(self.store.items(shop_id, order_sk(platform, order_id)))

    def orders(self, shop_id: str) -> list[Order]:
        items = self.store.items(shop_id, "ORDER")
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            head = "#".join(item["sk"].split("#")[:3])
            groups.setdefault(head, []).append(item)
        return [o for o in (order_from_items(g) for g in groups.values()) if o is not None]

    def export_customer(self, shop_id: str, ref: compliance.CustomerRef) -> dict[str, Any]:
        self._require_shop(shop_id)
        return compliance.export_customer(self.store, shop_id, ref)

    def erase_customer(self, shop_id: str, ref: compliance.CustomerRef) -> compliance.ErasureReport:
        self._require_shop(shop_id)
        publisher = EventBridgePublisher(self.events, self.resources.bus_name, "feedback")
        return compliance.erase_customer(self.store, publisher, shop_id, ref, datetime.now(tz=UTC), "cli")

    def exports(self, shop_id: str) -> list[dict[str, Any]]:
        return [
            {"request_id": i["sk"].split("#", 1)[1], "document": json.loads(i["document"])}
            for i in self.store.items(shop_id, "EXPORT")
        ]

    def _require_shop(self, shop_id: str) -> None:
        if self.shops.get(shop_id) is None:
            raise ValueError(f"no shop {shop_id!r}")


def order_document(order: Order) -> dict[str, Any]:
    """What ``order show --json`` prints, for operators and tools: the stored order under its own field
    names, plus what cxloop derives from it (both states, totals, delivery per fulfilment)."""
    refunded = order.refunded
    try:
        net: str | None = str(Decimal(order.total) - refunded) if order.total is not None else None
    except InvalidOperation:
        net = None
    doc = order.model_dump(mode="json")
    doc["fulfilments"] = [
        {**f.model_dump(mode="json"), "delivered_at": iso(f.delivered_at), "cancelled": f.cancelled}
        for f in order.fulfilments
    ]
    return {
        **doc,
        "state": order.state,
        "financial_state": order.financial_state,
        "totals": {"total": order.total, "refunded": str(refunded), "net": net, "currency": order.currency},
        "shipped_at": iso(order.shipped_at),
        "delivered_at": iso(order.delivered_at),
    }


def new_secret() -> str:
    return pysecrets.token_urlsafe(32)


def _describe(message: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(message["Body"])
    except json.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = (message.get("MessageAttributes") or {}).get(DEAD_LETTER_REASON, {})
    return {
        "message_id": message["MessageId"],
        "shop_id": body.get("shop_id"),
        "platform": body.get("platform"),
        "topic": body.get("topic"),
        "received_at": body.get("received_at"),
        "receive_count": message.get("Attributes", {}).get("ApproximateReceiveCount"),
        # Set when the consumer dead-lettered it at once (a permanent defect); else it failed 5 times.
        "reason": reason.get("StringValue"),
        "_receipt": message["ReceiptHandle"],
    }
