"""Shops' secrets in AWS Secrets Manager, one JSON secret per shop, cached per container.

A cache keeps the intake at zero Secrets Manager calls per webhook; after a rotation the intake asks
for a fresh copy when a signature fails against the cached one (see the intake use case).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from shared.tenancy import ShopSecrets
from shared.topology import secret_name


class SecretsManagerStore:
    def __init__(
        self, client: Any, prefix: str, cache_seconds: float = 300.0, min_refresh_seconds: float = 2.0
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._cache_seconds = cache_seconds
        # A fresh read is refused more often than this per shop, so bad signatures cost no API calls.
        self._min_refresh = min_refresh_seconds
        self._cache: dict[str, tuple[float, ShopSecrets | None]] = {}

    def _name(self, shop_id: str) -> str:
        return secret_name(self._prefix, shop_id)

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets | None:
        hit = self._cache.get(shop_id)
        if hit:
            age = time.monotonic() - hit[0]
            if age < (self._min_refresh if fresh else self._cache_seconds):
                return hit[1]
        try:
            value = self._client.get_secret_value(SecretId=self._name(shop_id))["SecretString"]
            secrets: ShopSecrets | None = ShopSecrets.model_validate_json(value)
        except self._client.exceptions.ResourceNotFoundException:
            secrets = None
        self._cache[shop_id] = (time.monotonic(), secrets)
        return secrets

    def put(self, shop_id: str, secrets: ShopSecrets) -> None:
        body = secrets.model_dump_json()
        try:
            self._client.put_secret_value(SecretId=self._name(shop_id), SecretString=body)
        except self._client.exceptions.ResourceNotFoundException:
            self._client.create_secret(
                Name=self._name(shop_id),
                SecretString=body,
                Description=f"cxloop webhook secrets of shop {shop_id}",
                Tags=[{"Key": "cxloop:shop", "Value": shop_id}],
            )
        self._cache.pop(shop_id, None)

    def delete(self, shop_id: str) -> None:
        with contextlib.suppress(self._client.exceptions.ResourceNotFoundException):
            self._client.delete_secret(SecretId=self._name(shop_id), ForceDeleteWithoutRecovery=True)
        self._cache.pop(shop_id, None)
