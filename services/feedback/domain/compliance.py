"""Privacy requests: export a customer's data, erase a customer, erase a whole shop.

Shopify sends them as compliance webhooks; WooCommerce and BigCommerce shops use the CLI. Erasure
writes tombstones first, so an order event for the same person arriving later is stored without
their personal data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.feedback.domain.orders.normalise import PERSONAL, customer_key, customer_sk, email_key, order_sk
from services.feedback.domain.ports import EventPublisher, RecordStore
from services.feedback.domain.surveys.invitations import invitation_sk, invite_id
from shared import events
from shared.tenancy import Platform, SecretStore, ShopDirectory


@dataclass(frozen=True)
class CustomerRef:
    """Who a request is about, as the platform names them."""

    platform: Platform
    customer_id: str | None = None
    email: str | None = None
    order_ids: tuple[str, ...] = ()

    def customer_keys(self) -> list[str]:
        keys = []
        by_id = customer_key(self.platform, self.customer_id, None)
        if by_id:
            keys.append(by_id)
        if self.email:
            keys.append(email_key(self.email))
        return keys


@dataclass
class ErasureReport:
    customer_keys: list[str]
    orders_anonymised: list[str] = field(default_factory=list)
    records_deleted: int = 0


def person_keys(records: RecordStore, shop_id: str, ref: CustomerRef) -> list[str]:
    """The keys the request names, plus those of stored customers with the same e-mail address
    (a registered customer's orders are keyed by their id, not their e-mail)."""
    keys = ref.customer_keys()
    if ref.email:
        wanted = ref.email.strip().lower()
        for item in records.items(shop_id, "CUSTOMER"):
            if str(item.get("email") or "").strip().lower() == wanted:
                keys.append(item["sk"].removeprefix("CUSTOMER#"))
    for key in list(keys):  # a request by id alone still covers the address the person used
        for item in records.items(shop_id, customer_sk(key)):
            if item.get("email"):
                keys.append(email_key(str(item["email"])))
    return list(dict.fromkeys(keys))


def _order_sks(records: RecordStore, shop_id: str, ref: CustomerRef, keys: Sequence[str]) -> list[str]:
    sks = {order_sk(ref.platform, oid) for oid in ref.order_ids}
    for key in keys:
        sks.update(records.orders_of_customer(shop_id, key))
    return sorted(sks)


def _raw_events(
    records: RecordStore, shop_id: str, keys: Sequence[str], order_sks: Sequence[str]
) -> list[str]:
    resources: list[tuple[Platform, str]] = []
    for sk in order_sks:  # ORDER#<platform>#<id>
        _, platform, order_id = sk.split("#", 2)
        resources.append((Platform(platform), f"order#{order_id}"))
    for key in keys:  # <platform>:<id> (e-mail keys name no platform resource)
        platform, sep, customer_id = key.partition(":")
        if sep and platform in {p.value for p in Platform}:
            resources.append((Platform(platform), f"customer#{customer_id}"))
    found: list[str] = []
    for platform_of, resource in resources:
        found.extend(records.raw_events_of(shop_id, platform_of, resource))
    return found


def _exports_of(records: RecordStore, shop_id: str, keys: Sequence[str]) -> list[str]:
    """Exports made for earlier data requests hold the person's data too."""
    return [
        item["sk"]
        for item in records.items(shop_id, "EXPORT")
        if set(json.loads(item.get("document") or "{}").get("customer_keys") or []) & set(keys)
    ]


def erase_customer(
    records: RecordStore,
    publisher: EventPublisher,
    shop_id: str,
    ref: CustomerRef,
    now: datetime,
    correlation_id: str = "",
) -> ErasureReport:
    if not ref.customer_keys():
        raise ValueError("an erasure needs a customer id or an e-mail address")
    keys = person_keys(records, shop_id, ref)
    records.put_tombstones(shop_id, keys, now)
    report = ErasureReport(customer_keys=keys)
    order_sks = _order_sks(records, shop_id, ref, keys)
    records.put_tombstones(shop_id, order_sks, now)
    for sk in order_sks:
        records.erase_personal(shop_id, sk, (*PERSONAL, "customer_key"))
        report.orders_anonymised.append(sk)
    doomed = _raw_events(records, shop_id, keys, order_sks) + [customer_sk(k) for k in keys]
    doomed += _exports_of(records, shop_id, keys)
    # Their survey invitations and answers, and what throttling and suppression knew of the address.
    doomed += [invitation_sk(invite_id(shop_id, sk)) for sk in order_sks]
    doomed += [f"CONTACT#{k}" for k in keys if k.startswith("email:")]
    records.delete(shop_id, doomed)
    report.records_deleted = len(doomed)
    publisher.publish(
        events.CUSTOMER_ERASED,
        shop_id,
        {"customer_keys": keys, "orders": [sk.split("#", 1)[1] for sk in order_sks]},
        correlation_id,
    )
    return report


def export_customer(records: RecordStore, shop_id: str, ref: CustomerRef) -> dict[str, Any]:
    """Everything cxloop holds about the person: their customer records and orders (with fulfilments)."""
    keys = person_keys(records, shop_id, ref)
    customers = [i for k in keys for i in records.items(shop_id, customer_sk(k))]
    order_sks = _order_sks(records, shop_id, ref, keys)
    orders = [records.items(shop_id, sk) for sk in order_sks]
    surveys = [records.items(shop_id, invitation_sk(invite_id(shop_id, sk))) for sk in order_sks]
    return {
        "shop_id": shop_id,
        "customer_keys": keys,
        "customers": customers,
        "orders": [item for group in orders for item in group],
        "surveys": [json.loads(i["doc"]) for group in surveys for i in group if i.get("doc")],
    }


def record_export(
    records: RecordStore,
    publisher: EventPublisher,
    shop_id: str,
    request_id: str,
    ref: CustomerRef,
    now: datetime,
    retention: timedelta,
    correlation_id: str = "",
) -> dict[str, Any]:
    document = export_customer(records, shop_id, ref)
    records.put_export(shop_id, request_id, document, now + retention)
    publisher.publish(
        events.CUSTOMER_DATA_EXPORTED,
        shop_id,
        {"request_id": request_id, "customer_keys": document["customer_keys"]},
        correlation_id,
    )
    return document


def erase_shop(
    records: RecordStore,
    shops: ShopDirectory,
    secrets: SecretStore,
    publisher: EventPublisher,
    shop_id: str,
    correlation_id: str = "",
) -> int:
    deleted = records.erase_shop(shop_id)
    secrets.delete(shop_id)
    shops.delete(shop_id)
    publisher.publish(events.SHOP_ERASED, shop_id, {"records_deleted": deleted}, correlation_id)
    return deleted
