"""The keys that sign links (survey, unsubscribe, approve), from Secrets Manager, cached per container.

One JSON secret ``{"keys": ["<hex>", ...]}``: the first key signs, every key verifies, so a new key
can be put first while links already sent keep working until the old one is removed. The CDK stack
creates it as ``{"signing_key": "<64 random characters>"}`` (what Secrets Manager can generate); a
``signing_key`` signs and any ``keys`` still verify.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from shared.topology import link_keys_secret

MIN_KEY_BYTES = 32


def parse(value: str) -> list[bytes]:
    doc = json.loads(value)
    keys = [doc["signing_key"].encode()] if doc.get("signing_key") else []
    keys += [bytes.fromhex(k) for k in doc.get("keys", [])]
    if not keys or any(len(k) < MIN_KEY_BYTES for k in keys):
        raise ValueError(f"link keys must be a non-empty list of keys of at least {MIN_KEY_BYTES} bytes")
    return keys


def new_secret_value() -> str:
    return json.dumps({"keys": [secrets.token_hex(MIN_KEY_BYTES)]})


class SecretsManagerLinkKeys:
    def __init__(self, client: Any, prefix: str, cache_seconds: float = 300.0) -> None:
        self._client = client
        self._name = link_keys_secret(prefix)
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[bytes]] | None = None

    def keys(self) -> list[bytes]:
        if self._cached and time.monotonic() - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        keys = parse(self._client.get_secret_value(SecretId=self._name)["SecretString"])
        self._cached = (time.monotonic(), keys)
        return keys

    def ensure(self) -> bool:
        """Create the secret with one fresh key if there is none; True if it was created."""
        try:
            self._client.describe_secret(SecretId=self._name)
            return False
        except self._client.exceptions.ResourceNotFoundException:
            self._client.create_secret(
                Name=self._name,
                SecretString=new_secret_value(),
                Description="cxloop: keys that sign survey and unsubscribe links",
            )
            return True
