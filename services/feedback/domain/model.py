"""The feedback service's own values: stored raw events, queue messages, normalised changes."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.tenancy import Platform


class EventFacts(BaseModel):
    """What identifies a verified webhook and where it came from (shared by storage and queue)."""

    shop_id: str
    platform: Platform
    topic: str
    dedupe_key: str
    resource: str
    triggered_at: datetime
    received_at: datetime
    source: str = ""
    correlation_id: str = ""


class StoredEvent(EventFacts):
    """A verified webhook as received: kept raw (compressed) for its retention period."""

    model_config = ConfigDict(frozen=True)

    body: bytes

    @property
    def sort_key(self) -> str:
        return f"EVENT#{self.platform.value}#{self.dedupe_key}"


class QueuedEvent(EventFacts):
    """The queue message: the stored event itself (compressed), so the consumer reads no table."""

    body_z: str

    @classmethod
    def of(cls, event: StoredEvent) -> QueuedEvent:
        data = event.model_dump(exclude={"body"})
        return cls(**data, body_z=base64.b64encode(zlib.compress(event.body, 6)).decode())

    def stored(self) -> StoredEvent:
        data = self.model_dump(exclude={"body_z"})
        return StoredEvent(**data, body=zlib.decompress(base64.b64decode(self.body_z)))


class PermanentDefect(Exception):
    """An event no retry can make usable (it names no order): dead-lettered at once, with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PutReceipt(BaseModel):
    """What storing a raw event found: new, or a duplicate (processed or still in flight)."""

    created: bool
    processed: bool = False
    received_at: datetime | None = None
    correlation_id: str = ""  # of the request that stored it
    shop_erased: bool = False  # the shop was erased (shop/redact): nothing stored


class Change(BaseModel):
    """One normalised record update, applied only if newer than what is stored (last writer wins).

    ``version`` orders updates of one attribute group of one item: the platform's updated-at in
    UTC, then a digest of the values so two different payloads with the same time still converge.
    """

    model_config = ConfigDict(frozen=True)

    sk: str
    group: str  # the attribute holding this group's version: "v" (resource) or "tv" (tracking)
    version: str
    attrs: dict[str, Any] = Field(default_factory=dict)
    gsi1pk: str | None = None
    gsi1sk: str | None = None
    # Personal data in attrs that erasure must remove and tombstones must keep out.
    personal: tuple[str, ...] = ()
    # Every key a tombstone may stand under for this change (the person's keys, the order's): a
    # tombstone under any of them stops the change, which is then applied without personal data.
    customer_keys: tuple[str, ...] = ()
    # The group owns the gsi1 index attributes: set them when given, remove them when not.
    owns_gsi1: bool = False

    @property
    def warnings(self) -> list[dict[str, str]]:
        """The group's warnings (``warnings``, or ``<group's name>_warnings`` beside another group's)."""
        return [w for name, value in self.attrs.items() if name.endswith("warnings") for w in value]


# The tombstone key an erased shop leaves in its partition (customer keys always contain ':').
SHOP_TOMBSTONE = "SHOP"


class ApplyReceipt(BaseModel):
    applied: list[str] = Field(default_factory=list)
    stale: list[str] = Field(default_factory=list)
    redacted: bool = False  # the person was erased: nothing applied
    shop_erased: bool = False  # the shop was erased: nothing applied
    # Fields dropped or replaced on the way in (they are kept on the records too), for the log.
    warnings: list[dict[str, str]] = Field(default_factory=list)
    # Why the event was sent to the dead-letter queue instead (a permanent defect), if it was.
    dead_lettered: str | None = None


# Applies one round (changes to distinct items, plus the processed mark on the last round) and
# returns the tombstone key that stopped it, if any.
RoundApplier = Callable[[list[Change], "StoredEvent | None", ApplyReceipt], "str | None"]


def apply_in_rounds(
    changes: Sequence[Change], processed: StoredEvent | None, apply_round: RoundApplier
) -> ApplyReceipt:
    """The store-independent part of ``RecordStore.apply``: rounds, and what a tombstone means."""
    receipt = ApplyReceipt()
    rounds = item_rounds(changes)
    for i, batch in enumerate(rounds):
        stopped_by = apply_round(batch, processed if i == len(rounds) - 1 else None, receipt)
        if stopped_by == SHOP_TOMBSTONE:
            return ApplyReceipt(shop_erased=True)
        if stopped_by:
            return ApplyReceipt(redacted=True)
    return receipt


def tombstone_keys(changes: Sequence[Change]) -> list[str]:
    """The tombstones a round must find absent: the shop's, then every key its changes stand under."""
    return [SHOP_TOMBSTONE, *sorted({k for c in changes for k in c.customer_keys})]


def item_rounds(changes: Sequence[Change]) -> list[list[Change]]:
    """Split changes into rounds that touch each item once (one DynamoDB transaction cannot touch an
    item twice); the raw event's processed mark goes with the last round."""
    rounds: list[list[Change]] = []
    for change in changes:
        target = next((r for r in rounds if all(c.sk != change.sk for c in r)), None)
        if target is None:
            rounds.append(target := [])
        target.append(change)
    return rounds or [[]]
