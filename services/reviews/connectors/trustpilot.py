"""Trustpilot: the public review list, the owner's reply and the review webhooks.

Settings: ``business_unit`` (the business unit id). Credentials: ``api_key`` (sent as the ``apikey``
header on public reads); replies also need ``api_secret``, ``username`` and ``password`` of a business
user: the OAuth password grant turns them into a bearer token, cached until shortly before it expires.

The list's shape comes from Trustpilot's API documentation, not from a capture (the fixtures hold none):
``{"reviews": [{id, stars, title, text, language, createdAt, updatedAt|null, consumer{displayName},
companyReply{text, createdAt, updatedAt}|null, links[{href, rel, method}]}]}``. The webhook's shape is a
captured body (fixtures/reviews/trustpilot): there the consumer has ``name``, not ``displayName``.

The list is ordered by creation, newest first, so a pull stops at the first review whose latest moment is
not after ``since``; an edit of an older review arrives by the ``service-review-revised`` webhook.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from services.reviews.connectors import shapes
from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, NotFound, Unsupported
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection

PER_PAGE = 100  # the API's maximum
OAUTH_PATH = "/v1/oauth/oauth-business-users-for-applications/accesstoken"
REPLY_KEYS = ("api_key", "api_secret", "username", "password")
EXPIRY_MARGIN = timedelta(minutes=5)
DEFAULT_LIFETIME_S = 3600.0  # when the token answer has no usable expires_in
CREATED, REVISED, DELETED = "service-review-created", "service-review-revised", "service-review-deleted"
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # ids go into URL paths: nothing else gets there


class TrustpilotConnector:
    source = Source.TRUSTPILOT.value

    def __init__(self, caller: Caller, api_base: str = "https://api.trustpilot.com") -> None:
        self._call = caller
        self._base = api_base.rstrip("/")
        self._tokens: dict[str, tuple[str, datetime]] = {}  # credentials' digest → (token, good until)

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        return shapes.bounded(self._pages(connection), since, max_items)

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        url = f"{self._base}/v1/private/reviews/{_safe_id(review.item.source_id, 'review id')}/reply"
        token, cached = self._token(connection)
        try:
            self._post_reply(url, token, text)
        except AuthFailed:
            if not cached:
                raise
            # The cached token was revoked or expired early: one more try with a fresh one.
            self._tokens.pop(_digest(connection), None)
            self._post_reply(url, self._token(connection)[0], text)

    def check(self, connection: Connection) -> str:
        reviews = self._page(connection, 1, 1)
        unit = connection.settings.get("business_unit")
        if not reviews:
            return f"Trustpilot business unit {unit}: connected, no reviews yet"
        latest = review_item(reviews[0]).published_at
        when = f"{latest:%Y-%m-%d}" if latest else "undated"
        return f"Trustpilot business unit {unit}: connected, latest review {when}"

    def _pages(self, connection: Connection) -> Iterator[list[SourceItem]]:
        page = 1
        while True:
            reviews = self._page(connection, page, PER_PAGE)
            yield [review_item(raw) for raw in reviews]
            if len(reviews) < PER_PAGE:
                return
            page += 1

    def _page(self, connection: Connection, page: int, per_page: int) -> list[Mapping[str, Any]]:
        unit = _safe_id(connection.settings.get("business_unit"), "business_unit")
        key = connection.credentials.get("api_key")
        if not key:
            raise AuthFailed("trustpilot: the connection has no api_key")
        what = f"trustpilot reviews page {page}"
        response = self._call(
            "GET",
            f"{self._base}/v1/business-units/{unit}/reviews",
            what,
            headers={"apikey": key},
            params={"perPage": per_page, "page": page, "orderBy": "createdat.desc"},
        )
        body = response.json()
        reviews = body.get("reviews") if isinstance(body, dict) else None
        if not isinstance(reviews, list) or not all(isinstance(r, dict) for r in reviews):
            raise Malformed(f"{what}: no reviews list", response.status)
        return reviews

    def _post_reply(self, url: str, token: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self._call("POST", url, "trustpilot reply", headers=headers, json_body={"message": text})

    def _token(self, connection: Connection) -> tuple[str, bool]:
        """The business user's bearer token, and whether it came from the cache."""
        creds = connection.credentials
        missing = [k for k in REPLY_KEYS if not creds.get(k)]
        if missing:
            raise Unsupported(f"trustpilot replies need the credentials {', '.join(missing)}")
        now, digest = self._call.clock(), _digest(connection)
        cached = self._tokens.get(digest)
        if cached and now < cached[1]:
            return cached[0], True
        basic = base64.b64encode(f"{creds['api_key']}:{creds['api_secret']}".encode()).decode()
        response = self._call(
            "POST",
            self._base + OAUTH_PATH,
            "trustpilot access token",
            headers={"Authorization": f"Basic {basic}"},
            form={"grant_type": "password", "username": creds["username"], "password": creds["password"]},
        )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise Malformed("trustpilot access token: no access_token", response.status)
        lifetime = timedelta(seconds=_lifetime(body.get("expires_in")))
        self._tokens[digest] = (token, now + lifetime - EXPIRY_MARGIN)
        return token, False


def parse_webhook(body: bytes) -> list[tuple[str, SourceItem]]:
    """Trustpilot's service-review webhooks → (eventName, item); deleted reviews come flagged deleted."""
    try:
        payload = json.loads(body)
    except ValueError as e:  # UnicodeDecodeError is one
        raise Malformed(f"trustpilot webhook: not JSON ({e.__class__.__name__})") from e
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise Malformed("trustpilot webhook: no events list")
    found: list[tuple[str, SourceItem]] = []
    for event in events:
        name = event.get("eventName") if isinstance(event, dict) else None
        if not isinstance(name, str):
            raise Malformed("trustpilot webhook: an event without eventName")
        if name not in (CREATED, REVISED, DELETED):
            continue
        data = event.get("eventData")
        if not isinstance(data, dict):
            raise Malformed(f"trustpilot webhook: {name} without eventData")
        found.append((name, review_item(data, deleted=name == DELETED)))
    return found


def review_item(raw: Mapping[str, Any], *, deleted: bool = False) -> SourceItem:
    """One review of the REST list or of a webhook's eventData."""
    consumer, reply = _obj(raw.get("consumer")), _obj(raw.get("companyReply"))
    stars = raw.get("stars")
    try:
        return SourceItem(
            source=Source.TRUSTPILOT,
            source_id=raw.get("id"),
            text=(_text(raw.get("text")) or "")[:MAX_TEXT],
            title=_text(raw.get("title")) or None,
            rating=stars,
            rating_scale=5 if stars is not None else None,
            author=_text(consumer.get("displayName")) or _text(consumer.get("name")),
            url=_web_link(raw.get("links")),
            published_at=_at(raw.get("createdAt")),
            updated_at=_at(raw.get("updatedAt")),
            language=_text(raw.get("language")),
            reply=_text(reply.get("text")) or None,
            replied_at=_at(reply.get("updatedAt")) or _at(reply.get("createdAt")),
            deleted=deleted,
        )
    except ValueError as e:  # pydantic's ValidationError is one
        raise Malformed(f"trustpilot review {raw.get('id')!r}: {e.__class__.__name__}") from e


def _web_link(links: Any) -> str | None:
    """The review's page on trustpilot.com among its links (the others point at the API)."""
    for link in links if isinstance(links, list) else []:
        href = link.get("href") if isinstance(link, dict) else None
        host = urlsplit(href).hostname if isinstance(href, str) else None
        if host and not host.startswith("api."):
            return str(href)
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"trustpilot: expected a string, got {type(value).__name__}")


def _lifetime(value: Any) -> float:
    """``expires_in`` is a string of seconds in Trustpilot's token answer; a number is taken too."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_S
    return seconds if seconds > 0 else DEFAULT_LIFETIME_S


def _safe_id(value: str | None, what: str) -> str:
    if not value or not _ID.fullmatch(value):
        raise NotFound(f"trustpilot: {what} {value!r} is not a Trustpilot id")
    return value


def _digest(connection: Connection) -> str:
    """The token cache's key: all four credentials (a changed password must not reuse an old token)."""
    joined = "\0".join(connection.credentials.get(k, "") for k in REPLY_KEYS)
    return hashlib.sha256(joined.encode()).hexdigest()


def _obj(value: Any) -> Mapping[str, Any]:
    return shapes.obj(value, "trustpilot")


def _at(value: Any) -> datetime | None:
    return shapes.when(value, "trustpilot")
