"""A shop's theme taxonomy, one item beside its profile in the shops table (sk ``THEMES``)."""

from __future__ import annotations

import time
from typing import Any

from services.scoring.domain.taxonomy import Taxonomy
from shared.dynamo import THEMES, shop_key


class DynamoTaxonomyStore:
    def __init__(self, dynamodb: Any, table: str, cache_seconds: float = 0.0) -> None:
        self._db = dynamodb
        self._table = table
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Taxonomy | None]] = {}

    @staticmethod
    def _key(shop_id: str) -> dict[str, Any]:
        return shop_key(shop_id, THEMES)

    def get(self, shop_id: str) -> Taxonomy | None:
        hit = self._cache.get(shop_id)
        if hit and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        item = self._db.get_item(TableName=self._table, Key=self._key(shop_id)).get("Item")
        taxonomy = Taxonomy.model_validate_json(item["doc"]["S"]) if item else None
        self._cache[shop_id] = (time.monotonic(), taxonomy)
        return taxonomy

    def put(self, shop_id: str, taxonomy: Taxonomy) -> None:
        self._db.put_item(
            TableName=self._table, Item={**self._key(shop_id), "doc": {"S": taxonomy.model_dump_json()}}
        )
        self._cache.pop(shop_id, None)

    def delete(self, shop_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=self._key(shop_id))
        self._cache.pop(shop_id, None)
