"""Test sends counted per shop and hour in the shop directory's table: ``pk SHOP#<shop>``,
``sk TESTSEND#<hour>``, one conditional increment per send (so two tabs cannot both pass the limit), and
a ``ttl`` a day on so old windows go; erased with the shop like everything under its key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.dynamo import shop_key

SK_PREFIX = "TESTSEND#"
KEEP = timedelta(days=1)


class DynamoTestSendLimit:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def take(self, shop_id: str, window: datetime, limit: int) -> bool:
        """Counts one send in the window starting at ``window``; False (nothing counted) when the window
        already holds ``limit``."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=shop_key(shop_id, f"{SK_PREFIX}{window:%Y-%m-%dT%H}"),
                UpdateExpression="ADD sends :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(sends) OR sends < :limit",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(int((window + KEEP).timestamp()))},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True
