"""Yelp Fusion reviews: a sample of at most three excerpts per business, and no reply.

Connection.settings: ``business``, the Yelp business id or alias. Connection.credentials: ``api_key``,
sent as a Bearer token.

``GET /v3/businesses/{business}/reviews`` returns at most 3 review excerpts (the text is cut and ends
in "...") with the business's ``total``, and no useful pagination, so a pull is one call and Yelp is a
sample of a business's reviews, never a full feed. Excerpts carry no edit time: a changed excerpt shows
as a changed fingerprint. ``time_created`` ("YYYY-MM-DD HH:MM:SS") has no zone and Yelp documents none;
it is read as UTC. Yelp has no public reply API, so ``reply`` raises Unsupported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, NotFound, SourceError, Unsupported
from services.reviews.domain.model import Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_BUSINESS = re.compile(r"[\w-]+")  # ids and aliases (some aliases hold non-ASCII letters): no "/" or ".."


def parse_time(value: object) -> datetime:
    try:
        return datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as e:
        raise Malformed(f"yelp: time_created is not {TIME_FORMAT}: {value!r}") from e


def to_item(raw: Any) -> SourceItem:
    """One review excerpt → SourceItem (``user`` may hold only ``name`` and ``image_url``)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise Malformed(f"yelp: a review without id: {str(raw)[:80]}")
    rating, user = raw.get("rating"), raw.get("user")
    try:
        return SourceItem(
            source=Source.YELP,
            source_id=raw["id"],
            text=raw.get("text") or "",
            rating=rating,
            rating_scale=5 if rating is not None else None,
            author=user.get("name") if isinstance(user, dict) else None,
            url=raw.get("url"),
            published_at=parse_time(raw.get("time_created")),
        )
    except ValidationError as e:
        raise Malformed(f"yelp: review {raw['id'][:40]}: {e.error_count()} invalid fields") from e


def explain(error: SourceError) -> None:
    """Put Yelp's envelope ``{"error": {"code", "description"}}`` in the message in place of raw JSON
    (left as is when the body is not one, or was cut short)."""
    head, brace, rest = str(error).partition("{")
    try:
        envelope = json.loads(brace + rest)["error"]
        error.args = (f"{head}{envelope['code']}: {envelope['description']}",)
    except (ValueError, KeyError, TypeError):
        return


def _reviews(body: Any) -> list[Any]:
    reviews = body.get("reviews") if isinstance(body, dict) else None
    if not isinstance(reviews, list):
        raise Malformed("yelp reviews: the body has no reviews list")
    return reviews


def _required(values: Mapping[str, str], key: str, error: type[SourceError]) -> str:
    if not values.get(key):
        raise error(f"yelp: the connection lacks {key}")
    return values[key]


class YelpConnector:
    source = "yelp"

    def __init__(self, caller: Caller, api_base: str = "https://api.yelp.com") -> None:
        self._caller = caller
        self._api_base = api_base.rstrip("/")

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        """Yelp's order is its own ("Yelp sort"): the excerpts are sorted newest first here."""
        items = {item.source_id: item for item in map(to_item, self._get(connection, "yelp reviews")[0])}
        newest = sorted(items.values(), key=lambda item: item.moment or datetime.min.replace(tzinfo=UTC))
        fresh = [item for item in reversed(newest) if since is None or (item.moment or since) >= since]
        yield from fresh[: max(0, max_items)]

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        raise Unsupported("yelp: no public reply API; reply in Yelp for Business")

    def check(self, connection: Connection) -> str:
        reviews, body = self._get(connection, "yelp check")
        business = _required(connection.settings, "business", NotFound)
        return f"yelp: business {business}, {body.get('total', 0)} reviews ({len(reviews)} excerpts readable)"

    def _get(self, connection: Connection, what: str) -> tuple[list[Any], Mapping[str, Any]]:
        business = _required(connection.settings, "business", NotFound)
        if not _BUSINESS.fullmatch(business):
            raise NotFound(f"yelp: not a business id or alias: {business!r}")
        business = quote(business, safe="")
        headers = {"Authorization": f"Bearer {_required(connection.credentials, 'api_key', AuthFailed)}"}
        url = f"{self._api_base}/v3/businesses/{business}/reviews"
        try:
            body = self._caller("GET", url, what, headers=headers).json()
        except SourceError as e:
            explain(e)
            raise
        return _reviews(body), body
