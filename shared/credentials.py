"""A shop's credentials for one outside service, in Secrets Manager, never in a table or the logs: a review
source's keys (``<prefix>/shops/<shop>/reviews/<source>``), the notifier's Slack webhook URLs
(``<prefix>/shops/<shop>/notifier/slack``). Cached per container for a few minutes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

REVIEWS = "reviews"
NOTIFIER = "notifier"


def secret_name(prefix: str, shop_id: str, source: str, area: str = REVIEWS) -> str:
    return f"{prefix}/shops/{shop_id}/{area}/{source}"


class SecretsManagerCredentials:
    def __init__(self, client: Any, prefix: str, cache_seconds: float = 300.0, area: str = REVIEWS) -> None:
        self._client = client
        self._prefix = prefix
        self._area = area
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, dict[str, str] | None]] = {}

    def get(self, shop_id: str, source: str) -> Mapping[str, str] | None:
        key = (shop_id, source)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self._cache_seconds:
            return hit[1]
        try:
            raw = self._client.get_secret_value(
                SecretId=secret_name(self._prefix, shop_id, source, self._area)
            )
        except self._client.exceptions.ResourceNotFoundException:
            value = None
        else:
            value = {str(k): str(v) for k, v in json.loads(raw["SecretString"]).items()}
        self._cache[key] = (time.monotonic(), value)
        return value

    def put(self, shop_id: str, source: str, credentials: Mapping[str, str]) -> None:
        name, body = secret_name(self._prefix, shop_id, source, self._area), json.dumps(dict(credentials))
        try:
            self._client.put_secret_value(SecretId=name, SecretString=body)
        except self._client.exceptions.ResourceNotFoundException:
            self._client.create_secret(Name=name, SecretString=body)
        self._cache.pop((shop_id, source), None)

    def delete(self, shop_id: str, source: str) -> None:
        with contextlib.suppress(self._client.exceptions.ResourceNotFoundException):
            self._client.delete_secret(
                SecretId=secret_name(self._prefix, shop_id, source, self._area),
                ForceDeleteWithoutRecovery=True,
            )
        self._cache.pop((shop_id, source), None)
