"""In-memory stand-ins for the reviews service's ports, with the same conditions as DynamoDB's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.reviews.domain.errors import SourceError
from services.reviews.domain.model import SourceItem, StoredReview
from services.reviews.domain.ports import Connection
from services.reviews.domain.state import SourceState
from shared.events import CATALOGUE, MAX_ENTRIES, MENTION_INGESTED, MentionIngested


class InMemoryReviews:
    def __init__(self) -> None:
        self.reviews: dict[tuple[str, str], StoredReview] = {}
        self.unannounced: set[tuple[str, str]] = set()
        self.states: dict[tuple[str, str], SourceState] = {}
        self.writes = 0

    def put_new(self, review: StoredReview) -> StoredReview | None:
        self.writes += 1
        key = (review.shop_id, review.mention_id)
        if key in self.reviews:
            return self.reviews[key]
        self.reviews[key] = review
        self.unannounced.add(key)
        return None

    def replace(self, review: StoredReview, expected_version: int) -> bool:
        self.writes += 1
        key = (review.shop_id, review.mention_id)
        if key not in self.reviews or self.reviews[key].version != expected_version:
            return False
        self.reviews[key] = review
        self.unannounced.add(key)
        return True

    def mark_announced(self, shop_id: str, mention_id: str, revision: int) -> None:
        self.writes += 1
        key = (shop_id, mention_id)
        current = self.reviews[key]
        if current.revision == revision:
            self.reviews[key] = current.model_copy(update={"published_revision": revision})
            self.unannounced.discard(key)

    def save_state(self, state: SourceState, expected_version: int) -> bool:
        key = (state.shop_id, state.source)
        current = self.states.get(key)
        if (current.version if current else 0) != expected_version:
            return False
        self.states[key] = state
        return True


class ListMentions:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, MentionIngested]] = []
        self.calls = 0
        self.fail = fail

    def publish_many(
        self, detail_type: str, shop_id: str, details: Sequence[tuple[dict[str, Any], str]]
    ) -> None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("EventBridge refused")
        assert detail_type == MENTION_INGESTED and len(details) <= MAX_ENTRIES
        for data, correlation_id in details:
            mention = MentionIngested.model_validate(data)
            assert correlation_id == mention.idempotency_key
            self.sent.append((shop_id, mention))


class ListAlerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str) -> None:
        CATALOGUE[detail_type].model_validate(detail)  # what the notifier will read
        self.sent.append((detail_type, shop_id, detail))


@dataclass
class DictCredentials:
    by_key: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def get(self, shop_id: str, source: str) -> Mapping[str, str] | None:
        return self.by_key.get((shop_id, source))


@dataclass
class ScriptedConnector:
    """Yields its items newest first, stopping at ``since`` like a real connector; raises what it is told."""

    source: str
    items: list[SourceItem] = field(default_factory=list)
    fail_with: SourceError | None = None
    fail_after: int = 0  # items yielded before failing
    pulls: list[datetime | None] = field(default_factory=list)

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        self.pulls.append(since)
        ordered = sorted(self.items, key=lambda i: i.moment or datetime.min, reverse=True)
        for n, item in enumerate(ordered[:max_items]):
            if self.fail_with is not None and n == self.fail_after:
                raise self.fail_with
            if since is not None and item.moment is not None and item.moment < since:
                return
            yield item
        if self.fail_with is not None and self.fail_after >= len(ordered):
            raise self.fail_with

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        raise NotImplementedError

    def check(self, connection: Connection) -> str:
        return f"{self.source}: ok"
