"""The feedback table in DynamoDB: raw webhook events and the normalised records, one shop a partition.

Item shapes (pk is always ``SHOP#<shop_id>``):
- ``EVENT#<platform>#<dedupe key>``: a raw webhook, body zlib-compressed, ``ttl`` for retention,
  ``gsi1pk = RES#<shop>#<resource>`` (find it again on erasure), ``pending_*`` until processed.
- ``ORDER#<platform>#<id>``, ``ORDER#<platform>#<id>#FUL#<fid>`` and ``...#REF#<refund id>``: orders,
  their fulfilments and refunds, ``gsi1pk = CUSTOMER#<shop>#<customer key>`` on orders.
- ``CUSTOMER#<key>``, ``TOMBSTONE#<key>`` (erased people), ``EXPORT#<request id>``.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.feedback.domain.model import (
    SHOP_TOMBSTONE,
    ApplyReceipt,
    Change,
    PutReceipt,
    StoredEvent,
    apply_in_rounds,
    tombstone_keys,
)
from shared.clock import utcnow
from shared.dynamo import (
    ABSENT,
    Item,
    customer_index_pk,
    export_sk,
    failed_conditions,
    from_item,
    ordered_sk,
    resource_index_pk,
    shop_key,
    shop_of,
    shop_pk,
    sortable_time,
    to_value,
    tombstone_sk,
    written,
)
from shared.errors import Unavailable
from shared.tenancy import Platform

PENDING = "PENDING"
MAX_TRANSACTION = 100


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DynamoFeedbackStore:
    """Implements both RawEventStore and RecordStore: the consumer marks a raw event processed in the
    same transaction that applies its changes, so both live in one table behind one adapter."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._errors = dynamodb.exceptions

    # --- raw events ------------------------------------------------------------------------

    def _event_item(self, event: StoredEvent, expires_at: datetime) -> dict[str, Any]:
        received = sortable_time(event.received_at)
        return {
            **shop_key(event.shop_id, event.sort_key),
            "kind": {"S": "event"},
            "platform": {"S": event.platform.value},
            "topic": {"S": event.topic},
            "dedupe_key": {"S": event.dedupe_key},
            "resource": {"S": event.resource},
            "triggered_at": {"S": sortable_time(event.triggered_at)},
            "received_at": {"S": received},
            "source": {"S": event.source},
            "correlation_id": {"S": event.correlation_id or "-"},
            "body": {"B": zlib.compress(event.body, 6)},
            "ttl": {"N": str(int(expires_at.timestamp()))},
            "gsi1pk": {"S": resource_index_pk(event.shop_id, event.platform.value, event.resource)},
            "gsi1sk": {"S": received},
            "pending_pk": {"S": PENDING},
            "pending_sk": {"S": ordered_sk(received, event.shop_id, event.sort_key)},
        }

    def put_new(self, event: StoredEvent, expires_at: datetime) -> PutReceipt:
        """New, or a duplicate; never stored once the shop is erased (a warm intake may still know the
        shop for a minute after shop/redact: the tombstone check here holds at once)."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._event_item(event, expires_at),
                            "ConditionExpression": ABSENT,
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": shop_key(event.shop_id, tombstone_sk(SHOP_TOMBSTONE)),
                            "ConditionExpression": ABSENT,
                        }
                    },
                ]
            )
        except self._errors.TransactionCanceledException as e:
            failed = failed_conditions(e)
            if 1 in failed:
                return PutReceipt(created=False, shop_erased=True)
            if 0 not in failed:
                raise  # a conflict or throttling: worth the SDK's or the platform's retry
            old = self._get_key(event.shop_id, event.sort_key) or {}
            received = old.get("received_at", {}).get("S")
            return PutReceipt(
                created=False,
                processed="pending_pk" not in old,
                received_at=datetime.fromisoformat(received) if received else None,
                correlation_id=old.get("correlation_id", {}).get("S", ""),
            )
        return PutReceipt(created=True)

    def _get_key(self, shop_id: str, sk: str) -> Item | None:
        item: Item | None = self._db.get_item(
            TableName=self._table, Key=shop_key(shop_id, sk), ConsistentRead=True
        ).get("Item")
        return item

    def forget(self, event: StoredEvent) -> None:
        self._db.delete_item(
            TableName=self._table,
            Key=shop_key(event.shop_id, event.sort_key),
        )

    def pending(self, older_than: datetime, limit: int) -> list[StoredEvent]:
        page = self._db.query(
            TableName=self._table,
            IndexName="pending",
            KeyConditionExpression="pending_pk = :p AND pending_sk < :t",
            ExpressionAttributeValues={":p": {"S": PENDING}, ":t": {"S": sortable_time(older_than)}},
            Limit=limit,
        )
        events = []
        for key in page["Items"]:
            item = self._get_key(shop_of(key["pk"]["S"]), key["sk"]["S"])
            if item and "pending_pk" in item:
                events.append(self._stored(item))
        return events

    def _stored(self, item: dict[str, Any]) -> StoredEvent:
        plain = from_item(item)
        return StoredEvent(
            shop_id=shop_of(plain["pk"]),
            platform=Platform(plain["platform"]),
            topic=plain["topic"],
            dedupe_key=plain["dedupe_key"],
            resource=plain["resource"],
            triggered_at=datetime.fromisoformat(plain["triggered_at"]),
            received_at=datetime.fromisoformat(plain["received_at"]),
            source=plain.get("source", ""),
            body=zlib.decompress(plain["body"]) if "body" in plain else b"{}",
            correlation_id=plain.get("correlation_id", ""),
        )

    def give_up(self, event: StoredEvent, at: datetime) -> None:
        written(  # False: processed or gone
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(event.shop_id, event.sort_key),
            UpdateExpression="REMOVE pending_pk, pending_sk SET dead_lettered_at = :at",
            ConditionExpression="attribute_exists(pending_pk)",
            ExpressionAttributeValues={":at": {"S": sortable_time(at)}},
        )

    def touch_pending(self, event: StoredEvent, at: datetime) -> None:
        written(  # False: processed meanwhile
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(event.shop_id, event.sort_key),
            UpdateExpression="SET pending_sk = :s",
            ConditionExpression="attribute_exists(pending_pk)",
            ExpressionAttributeValues={
                ":s": {"S": ordered_sk(sortable_time(at), event.shop_id, event.sort_key)}
            },
        )

    def get_event(self, shop_id: str, sort_key: str) -> StoredEvent | None:
        item = self._get_key(shop_id, sort_key)
        return self._stored(item) if item else None

    # --- records ---------------------------------------------------------------------------

    def _update(self, shop_id: str, change: Change) -> dict[str, Any]:
        names = {"#g": change.group}
        values: dict[str, Any] = {":ver": {"S": change.version}}
        sets = ["#g = :ver"]
        for i, (name, value) in enumerate(sorted(change.attrs.items())):
            names[f"#a{i}"] = name
            values[f":a{i}"] = to_value(value)
            sets.append(f"#a{i} = :a{i}")
        expression = ""
        if change.gsi1pk and change.gsi1sk:
            sets.append("gsi1pk = :g1, gsi1sk = :g2")
            values[":g1"] = {"S": change.gsi1pk}
            values[":g2"] = {"S": change.gsi1sk}
        elif change.owns_gsi1:
            expression = " REMOVE gsi1pk, gsi1sk"
        return {
            "Update": {
                "TableName": self._table,
                "Key": shop_key(shop_id, change.sk),
                "UpdateExpression": "SET " + ", ".join(sets) + expression,
                # Equal versions carry equal values (the version ends in their digest): rewriting them
                # changes nothing and spares a cancelled transaction.
                "ConditionExpression": "attribute_not_exists(#g) OR #g <= :ver",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _processed(self, event: StoredEvent, now: datetime) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": shop_key(event.shop_id, event.sort_key),
                "UpdateExpression": "REMOVE pending_pk, pending_sk SET processed_at = :now",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":now": {"S": sortable_time(now)}},
            }
        }

    def _tombstone_check(self, shop_id: str, key: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": shop_key(shop_id, tombstone_sk(key)),
                "ConditionExpression": ABSENT,
            }
        }

    def apply(
        self, shop_id: str, changes: Sequence[Change], processed: StoredEvent | None, now: datetime
    ) -> ApplyReceipt:
        return apply_in_rounds(
            changes,
            processed,
            lambda batch, mark, receipt: self._apply_round(shop_id, batch, mark, now, receipt),
        )

    def _apply_round(
        self,
        shop_id: str,
        changes: list[Change],
        processed: StoredEvent | None,
        now: datetime,
        receipt: ApplyReceipt,
    ) -> str | None:
        """Returns the tombstone key that stopped the round (the shop or the person was erased), if any."""
        keys = tombstone_keys(changes)
        ops: list[tuple[str, dict[str, Any]]] = [
            (f"tomb:{k}", self._tombstone_check(shop_id, k)) for k in keys
        ]
        ops += [(c.sk, self._update(shop_id, c)) for c in changes]
        if processed is not None:
            ops.append(("processed", self._processed(processed, now)))
        for chunk in _chunks(ops, MAX_TRANSACTION):
            todo = list(chunk)
            while todo:
                failed = self._transact(todo)
                if failed is None:
                    receipt.applied.extend(
                        lb for lb, _ in todo if lb != "processed" and not lb.startswith("tomb:")
                    )
                    break
                tombs = sorted(lb.removeprefix("tomb:") for lb in failed if lb.startswith("tomb:"))
                if tombs:
                    return SHOP_TOMBSTONE if SHOP_TOMBSTONE in tombs else tombs[0]
                receipt.stale.extend(lb for lb, _ in todo if lb in failed and lb != "processed")
                todo = [(lb, op) for lb, op in todo if lb not in failed]
        return None

    def _transact(self, ops: list[tuple[str, dict[str, Any]]]) -> set[str] | None:
        """Run the transaction; None on success, else the labels whose condition failed."""
        try:
            self._db.transact_write_items(TransactItems=[op for _, op in ops])
        except self._errors.TransactionCanceledException as e:
            failed_at = failed_conditions(e)
            failed = {label for i, (label, _) in enumerate(ops) if i in failed_at}
            if not failed:
                raise  # cancelled for another reason (conflict, throttling): let the queue retry
            return failed
        return None

    def is_redacted(self, shop_id: str, customer_keys: Sequence[str]) -> bool:
        return any(self._get_key(shop_id, tombstone_sk(k)) for k in customer_keys)

    def items(self, shop_id: str, sk_prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        """Items whose sort key is ``sk_prefix`` or starts with ``sk_prefix#`` (all of the shop for "")."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}},
            "ConsistentRead": True,
        }
        if sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :p)"
            kwargs["ExpressionAttributeValues"][":p"] = {"S": sk_prefix}
        while True:
            page = self._db.query(**kwargs)
            for item in page["Items"]:
                sk = item["sk"]["S"]
                if not sk_prefix or sk == sk_prefix or sk.startswith(sk_prefix + "#"):
                    found.append(from_item(item))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _gsi1_sks(self, gsi1pk: str) -> list[str]:
        sks: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :g",
            "ExpressionAttributeValues": {":g": {"S": gsi1pk}},
        }
        while True:
            page = self._db.query(**kwargs)
            sks.extend(i["sk"]["S"] for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return sks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def orders_of_customer(self, shop_id: str, customer_key: str) -> list[str]:
        return self._gsi1_sks(customer_index_pk(shop_id, customer_key))

    def raw_events_of(self, shop_id: str, platform: Platform, resource: str) -> list[str]:
        return self._gsi1_sks(resource_index_pk(shop_id, platform.value, resource))

    def erase_personal(self, shop_id: str, sk: str, fields: Sequence[str]) -> None:
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        removes = list(names)
        if "customer_key" in fields:
            removes += ["gsi1pk", "gsi1sk"]
        written(  # False: nothing stored there
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(shop_id, sk),
            UpdateExpression="REMOVE " + ", ".join(removes),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
        )

    def delete(self, shop_id: str, sks: Sequence[str]) -> None:
        for chunk in _chunks(sorted(set(sks)), 25):
            requests = {self._table: [{"DeleteRequest": {"Key": shop_key(shop_id, sk)}} for sk in chunk]}
            for attempt in range(8):  # unprocessed items come back under throttling: back off
                result = self._db.batch_write_item(RequestItems=requests)
                requests = result.get("UnprocessedItems") or {}
                if not requests:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt))
            if requests:
                raise Unavailable(f"DynamoDB left {len(requests[self._table])} deletes unprocessed")

    def put_tombstones(self, shop_id: str, customer_keys: Sequence[str], at: datetime) -> None:
        for key in customer_keys:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **shop_key(shop_id, tombstone_sk(key)),
                    "kind": {"S": "tombstone"},
                    "erased_at": {"S": sortable_time(at)},
                },
            )

    def put_export(
        self, shop_id: str, request_id: str, document: dict[str, Any], expires_at: datetime
    ) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                **shop_key(shop_id, export_sk(request_id)),
                "kind": {"S": "export"},
                "document": {"S": json.dumps(document, default=str)},
                "ttl": {"N": str(int(expires_at.timestamp()))},
            },
        )

    def erase_shop(self, shop_id: str) -> int:
        # The tombstone first: a consumer transaction racing with the erasure then fails its check
        # instead of writing after the sweep below.
        self.put_tombstones(shop_id, [SHOP_TOMBSTONE], utcnow())
        sks: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}},
            "ProjectionExpression": "sk",
        }
        while True:
            page = self._db.query(**kwargs)
            sks.extend(i["sk"]["S"] for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        sks = [sk for sk in sks if sk != tombstone_sk(SHOP_TOMBSTONE)]
        self.delete(shop_id, sks)
        return len(sks)
