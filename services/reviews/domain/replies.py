"""The owner's public reply to a review, posted through the source where it allows one, and kept
with the review whatever happened (posted, refused, or not possible on that source)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from services.reviews.domain.errors import SourceError, Unsupported
from services.reviews.domain.model import Reply, ReplyStatus, StoredReview
from services.reviews.domain.ports import Connection, Connector
from services.reviews.domain.state import SourceState

MAX_REPLY = 5000


class ReplyStore(Protocol):
    def get(self, shop_id: str, mention_id: str) -> StoredReview | None: ...
    def replace(self, review: StoredReview, expected_version: int) -> bool: ...
    def state(self, shop_id: str, source: str) -> SourceState | None: ...


class CredentialReader(Protocol):
    def get(self, shop_id: str, source: str) -> Mapping[str, str] | None: ...


def post_reply(
    store: ReplyStore,
    connectors: Mapping[str, Connector],
    credentials: CredentialReader,
    shop_id: str,
    mention_id: str,
    text: str,
    now: datetime,
) -> Reply:
    """Raises LookupError for an unknown review (of this shop) and ValueError for an empty reply."""
    text = text.strip()
    if not text or len(text) > MAX_REPLY:
        raise ValueError(f"a reply is 1 to {MAX_REPLY} characters")
    review = store.get(shop_id, mention_id)
    if review is None:
        raise LookupError(f"no review {mention_id!r} for shop {shop_id!r}")
    source = review.item.source.value
    connector = connectors.get(source)
    state = store.state(shop_id, source)
    secrets = credentials.get(shop_id, source)
    if connector is None or state is None or secrets is None:
        detail = f"{source}: replies go through the source itself (no connection to post with)"
        reply = Reply(text=text, status=ReplyStatus.UNSUPPORTED, at=now, detail=detail)
    else:
        reply = _post(connector, Connection(shop_id, source, state.settings, secrets), review, text, now)
    store.replace(
        review.model_copy(update={"owner_reply": reply, "version": review.version + 1}), review.version
    )
    return reply


def _post(
    connector: Connector, connection: Connection, review: StoredReview, text: str, now: datetime
) -> Reply:
    try:
        connector.reply(connection, review, text)
    except Unsupported as e:
        return Reply(text=text, status=ReplyStatus.UNSUPPORTED, at=now, detail=str(e)[:300])
    except SourceError as e:
        return Reply(text=text, status=ReplyStatus.FAILED, at=now, detail=f"{e.kind}: {str(e)[:300]}")
    return Reply(text=text, status=ReplyStatus.POSTED, at=now)
