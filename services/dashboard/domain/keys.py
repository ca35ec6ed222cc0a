"""Per-shop API keys: issued by the CLI, shown once, kept only as a SHA-256 digest, revocable.

A key reads ``cxk_<shop>_<key id>_<secret>``: the shop and key id say where its digest is kept (one
read, no index), the 256-bit secret makes it unguessable. A plain SHA-256 suffices for a random
secret of that length (a slow hash defends low-entropy passwords, which these are not), and lets
every request be checked in one read. Anything wrong reads as "no such key".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.tenancy import SHOP_ID

PREFIX = "cxk"
_KEY = re.compile(rf"^{PREFIX}_({SHOP_ID.pattern.strip('^$')})_([0-9a-f]{{8}})_([0-9a-f]{{64}})$")


class ApiKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    shop_id: str
    key_id: str
    label: str = Field(default="", max_length=100)
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore(Protocol):
    def put(self, key: ApiKey, digest: str) -> None: ...
    def get(self, shop_id: str, key_id: str) -> tuple[ApiKey, str] | None: ...
    def list(self, shop_id: str) -> list[ApiKey]: ...
    def revoke(self, shop_id: str, key_id: str, at: datetime) -> ApiKey | None: ...


def digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def parse(presented: str) -> tuple[str, str] | None:
    """(shop id, key id) of a well-formed key."""
    found = _KEY.match(presented.strip()) if len(presented) < 200 else None
    return (found.group(1), found.group(2)) if found else None


def issue(store: KeyStore, shop_id: str, label: str, now: datetime) -> tuple[ApiKey, str]:
    """The new key's record and the key itself (shown once; only its digest is kept)."""
    key = ApiKey(shop_id=shop_id, key_id=secrets.token_hex(4), label=label, created_at=now)
    presented = f"{PREFIX}_{shop_id}_{key.key_id}_{secrets.token_hex(32)}"
    store.put(key, digest(presented))
    return key, presented


def authenticate(store: KeyStore, presented: str) -> ApiKey | None:
    parsed = parse(presented)
    if parsed is None:
        return None
    found = store.get(*parsed)
    if found is None:
        return None
    key, kept = found
    if not hmac.compare_digest(kept, digest(presented.strip())) or not key.active:
        return None
    return key
