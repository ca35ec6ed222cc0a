"""API keys in the shop directory's table: ``pk SHOP#<shop>``, ``sk APIKEY#<key id>``, erased with the
shop (the directory deletes everything under the shop's key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.dashboard.domain.keys import ApiKey
from shared.dynamo import ABSENT, api_key_sk, shop_key, shop_pk


class DynamoKeyStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    @staticmethod
    def _key(shop_id: str, key_id: str) -> dict[str, Any]:
        return shop_key(shop_id, api_key_sk(key_id))

    def put(self, key: ApiKey, digest: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                **self._key(key.shop_id, key.key_id),
                "doc": {"S": key.model_dump_json()},
                "digest": {"S": digest},
            },
            ConditionExpression=ABSENT,
        )

    def get(self, shop_id: str, key_id: str) -> tuple[ApiKey, str] | None:
        # Consistent: a key revoked a moment ago must not pass.
        item = self._db.get_item(
            TableName=self._table, Key=self._key(shop_id, key_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return ApiKey.model_validate_json(item["doc"]["S"]), item["digest"]["S"]

    def list(self, shop_id: str) -> list[ApiKey]:
        page = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": shop_pk(shop_id)}, ":p": {"S": api_key_sk("")}},
        )
        return sorted(
            (ApiKey.model_validate_json(i["doc"]["S"]) for i in page["Items"]), key=lambda k: k.created_at
        )

    def revoke(self, shop_id: str, key_id: str, at: datetime) -> ApiKey | None:
        found = self.get(shop_id, key_id)
        if found is None:
            return None
        key = found[0] if found[0].revoked_at else found[0].model_copy(update={"revoked_at": at})
        self._db.update_item(
            TableName=self._table,
            Key=self._key(shop_id, key_id),
            UpdateExpression="SET doc = :d",
            ExpressionAttributeValues={":d": {"S": key.model_dump_json()}},
        )
        return key
