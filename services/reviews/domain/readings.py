"""The scoring service's reading of a review, kept on the review (the newest revision wins)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from services.reviews.domain.model import StoredReview
from shared.events import FeedbackScored
from shared.readings import keep_newest


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
    kept = keep_newest(
        lambda: store.get(shop_id, scored.subject_id),
        store.replace,
        scored.reading(),
        f"review {scored.subject_id}",
    )
    return Kept(kept.value)
