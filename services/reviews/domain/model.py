"""A review or social mention as every source's connector hands it over, and as the service stores it.

Connectors normalise each source's shape into ``SourceItem``; the ingestion logic (ingest.py) decides
whether it is new, edited or already known by the source's own id and a fingerprint of its content.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.sentiment import Reading

MAX_TEXT = 20_000


class Source(StrEnum):
    GOOGLE = "google"
    TRUSTPILOT = "trustpilot"
    APP_STORE = "app_store"  # the public RSS feed, or App Store Connect when a key is connected
    YELP = "yelp"
    REDDIT = "reddit"
    CSV = "csv"  # `cxloop reviews import`
    WEBHOOK = "webhook"  # the generic signed review webhook (Judge.me, Yotpo, a marketplace ...)


# The sources whose connectors post a reply (the App Store's only with an App Store Connect key); the
# others (imports, pushed reviews, Yelp, Reddit) are answered by the owner on the site itself.
REPLY_SOURCES = frozenset({Source.GOOGLE, Source.TRUSTPILOT, Source.APP_STORE})


class SourceItem(BaseModel):
    """One review or mention, normalised. ``source_id`` is the source's own id, stable across edits."""

    model_config = ConfigDict(frozen=True)

    source: Source
    source_id: str = Field(min_length=1, max_length=512)
    text: str = Field(default="", max_length=MAX_TEXT)  # empty for a rating-only review
    title: str | None = None
    rating: float | None = None
    rating_scale: int | None = None  # 5 for stars; None when the source has no rating (Reddit)
    author: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None  # the source's edit time when it gives one
    language: str | None = None
    reply: str | None = None  # the owner's public reply as the source shows it
    replied_at: datetime | None = None
    deleted: bool = False

    def fingerprint(self) -> str:
        """What makes an edit: the words, the rating, the reply and the deletion, not fetch noise."""
        content = [self.text, self.title, self.rating, self.reply, self.deleted]
        return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:32]

    @property
    def moment(self) -> datetime | None:
        """Where the item sits in the source's order (the high-water mark of incremental pulls)."""
        return self.updated_at or self.published_at


class ReplyStatus(StrEnum):
    POSTED = "posted"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    status: ReplyStatus
    at: datetime
    detail: str = ""


class StoredReview(BaseModel):
    """A source item as kept in the shop's reviews table, with its revision for MentionIngested."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    item: SourceItem
    fingerprint: str
    revision: int = 1  # bumped by every edit seen at the source
    published_revision: int = 0  # the last revision announced as MentionIngested
    first_seen_at: datetime
    last_seen_at: datetime
    owner_reply: Reply | None = None  # the last reply posted through cxloop
    reading: Reading | None = None  # the scoring service's reading of the newest revision
    version: int = 1

    @property
    def mention_id(self) -> str:
        return f"{self.item.source.value}:{self.item.source_id}"
