"""One contract, two stores: the in-memory fake used by the unit tier must behave exactly like the
DynamoDB adapter on moto. The same story runs on both; what each store answers and holds is compared."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.feedback.adapters.dynamo_store import DynamoFeedbackStore
from services.feedback.domain.model import StoredEvent
from services.feedback.domain.orders import normalise
from shared.tenancy import Platform
from tests.fakes import InMemoryFeedbackStore
from tests.integration.conftest import Moto, feedback_table_at

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP = "contract-shop"


def _dynamo_at(endpoint: str | None, prefix: str) -> DynamoFeedbackStore:
    return DynamoFeedbackStore(*feedback_table_at(endpoint, prefix))


@pytest.fixture
def dynamo(aws: Moto) -> DynamoFeedbackStore:
    return _dynamo_at(None, "contract")


def _event(topic: str, payload: dict[str, Any], key: str, resource: str, at: datetime) -> StoredEvent:
    return StoredEvent(
        shop_id=SHOP,
        platform=Platform.SHOPIFY,
        topic=topic,
        dedupe_key=key,
        resource=resource,
        triggered_at=at,
        received_at=at,
        body=json.dumps(payload).encode(),
    )


def story(store: Any, order: dict[str, Any]) -> list[Any]:
    """Everything the ports offer, in the order a real life of an order would use it."""
    seen: list[Any] = []
    older = dict(order, updated_at="2008-01-10T10:00:00-05:00", total_price="1.00")
    first = _event("orders/create", order, "e1", "order#450789469", T0)
    late = _event("orders/updated", older, "e2", "order#450789469", T0 + timedelta(seconds=1))
    seen.append(store.put_new(first, T0 + timedelta(days=30)).model_dump())
    seen.append(store.put_new(first, T0 + timedelta(days=30)).model_dump())  # duplicate, in flight
    seen.append(store.put_new(late, T0 + timedelta(days=30)).model_dump())
    seen.append([e.dedupe_key for e in store.pending(T0 + timedelta(minutes=1), 10)])
    store.touch_pending(late, T0 + timedelta(minutes=5))
    seen.append([e.dedupe_key for e in store.pending(T0 + timedelta(minutes=1), 10)])

    seen.append(store.apply(SHOP, normalise.shopify_order(SHOP, order), first, T0).model_dump())
    seen.append(store.apply(SHOP, normalise.shopify_order(SHOP, older), late, T0).model_dump())  # stale
    seen.append(store.put_new(first, T0 + timedelta(days=30)).model_dump())  # duplicate, processed
    seen.append(store.orders_of_customer(SHOP, "shopify:207119551"))
    seen.append(store.raw_events_of(SHOP, Platform.SHOPIFY, "order#450789469"))
    seen.append(store.raw_events_of(SHOP, Platform.WOOCOMMERCE, "order#450789469"))

    # An order that loses its customer leaves the customer's index.
    anonymous = dict(order, id=2, updated_at="2009-01-01T00:00:00Z")
    store.apply(SHOP, normalise.shopify_order(SHOP, anonymous), None, T0)
    anonymous.pop("customer")
    anonymous.update(email=None, updated_at="2009-02-01T00:00:00Z")
    store.apply(SHOP, normalise.shopify_order(SHOP, anonymous), None, T0)
    seen.append(store.orders_of_customer(SHOP, "shopify:207119551"))

    store.put_tombstones(SHOP, ["shopify:207119551"], T0)
    seen.append(store.is_redacted(SHOP, ["email:none", "shopify:207119551"]))
    newer = dict(order, updated_at="2030-01-01T00:00:00Z")
    seen.append(store.apply(SHOP, normalise.shopify_order(SHOP, newer), None, T0).model_dump())
    store.erase_personal(
        SHOP, "ORDER#shopify#450789469", ("email", "first_name", "last_name", "customer_key")
    )
    store.erase_personal(SHOP, "ORDER#shopify#nothing", ("email",))  # absent: no item appears
    store.put_export(SHOP, "r1", {"customer_keys": ["shopify:1"]}, T0 + timedelta(days=30))
    store.delete(SHOP, ["CUSTOMER#shopify:207119551", "EVENT#shopify#e2"])
    seen.append(store.items(SHOP, ""))
    seen.append(store.items(SHOP, "ORDER#shopify#4"))  # prefix of no order: exact segments only
    store.forget(first)
    seen.append(store.erase_shop(SHOP))
    seen.append([i["sk"] for i in store.items(SHOP, "")])
    seen.append(store.apply(SHOP, normalise.shopify_order(SHOP, newer), None, T0).model_dump())
    # Once erased, a webhook a warm intake still accepts is not stored (shop_erased).
    after = _event("orders/updated", newer, "e3", "order#450789469", T0 + timedelta(days=1))
    seen.append(store.put_new(after, T0 + timedelta(days=30)).model_dump())
    seen.append([i["sk"] for i in store.items(SHOP, "")])
    return seen


def test_the_local_servers_transactions_behave_like_motos(
    aws: Moto, local_server: str, webhook_fixtures: Path
) -> None:
    """Cancelled transactions (stale changes, tombstones) roll back exactly as moto's own would."""
    order = json.loads((webhook_fixtures / "shopify_order.json").read_text())["order"]
    reference = story(_dynamo_at(None, "reference"), order)
    served = story(_dynamo_at(local_server, f"served{time.monotonic_ns()}"), order)
    assert _comparable(served) == _comparable(reference)


def _comparable(value: Any) -> Any:
    """Items as plain data; the moment a tombstone was written is the only clock-dependent value."""
    text = json.dumps(value, default=lambda v: v.hex() if isinstance(v, bytes) else str(v), sort_keys=True)
    data = json.loads(text)
    if isinstance(data, list):
        for entry in data:
            if isinstance(entry, list):
                for item in entry:
                    if isinstance(item, dict) and item.get("kind") == "tombstone":
                        item.pop("erased_at", None)
    return data


def test_fake_and_dynamodb_tell_the_same_story(dynamo: DynamoFeedbackStore, webhook_fixtures: Path) -> None:
    order = json.loads((webhook_fixtures / "shopify_order.json").read_text())["order"]
    fake = story(InMemoryFeedbackStore(), order)
    real = story(dynamo, order)
    assert _comparable(fake) == _comparable(real)
    # ...and the story itself is the intended one, so the two cannot agree on something wrong.
    assert [r["created"] for r in real[:3]] == [True, False, True]
    assert real[1]["processed"] is False and real[7]["processed"] is True
    assert real[3] == ["e1", "e2"] and real[4] == ["e1"]  # e2 was touched: the sweeper waits
    assert len(real[5]["applied"]) == 3  # the order, its customer, its fulfilment
    # The older update: its order group is refused; the customer and fulfilment groups it carries
    # are at the same version (identical values) and are rewritten as they were.
    assert real[6]["stale"] == ["ORDER#shopify#450789469"]
    assert real[8] == ["ORDER#shopify#450789469"] and real[10] == []
    assert real[11] == ["ORDER#shopify#450789469"]  # order 2 left the customer's index
    assert real[12] is True and real[13]["redacted"] is True
    skus = [i["sk"] for i in real[14]]
    assert "CUSTOMER#shopify:207119551" not in skus and "EVENT#shopify#e2" not in skus
    assert "ORDER#shopify#nothing" not in skus
    erased = next(i for i in real[14] if i["sk"] == "ORDER#shopify#450789469")
    assert "email" not in erased and "gsi1pk" not in erased and erased["total"] == "409.94"
    assert real[15] == []
    assert real[-5] == len(skus) - 1  # everything but the raw event forgotten just before
    assert real[-4] == ["TOMBSTONE#SHOP"]
    assert real[-3]["shop_erased"] is True and real[-3]["applied"] == []
    assert real[-2]["shop_erased"] is True and real[-2]["created"] is False
    assert real[-1] == ["TOMBSTONE#SHOP"]  # the late webhook left nothing


def test_the_local_server_rolls_back_what_a_cancelled_transaction_wrote(local_server: str) -> None:
    store = _dynamo_at(local_server, f"rollback{time.monotonic_ns()}")
    db, table = store._db, store._table
    db.put_item(TableName=table, Item={"pk": {"S": "S"}, "sk": {"S": "kept"}, "v": {"N": "1"}})
    items = [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "S"}, "sk": {"S": "new"}}}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "S"}, "sk": {"S": "kept"}},
                    "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "S"}, "sk": {"S": "missing"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ]  # fmt: skip
    with pytest.raises(db.exceptions.TransactionCanceledException):
        db.transact_write_items(TransactItems=items)
    assert "Item" not in db.get_item(TableName=table, Key={"pk": {"S": "S"}, "sk": {"S": "new"}})
    kept = db.get_item(TableName=table, Key={"pk": {"S": "S"}, "sk": {"S": "kept"}})["Item"]
    assert kept["v"] == {"N": "1"}
