"""The shop's retention snapshots in the notifier's table: ``RETENTION#<yyyy-mm>`` under ``SHOP#<shop>``,
one per month, rewritten by each daily run of that month (the last one of a month stays as its record).
The document is the snapshot's JSON; a read is one GetItem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.notifier.domain.retention_snapshot import RetentionSnapshot
from shared.dynamo import shop_key, shop_pk

PREFIX = "RETENTION#"


def retention_sk(month: str) -> str:
    return f"{PREFIX}{month}"


class DynamoRetention:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put(self, shop_id: str, snapshot: RetentionSnapshot) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                **shop_key(shop_id, retention_sk(snapshot.month)),
                "doc": {"S": snapshot.model_dump_json()},
            },
        )

    def get(self, shop_id: str, month: str) -> RetentionSnapshot | None:
        item = self._db.get_item(
            TableName=self._table, Key=shop_key(shop_id, retention_sk(month)), ConsistentRead=True
        ).get("Item")
        return RetentionSnapshot.model_validate_json(item["doc"]["S"]) if item else None

    def forget(self, shop_id: str, customer_keys: Sequence[str]) -> int:
        """Erasure: the snapshots' named movers lose these customers (counts stay: they name no one)."""
        gone, changed = set(customer_keys), 0
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}, ":p": {"S": PREFIX}},
        }
        while True:
            page = self._db.query(**query)
            for item in page["Items"]:
                snapshot = RetentionSnapshot.model_validate_json(item["doc"]["S"])
                kept = [m for m in snapshot.movers if m.customer_key not in gone]
                if len(kept) != len(snapshot.movers):
                    self.put(shop_id, snapshot.model_copy(update={"movers": kept}))
                    changed += 1
            if "LastEvaluatedKey" not in page:
                return changed
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
