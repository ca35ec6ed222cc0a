"""The shop directory in DynamoDB (table ``<prefix>-shops``), cached per container."""

from __future__ import annotations

import time
from typing import Any

from shared.dynamo import PROFILE, shop_key, shop_pk
from shared.tenancy import Shop


class DynamoShopDirectory:
    def __init__(self, dynamodb: Any, table: str, cache_seconds: float = 60.0) -> None:
        self._db = dynamodb
        self._table = table
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Shop | None]] = {}

    def get(self, shop_id: str) -> Shop | None:
        hit = self._cache.get(shop_id)
        if hit and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        item = self._db.get_item(TableName=self._table, Key=shop_key(shop_id, PROFILE)).get("Item")
        shop = Shop.model_validate_json(item["doc"]["S"]) if item else None
        self._cache[shop_id] = (time.monotonic(), shop)
        return shop

    def put(self, shop: Shop) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                **shop_key(shop.shop_id, PROFILE),
                "doc": {"S": shop.model_dump_json()},
            },
        )
        self._cache.pop(shop.shop_id, None)

    def list(self) -> list[Shop]:
        shops: list[Shop] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._db.scan(**kwargs)
            shops.extend(
                Shop.model_validate_json(i["doc"]["S"]) for i in page["Items"] if i["sk"]["S"] == PROFILE
            )
            if "LastEvaluatedKey" not in page:
                return sorted(shops, key=lambda s: s.shop_id)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, shop_id: str) -> None:
        """The shop's profile and everything else it keeps here (survey programme, themes, notifier
        settings, API keys)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page["Items"]:
                self._db.delete_item(TableName=self._table, Key={"pk": item["pk"], "sk": item["sk"]})
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self._cache.pop(shop_id, None)
