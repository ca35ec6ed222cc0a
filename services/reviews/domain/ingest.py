"""New, edited or already known: what one pulled item does to the store, and what gets announced.

The source's own id is the identity (``source:id``); a fingerprint of the content tells an edit from a
re-fetch. A new item or an edit is stored first, marked unannounced, then announced as
MentionIngested with its revision, then marked announced: a crash in between leaves it unannounced
for the next run, never lost. An unchanged item costs one conditional write and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from services.reviews.domain.model import REPLY_SOURCES, SourceItem, StoredReview
from shared.events import MAX_ENTRIES, MENTION_INGESTED, MentionIngested


class Outcome(StrEnum):
    NEW = "new"
    EDITED = "edited"
    UNCHANGED = "unchanged"


class ReviewStore(Protocol):
    def put_new(self, review: StoredReview) -> StoredReview | None:
        """Store if absent (marked unannounced); else return the stored one, untouched."""
        ...

    def replace(self, review: StoredReview, expected_version: int) -> bool:
        """Store (marked unannounced) if the stored version is still ``expected_version``."""
        ...

    def mark_announced(self, shop_id: str, mention_id: str, revision: int) -> None: ...


class MentionPublisher(Protocol):
    def publish_many(
        self, detail_type: str, shop_id: str, details: Sequence[tuple[dict[str, Any], str]]
    ) -> None:
        """Announce several at once, (data, correlation id) each; raises if any is refused."""
        ...


@dataclass
class Ingested:
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    announced: list[StoredReview] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def mention_of(review: StoredReview) -> MentionIngested:
    item = review.item
    return MentionIngested(
        mention_id=review.mention_id,
        source=item.source.value if item.source.value not in ("csv", "webhook") else _origin(item),
        text=item.text,
        revision=review.revision,
        title=item.title,
        rating=item.rating,
        rating_scale=item.rating_scale,
        url=item.url,
        author=item.author,
        published_at=item.published_at,
        language=item.language,
        takes_replies=item.source in REPLY_SOURCES,
    )


def _origin(item: SourceItem) -> str:
    """Imported and pushed reviews name their origin in the id: ``judgeme:123`` → judgeme."""
    return item.source_id.split(":", 1)[0] if ":" in item.source_id else item.source.value


def store_item(
    store: ReviewStore, shop_id: str, item: SourceItem, now: datetime
) -> tuple[Outcome, StoredReview]:
    fingerprint = item.fingerprint()
    fresh = StoredReview(
        shop_id=shop_id, item=item, fingerprint=fingerprint, first_seen_at=now, last_seen_at=now
    )
    for _ in range(3):
        existing = store.put_new(fresh)
        if existing is None:
            return Outcome.NEW, fresh
        if item.deleted and not item.text:
            # A deletion notice carries only the id: keep what the review said, marked deleted.
            item = existing.item.model_copy(update={"deleted": True})
            fingerprint = item.fingerprint()
        if existing.fingerprint == fingerprint:
            return Outcome.UNCHANGED, existing
        edited = existing.model_copy(
            update={
                "item": item,
                "fingerprint": fingerprint,
                "revision": existing.revision + 1,
                "last_seen_at": now,
                "version": existing.version + 1,
            }
        )
        if store.replace(edited, existing.version):
            return Outcome.EDITED, edited
    raise RuntimeError(f"{fresh.mention_id}: three conflicting writes in a row")


def ingest(
    store: ReviewStore,
    publisher: MentionPublisher,
    shop_id: str,
    items: Iterable[SourceItem],
    now: datetime,
    into: Ingested | None = None,
) -> Ingested:
    """Store every item, then announce the new and edited ones in batches, then mark them announced."""
    result = into or Ingested()
    fresh: list[StoredReview] = []
    for item in items:
        outcome, review = store_item(store, shop_id, item, now)
        result.counts[outcome] += 1
        if outcome is not Outcome.UNCHANGED:
            fresh.append(review)
    announce(store, publisher, shop_id, fresh)
    result.announced.extend(fresh)
    return result


def announce(
    store: ReviewStore, publisher: MentionPublisher, shop_id: str, reviews: Sequence[StoredReview]
) -> None:
    for start in range(0, len(reviews), MAX_ENTRIES):
        batch = reviews[start : start + MAX_ENTRIES]
        mentions = [mention_of(r) for r in batch]
        publisher.publish_many(
            MENTION_INGESTED, shop_id, [(m.model_dump(mode="json"), m.idempotency_key) for m in mentions]
        )
        for review in batch:
            store.mark_announced(shop_id, review.mention_id, review.revision)
