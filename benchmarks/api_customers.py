"""The customers of ``benchmarks/api.py``'s big shop: their order histories and what the daily run leaves
for the retention, at-risk, service and themes pages to read (issue 19, item 2).

Building 20,000 customers' orders through the events function (one versioned write per order, then a
risk and a value write per customer) would take longer than the rest of the benchmark, so the final
items are built here, as the store leaves them, and written with BatchWriteItem; the figures on them
come from the daily run's own code: ``churn_refresh.score`` and ``valuable_from`` (each customer's risk,
the valuable bar), ``lifetime.estimate`` (the lifetime values), ``retention_snapshot.build`` (the
month's snapshot, written with ``DynamoRetention.put``), ``emerging.refresh`` (the EMERGING item) and
the store's ``put_risk_run``/``put_value_run``. ``check_layout`` writes a few customers through the
real store path (``add_order``, ``set_risk``, ``set_value``) and compares the items.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifier.adapters.dynamo_notifier import MAX_ORDERS, DynamoNotifierStore
from services.notifier.adapters.dynamo_retention import DynamoRetention
from services.notifier.domain import churn, churn_refresh, emerging, lifetime, retention_snapshot
from services.notifier.domain.model import AlertSettings
from services.notifier.domain.ports import Customer, CustomerValue, OrderLine, RiskRun
from services.notifier.domain.retention import main_currency
from shared.dynamo import customer_sk, ordered_sk, shop_index_pk, shop_key

FIRST_NAMES = ("Ana", "Lou", "Maya", "Tom", "Ida", "Bo", "Noor", "Sam", "Eli", "Kai")


@dataclass(frozen=True)
class Seeded:
    customers: int
    orders: int
    at_risk: int
    valued: int
    value_reason: str | None
    snapshot_bytes: int
    seconds: dict[str, float]


def synthetic_customers(n: int, now: datetime, seed: int = 5) -> list[Customer]:
    """First purchases over two years; each buys at a gamma-distributed rate and leaves after a purchase
    with a chance of its own (BG/NBD's story), spending around a mean of their own, in euros."""
    rng = random.Random(seed)
    found = []
    for i in range(n):
        at = now - timedelta(days=rng.uniform(1, 730))
        rate = rng.gammavariate(0.7, 1 / 30)  # purchases a day
        leave = rng.betavariate(1.2, 4.0)
        mean = rng.gammavariate(4.0, 15.0)
        orders: list[OrderLine] = []
        while at < now and len(orders) < 40:
            total = round(max(1.0, rng.gammavariate(6.0, mean / 6.0)), 2)
            orders.append(OrderLine(f"b{i}-{len(orders)}", at, total, rng.random() < 0.02, "EUR"))
            if rng.random() < leave or rate <= 0:
                break
            at += timedelta(days=min(1000.0, rng.expovariate(rate)))
        name = FIRST_NAMES[i % len(FIRST_NAMES)]
        found.append(Customer(f"email:b{i}", tuple(orders), first_name=name, email=f"b{i}@big.example"))
    return found


def customer_item(
    shop_id: str, c: Customer, risk: float, risky: bool, reasons: tuple[str, ...], value: CustomerValue | None
) -> dict[str, Any]:
    """The customer's item as ``add_order`` (each order), ``set_risk`` and ``set_value`` leave it."""
    sk = customer_sk(c.customer_key)
    orders = [
        {"order_id": o.order_id, "at": o.at.isoformat(), "total": o.total, "cancelled": o.cancelled,
         "currency": o.currency}
        for o in c.orders
    ]  # fmt: skip
    item: dict[str, Any] = {
        **shop_key(shop_id, sk),
        "orders": {"S": json.dumps(sorted(orders, key=lambda o: str(o["at"]))[-MAX_ORDERS:])},
        "ov": {"N": str(len(c.orders))},
        "cust_pk": {"S": shop_index_pk(shop_id, c.customer_key)},
        "cust_sk": {"S": sk},
        "risk": {"N": f"{risk:.4f}"},
        "at_risk": {"BOOL": risky},
        "reasons": {"S": json.dumps(list(reasons))},
    }
    for field_name, text in (("first_name", c.first_name), ("email", c.email)):
        if text:
            item[field_name] = {"S": text}
    if risky:
        item["feed_pk"] = {"S": shop_index_pk(shop_id, "RISK")}
        item["feed_sk"] = {"S": ordered_sk(f"{risk:.4f}", c.customer_key)}
    if value is not None:
        item["clv_to_date"] = {"N": f"{value.to_date:.2f}"}
        item["clv_next_year"] = {"N": f"{value.next_year:.2f}"}
    return item


def _judged(
    customers: list[Customer], now: datetime, settings: AlertSettings
) -> tuple[dict[str, tuple[float, bool, tuple[str, ...]]], float, int]:
    """The refresh's verdicts (``churn_refresh.refresh`` without its writes: no feedback here)."""
    spends = [
        sum(o.total for o in churn_refresh.kept(c, now)) for c in customers if churn_refresh.kept(c, now)
    ]
    bar = churn_refresh.valuable_from(spends, settings.churn_min_spend)
    verdicts, judged = {}, 0
    for c in customers:
        row = churn_refresh.score(c, now, None, churn.DEFAULT)
        judged += row is not None
        risky = row is not None and row.risk >= settings.churn_threshold and row.spend_total >= bar
        verdicts[c.customer_key] = (row.risk, risky, row.reasons) if row else (0.0, False, ())
    return verdicts, bar, judged


def seed_customers(
    writer: Any, store: DynamoNotifierStore, retention: DynamoRetention, shop_id: str, n: int, now: datetime
) -> Seeded:
    """Writes the customers' items (through ``writer``, BatchWriteItem) and the daily run's items."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    customers = synthetic_customers(n, now)
    settings = AlertSettings()
    verdicts, bar, judged = _judged(customers, now, settings)
    seconds["risk"] = time.perf_counter() - started
    started = time.perf_counter()
    fitted = lifetime.estimate(customers, now)
    seconds["lifetime fit"] = time.perf_counter() - started
    for c in customers:
        risk, risky, reasons = verdicts[c.customer_key]
        writer.put(customer_item(shop_id, c, risk, risky, reasons, fitted.values.get(c.customer_key)))
    started = time.perf_counter()
    snapshot = retention_snapshot.build(customers, [], now, fitted.values, fitted.run)
    retention.put(shop_id, snapshot)
    seconds["retention snapshot"] = time.perf_counter() - started
    with_orders = [c for c in customers if churn_refresh.kept(c, now)]
    store.put_risk_run(
        shop_id,
        RiskRun(
            computed_at=now,
            valuable_from=bar,
            currency=main_currency(with_orders, now),
            customers=len(with_orders),
            judged=judged,
        ),
    )
    store.put_value_run(shop_id, fitted.run)
    return Seeded(
        customers=len(customers),
        orders=sum(len(c.orders) for c in customers),
        at_risk=sum(v[1] for v in verdicts.values()),
        valued=len(fitted.values),
        value_reason=fitted.run.reason,
        snapshot_bytes=len(snapshot.model_dump_json()),
        seconds=seconds,
    )


def refresh_emerging(store: DynamoNotifierStore, shop_id: str, now: datetime) -> float:
    """The daily run's emerging topics (its weekly phrase counts and the EMERGING item), timed."""
    started = time.perf_counter()
    emerging.refresh(store, shop_id, now)
    return time.perf_counter() - started


def check_layout(
    client: Any, table: str, store: DynamoNotifierStore, shop_id: str, now: datetime
) -> list[str]:
    """Three customers written through the store's own calls must equal the built items."""
    problems = []
    for drawn in synthetic_customers(3, now, seed=99):
        key = drawn.customer_key.replace("email:", "email:check-")
        c = Customer(key, drawn.orders, first_name=drawn.first_name, email=drawn.email)
        for line in c.orders:
            store.add_order(shop_id, key, line, {"first_name": c.first_name or "", "email": c.email or ""})
        risk, risky, reasons = 0.61, len(c.orders) > 1, ("a long time since the last order",)
        store.set_risk(shop_id, key, risk, risky, reasons)
        value = CustomerValue(12.5, 40.25)
        store.set_value(shop_id, key, value)
        got = client.get_item(TableName=table, Key=shop_key(shop_id, customer_sk(key)), ConsistentRead=True)
        want = customer_item(shop_id, c, risk, risky, reasons, value)
        stored = got.get("Item", {})
        for name in sorted(set(want) | set(stored)):
            if want.get(name) != stored.get(name):
                problems.append(
                    f"customer item {name}: built {want.get(name)!r} / stored {stored.get(name)!r}"
                )
                break
        client.delete_item(TableName=table, Key=shop_key(shop_id, customer_sk(key)))
    return problems
