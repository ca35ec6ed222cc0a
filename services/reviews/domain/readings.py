"""The scoring service's reading of a review, kept on the review (the newest revision wins)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from services.reviews.domain.model import StoredReview
from shared.events import FeedbackScored

ATTEMPTS = 5


class Kept(StrEnum):
    STORED = "stored"
    STALE = "stale"
    UNKNOWN = "unknown"
    NOT_A_MENTION = "not_a_mention"


class ReadingStore(Protocol):
    def get(self, shop_id: str, mention_id: str) -> StoredReview | None: ...
    def replace(self, review: StoredReview, expected_version: int) -> bool: ...


def keep_reading(store: ReadingStore, shop_id: str, scored: FeedbackScored) -> Kept:
    if scored.subject != "mention":
        return Kept.NOT_A_MENTION
    reading = scored.reading()
    for _ in range(ATTEMPTS):
        current = store.get(shop_id, scored.subject_id)
        if current is None:
            return Kept.UNKNOWN
        if current.reading is not None and current.reading.revision >= reading.revision:
            return Kept.STALE
        if store.replace(current.model_copy(update={"reading": reading, "version": current.version + 1}),
                         current.version):  # fmt: skip
            return Kept.STORED
    raise RuntimeError(f"review {scored.subject_id}: {ATTEMPTS} conflicting writes in a row")
