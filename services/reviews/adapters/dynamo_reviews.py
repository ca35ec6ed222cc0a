"""Reviews and source connections in the reviews table.

Items: ``pk SHOP#<shop>``; a review at ``sk REVIEW#<source>:<id>``, a connection at ``sk SOURCE#<source>``.
Two sparse indexes: ``pending`` holds reviews not yet announced (the puller re-announces them), and
``sources`` every connection (the puller's list of what to pull). Each review write is one conditional
call: a put that fails returns the stored item, so telling new from edited costs no extra read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from services.reviews.domain.model import StoredReview
from services.reviews.domain.state import SourceState
from shared.dynamo import (
    ABSENT,
    if_version,
    ordered_sk,
    review_sk,
    shop_index_pk,
    shop_key,
    shop_of,
    shop_pk,
    source_sk,
    written,
)

PENDING = "MENTION"
SOURCES = "SOURCES"


def _review(item: dict[str, Any]) -> StoredReview:
    review = StoredReview.model_validate_json(item["doc"]["S"])
    published = int(item.get("published_revision", {}).get("N", review.published_revision))
    return review.model_copy(update={"published_revision": published})


class DynamoReviewStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self.calls = 0

    def _item(self, review: StoredReview) -> dict[str, Any]:
        moment = review.item.moment or review.first_seen_at
        item: dict[str, Any] = {
            **shop_key(review.shop_id, review_sk(review.mention_id)),
            "doc": {"S": review.model_dump_json(exclude_none=True)},
            "version": {"N": str(review.version)},
            "revision": {"N": str(review.revision)},
            "published_revision": {"N": str(review.published_revision)},
            # Newest first per shop: the list the CLI and the API show.
            "gsi1pk": {"S": shop_index_pk(review.shop_id, "REVIEWS")},
            "gsi1sk": {"S": ordered_sk(moment.isoformat(), review.mention_id)},
        }
        if review.published_revision < review.revision:
            item["pending_pk"] = {"S": PENDING}
            item["pending_sk"] = {
                "S": ordered_sk(review.last_seen_at.isoformat(), review.shop_id, review.mention_id)
            }
        return item

    def put_new(self, review: StoredReview) -> StoredReview | None:
        self.calls += 1
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(review),
                ConditionExpression=ABSENT,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as e:
            old = e.response.get("Item")
            if old is None:  # an endpoint that does not return the item: read it
                return self.get(review.shop_id, review.mention_id)
            return _review(old)
        return None

    def replace(self, review: StoredReview, expected_version: int) -> bool:
        self.calls += 1
        return written(
            self._db.put_item, TableName=self._table, Item=self._item(review), **if_version(expected_version)
        )

    def mark_announced(self, shop_id: str, mention_id: str, revision: int) -> None:
        """One conditional update, only if no newer edit arrived meanwhile (that one stays pending).
        ``published_revision`` lives beside the document so this needs no read."""
        self.calls += 1
        written(
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(shop_id, review_sk(mention_id)),
            UpdateExpression="SET published_revision = :r REMOVE pending_pk, pending_sk",
            ConditionExpression="revision = :r",
            ExpressionAttributeValues={":r": {"N": str(revision)}},
        )

    def get(self, shop_id: str, mention_id: str) -> StoredReview | None:
        self.calls += 1
        item = self._db.get_item(
            TableName=self._table,
            Key=shop_key(shop_id, review_sk(mention_id)),
            ConsistentRead=True,
        ).get("Item")
        return _review(item) if item else None

    def unannounced(self, older_than: datetime, limit: int = 100) -> list[StoredReview]:
        page = self._db.query(
            TableName=self._table,
            IndexName="pending",
            KeyConditionExpression="pending_pk = :p AND pending_sk < :t",
            ExpressionAttributeValues={":p": {"S": PENDING}, ":t": {"S": older_than.isoformat()}},
            Limit=limit,
        )
        found = [self.get(*self._keys(i)) for i in page.get("Items", [])]
        return [r for r in found if r is not None and r.published_revision < r.revision]

    @staticmethod
    def _keys(index_item: dict[str, Any]) -> tuple[str, str]:
        return shop_of(index_item["pk"]["S"]), index_item["sk"]["S"].removeprefix(review_sk(""))

    def newest(self, shop_id: str, limit: int = 50) -> list[StoredReview]:
        page = self._db.query(
            TableName=self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": shop_index_pk(shop_id, "REVIEWS")}},
            ScanIndexForward=False,
            Limit=limit,
        )
        found = [self.get(*self._keys(i)) for i in page.get("Items", [])]
        return [r for r in found if r is not None]

    # --- connections -------------------------------------------------------------------------------

    def save_state(self, state: SourceState, expected_version: int) -> bool:
        item = {
            **shop_key(state.shop_id, source_sk(state.source)),
            "doc": {"S": state.model_dump_json(exclude_none=True)},
            "version": {"N": str(state.version)},
            "sources_pk": {"S": SOURCES},
            "sources_sk": {"S": ordered_sk(state.shop_id, state.source)},
        }
        condition = if_version(expected_version or None)
        return written(self._db.put_item, TableName=self._table, Item=item, **condition)

    def state(self, shop_id: str, source: str) -> SourceState | None:
        item = self._db.get_item(
            TableName=self._table,
            Key=shop_key(shop_id, source_sk(source)),
            ConsistentRead=True,
        ).get("Item")
        return SourceState.model_validate_json(item["doc"]["S"]) if item else None

    def delete_state(self, shop_id: str, source: str) -> None:
        self._db.delete_item(TableName=self._table, Key=shop_key(shop_id, source_sk(source)))

    def states(self) -> Iterator[SourceState]:
        """Every connection of every shop (the sparse ``sources`` index projects the whole item)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "sources",
            "KeyConditionExpression": "sources_pk = :p",
            "ExpressionAttributeValues": {":p": {"S": SOURCES}},
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                yield SourceState.model_validate_json(item["doc"]["S"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def erase_shop(self, shop_id: str) -> tuple[int, list[str]]:
        """Every item under the shop's partition, 25 per batch (retrying what DynamoDB leaves over)."""
        keys, sources = [], []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": shop_pk(shop_id)}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page.get("Items", []):
                keys.append({"pk": item["pk"], "sk": item["sk"]})
                if item["sk"]["S"].startswith(source_sk("")):
                    sources.append(item["sk"]["S"].removeprefix(source_sk("")))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            while requests:
                left = self._db.batch_write_item(RequestItems={self._table: requests}).get(
                    "UnprocessedItems", {}
                )
                requests = left.get(self._table, [])
        return len(keys), sources
