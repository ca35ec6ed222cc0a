"""Google Business Profile reviews (My Business API v4): pull newest first, reply, check.

Connection.settings: ``account`` and ``location``, the numeric ids (a resource name such as
``accounts/1/locations/2`` is cut to its last segment). Connection.credentials: ``client_id``,
``client_secret`` and ``refresh_token`` of an OAuth client granted the ``business.manage`` scope.

The connector trades the refresh token for an access token itself and keeps it until shortly before
it expires, so a pull of many pages (or several shops of one client) costs one token call. Reviews are
listed by ``updateTime desc``: an edit moves a review to the top, so stopping at the first review older
than ``since`` catches edits as well as new reviews. Reviews exactly at ``since`` are yielded again (two
reviews may share that instant); the ingester dedupes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, NotFound, SourceError
from services.reviews.domain.model import Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection, Response

API_BASE = "https://mybusiness.googleapis.com"
OAUTH_URL = "https://oauth2.googleapis.com/token"
PAGE_SIZE = 50  # the API's maximum
TOKEN_MARGIN = timedelta(seconds=60)  # refresh this long before Google's expiry
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
CREDENTIALS = ("client_id", "client_secret", "refresh_token")
_ID = re.compile(r"[A-Za-z0-9_-]+")  # what Google's ids are made of; nothing else goes into a path
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(value: object) -> datetime:
    """RFC 3339 with 0-9 fractional digits (Google sends 0 or 6, the format allows 9), in UTC;
    digits past the microsecond are dropped, as Python cannot keep them."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Malformed(f"google: not an RFC 3339 time: {value!r}")
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone.upper() == "Z" else zone
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '').ljust(6, '0')[:6]}{offset}")
    except ValueError as e:  # 2026-02-30, 24:00:00
        raise Malformed(f"google: not a valid time: {value!r}") from e
    return moment.astimezone(UTC)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _rating(raw: Mapping[str, Any]) -> int | None:
    star = raw.get("starRating")
    if star in (None, "STAR_RATING_UNSPECIFIED"):
        return None
    if star not in STARS:
        raise Malformed(f"google: unknown starRating {star!r}")
    return STARS[star]


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(raw[key]) if raw.get(key) is not None else None


def to_item(raw: Any) -> SourceItem:
    """One v4 ``Review`` → SourceItem. ``comment`` is absent on rating-only reviews."""
    if not isinstance(raw, dict) or not isinstance(raw.get("reviewId"), str):
        raise Malformed(f"google: a review without reviewId: {str(raw)[:80]}")
    rating, reply = _rating(raw), _object(raw.get("reviewReply"))
    try:
        item = SourceItem(
            source=Source.GOOGLE,
            source_id=raw["reviewId"],
            text=raw.get("comment") or "",
            rating=rating,
            rating_scale=5 if rating is not None else None,
            author=_object(raw.get("reviewer")).get("displayName"),
            published_at=_time(raw, "createTime"),
            updated_at=_time(raw, "updateTime"),
            reply=reply.get("comment"),
            replied_at=_time(reply, "updateTime"),
        )
    except ValidationError as e:
        raise Malformed(f"google: review {raw['reviewId'][:40]}: {e.error_count()} invalid fields") from e
    if item.moment is None:
        raise Malformed(f"google: review {item.source_id[:40]} has neither updateTime nor createTime")
    return item


def _page(body: Any) -> tuple[list[Any], str | None]:
    """``{reviews, averageRating, totalReviewCount, nextPageToken}``; empty members are omitted."""
    if not isinstance(body, dict):
        raise Malformed("google reviews: the body is not an object")
    reviews, token = body.get("reviews", []), body.get("nextPageToken") or None
    if not isinstance(reviews, list) or not isinstance(token, str | None):
        raise Malformed("google reviews: reviews is not a list or nextPageToken not a string")
    return reviews, token


def _required(values: Mapping[str, str], keys: tuple[str, ...], error: type[SourceError]) -> dict[str, str]:
    missing = [key for key in keys if not values.get(key)]
    if missing:
        raise error(f"google: the connection lacks {', '.join(missing)}")
    return {key: values[key] for key in keys}


def _ids(connection: Connection) -> tuple[str, str]:
    """The account and location ids, whether given bare or as resource names."""
    ids = _required(connection.settings, ("account", "location"), NotFound)
    account, location = ids["account"].rsplit("/", 1)[-1], ids["location"].rsplit("/", 1)[-1]
    if not (_ID.fullmatch(account) and _ID.fullmatch(location)):
        raise NotFound(f"google: not an account and location id: {account!r}, {location!r}")
    return account, location


class GoogleConnector:
    source = "google"

    def __init__(
        self,
        caller: Caller,
        api_base: str = API_BASE,
        token_url: str = OAUTH_URL,
    ) -> None:
        self._caller = caller
        self._api_base = api_base.rstrip("/")
        self._token_url = token_url
        self._tokens: dict[tuple[str, str], tuple[str, datetime]] = {}  # (client, refresh) → token, until

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        seen: set[str] = set()
        if max_items <= 0:
            return
        for item in self._reviews(connection):
            if since is not None and item.moment is not None and item.moment < since:
                return
            if item.source_id in seen:  # moved between pages by an edit during the pull
                continue
            seen.add(item.source_id)
            yield item
            if len(seen) >= max_items:
                return

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        """PUT creates the reply or replaces the existing one."""
        url = f"{self._reviews_url(connection)}/{quote(review.item.source_id, safe='')}/reply"
        self._call(connection, "PUT", url, "google reply", json_body={"comment": text})

    def check(self, connection: Connection) -> str:
        url = self._reviews_url(connection)
        body = self._call(connection, "GET", url, "google check", params={"pageSize": 1}).json()
        _page(body)
        line = f"google: location {_ids(connection)[1]}, {body.get('totalReviewCount', 0)} reviews"
        average = body.get("averageRating")
        return f"{line}, average {average:.1f}" if isinstance(average, int | float) else line

    def _reviews(self, connection: Connection) -> Iterator[SourceItem]:
        url, token, used = self._reviews_url(connection), None, set()
        while True:
            params: dict[str, str | int] = {"pageSize": PAGE_SIZE, "orderBy": "updateTime desc"}
            if token:
                params["pageToken"] = token
            reviews, token = _page(self._call(connection, "GET", url, "google reviews", params=params).json())
            yield from map(to_item, reviews)
            if token is None:
                return
            if token in used:
                raise Malformed("google reviews: nextPageToken repeats")
            used.add(token)

    def _reviews_url(self, connection: Connection) -> str:
        account, location = (quote(value, safe="") for value in _ids(connection))
        return f"{self._api_base}/v4/accounts/{account}/locations/{location}/reviews"

    def _call(self, connection: Connection, method: str, url: str, what: str, **kwargs: Any) -> Response:
        key, token = self._token(connection)
        try:
            return self._caller(method, url, what, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except AuthFailed:
            self._tokens.pop(key, None)  # revoked before its time: the next call fetches a new one
            raise

    def _token(self, connection: Connection) -> tuple[tuple[str, str], str]:
        credentials = _required(connection.credentials, CREDENTIALS, AuthFailed)
        key, now = (credentials["client_id"], credentials["refresh_token"]), self._caller.clock()
        cached = self._tokens.get(key)
        if cached is not None and now < cached[1]:
            return key, cached[0]
        try:
            response = self._caller(
                "POST", self._token_url, "google token", form={"grant_type": "refresh_token", **credentials}
            )
        except SourceError as e:
            if e.status == 400:  # invalid_grant: the refresh token was revoked or has expired
                raise AuthFailed(str(e), 400) from e
            raise
        body = response.json()
        token, expires_in = _object(body).get("access_token"), _object(body).get("expires_in", 3600)
        if not isinstance(token, str) or not isinstance(expires_in, int):
            raise Malformed("google token: no access_token or expires_in in the answer")
        self._tokens[key] = (token, now + timedelta(seconds=expires_in) - TOKEN_MARGIN)
        return key, token
