"""Keeping the scoring service's newest reading on a record another service owns (an answered
invitation, a review): one rule for both owners.

Only a reading of a newer revision than the one held is stored (a redelivered or late reading of an
older revision changes nothing), under the record's optimistic version, retried on conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from shared.sentiment import Reading

ATTEMPTS = 5


class Holder(Protocol):
    """A frozen pydantic record with a reading and an optimistic version."""

    @property
    def reading(self) -> Reading | None: ...
    @property
    def version(self) -> int: ...
    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any: ...


H = TypeVar("H", bound=Holder)


class Kept(StrEnum):
    STORED = "stored"
    STALE = "stale"  # the record holds a reading of the same or a newer revision
    UNKNOWN = "unknown"  # no such record (erased since, or another shop's)


def keep_newest(
    load: Callable[[], H | None], save: Callable[[H, int], bool], reading: Reading, what: str
) -> Kept:
    """``load`` reads the record consistently; ``save(updated, expected_version)`` writes it if unchanged."""
    for _ in range(ATTEMPTS):
        current = load()
        if current is None:
            return Kept.UNKNOWN
        if current.reading is not None and current.reading.revision >= reading.revision:
            return Kept.STALE
        if save(
            current.model_copy(update={"reading": reading, "version": current.version + 1}), current.version
        ):
            return Kept.STORED
    raise RuntimeError(f"{what}: {ATTEMPTS} conflicting writes in a row")
