"""A shop's notifier settings, one item beside its profile in the shops table (sk ``NOTIFY``), cached
per container for a minute. A shop that set nothing gets the defaults."""

from __future__ import annotations

import time
from typing import Any

from services.notifier.domain.model import AlertSettings
from shared.dynamo import NOTIFY, shop_key


class DynamoAlertSettings:
    def __init__(self, dynamodb: Any, table: str, cache_seconds: float = 60.0) -> None:
        self._db = dynamodb
        self._table = table
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, AlertSettings]] = {}

    def _key(self, shop_id: str) -> dict[str, Any]:
        return shop_key(shop_id, NOTIFY)

    def get(self, shop_id: str, *, fresh: bool = False) -> AlertSettings:
        hit = self._cache.get(shop_id)
        if hit and not fresh and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        item = self._db.get_item(TableName=self._table, Key=self._key(shop_id)).get("Item")
        settings = AlertSettings.model_validate_json(item["doc"]["S"]) if item else AlertSettings()
        self._cache[shop_id] = (time.monotonic(), settings)
        return settings

    def put(self, shop_id: str, settings: AlertSettings) -> None:
        self._db.put_item(
            TableName=self._table, Item={**self._key(shop_id), "doc": {"S": settings.model_dump_json()}}
        )
        self._cache.pop(shop_id, None)
