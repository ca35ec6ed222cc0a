"""Reddit: brand mentions found by search (newest first), read with an app-only OAuth token.

Reddit has no reviews and no rating; a post naming the shop is a mention worth an alert. An app-only
token cannot post, and a brand replying through an app reads as spam, so replies are left to a person.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, SourceError, Unsupported
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection

PAGE = 100  # Reddit's largest listing page
TOKEN_MARGIN = timedelta(minutes=1)  # renew a little before Reddit's expiry, never mid-request
SUBREDDIT = re.compile(r"(?:/?r/)?([A-Za-z0-9_]{2,21})/?")
DELETED_AUTHOR = "[deleted]"


class _Child(BaseModel):
    kind: str
    data: dict[str, Any]


class _Page(BaseModel):
    after: str | None = None
    children: list[_Child]


class _Listing(BaseModel):
    kind: Literal["Listing"]
    data: _Page


class _Post(BaseModel):
    """The fields of a ``t3`` (a post) that a mention needs; Reddit sends ~100 more."""

    name: str = Field(min_length=1)  # the fullname, t3_ + id: stable across edits
    title: str = ""
    selftext: str = ""  # empty for a link post
    author: str | None = None
    created_utc: float = Field(ge=0, lt=1e11)
    permalink: str = Field(min_length=1)

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_utc, tz=UTC)

    def item(self) -> SourceItem:
        return SourceItem(
            source=Source.REDDIT,
            source_id=self.name,
            text=self.selftext[:MAX_TEXT],
            title=self.title or None,
            author=None if self.author in (None, "", DELETED_AUTHOR) else self.author,
            url=f"https://www.reddit.com{self.permalink}",
            published_at=self.created,
        )


class _Token(BaseModel):
    access_token: str = Field(min_length=1)
    expires_in: int = Field(default=3600, gt=0)


@dataclass(frozen=True)
class _Cached:
    token: str
    until: datetime


def _malformed(what: str, error: ValidationError) -> Malformed:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return Malformed(f"{what}: {field}: {first['msg']}")


class RedditConnector:
    source = "reddit"

    def __init__(
        self,
        caller: Caller,
        api_base: str = "https://oauth.reddit.com",
        token_url: str = "https://www.reddit.com/api/v1/access_token",  # noqa: S107 (a URL, not a secret)
        user_agent: str = "python:cxloop:0.1 (by /u/cxloop)",
    ) -> None:
        self._caller = caller
        self._api_base = api_base.rstrip("/")
        self._token_url = token_url
        self._user_agent = user_agent
        self._tokens: dict[tuple[str, str], _Cached] = {}

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        """Page back through the newest posts until ``since``, a null ``after``, or ``max_items``.
        Posts at exactly ``since`` come again (ingest knows them); a page with nothing new ends the
        pull, so a cursor that loops cannot spend the rate limit."""
        if max_items <= 0:
            return
        seen: set[str] = set()
        after: str | None = None
        while True:
            listing = self._search(connection, PAGE, after)
            fresh = 0
            for post in self._posts(listing):
                if since is not None and post.created < since:
                    return
                if post.name in seen:
                    continue
                seen.add(post.name)
                fresh += 1
                yield post.item()
                if len(seen) >= max_items:
                    return
            after = listing.data.after
            if after is None or fresh == 0:
                return

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        raise Unsupported(f"reddit: an app-only token cannot post; reply by hand at {review.item.url}")

    def check(self, connection: Connection) -> str:
        listing = self._search(connection, 1, None)
        where = (
            f"r/{self._subreddit(connection)}" if connection.settings.get("subreddit") else "all of Reddit"
        )
        query = connection.settings.get("query", "")
        newest = next(iter(self._posts(listing)), None)
        if newest is None:
            return f"reddit: connected; no post in {where} matches {query!r} yet"
        return f"reddit: connected; newest post in {where} matching {query!r}: {newest.created:%Y-%m-%d}"

    # --- the search ---------------------------------------------------------------------------------

    def _search(self, connection: Connection, limit: int, after: str | None) -> _Listing:
        query = connection.settings.get("query", "").strip()
        if not query:
            raise SourceError("reddit: the connection has no search query (the shop's brand terms)")
        params: dict[str, str | int] = {
            "q": query,
            "sort": "new",
            "limit": limit,
            "raw_json": 1,
            "type": "link",
        }
        url = f"{self._api_base}/search"
        if connection.settings.get("subreddit"):
            url = f"{self._api_base}/r/{self._subreddit(connection)}/search"
            params["restrict_sr"] = 1
        if after:
            params["after"] = after
        body = self._authorised_get(connection, url, params)
        try:
            return _Listing.model_validate(body)
        except ValidationError as e:
            raise _malformed("reddit search", e) from e

    @staticmethod
    def _subreddit(connection: Connection) -> str:
        match = SUBREDDIT.fullmatch(connection.settings.get("subreddit", "").strip())
        if match is None:
            raise SourceError(f"reddit: {connection.settings.get('subreddit')!r} is not a subreddit name")
        return match.group(1)

    @staticmethod
    def _posts(listing: _Listing) -> Iterator[_Post]:
        for child in listing.data.children:
            if child.kind != "t3":  # comments, "more" stubs: not posts
                continue
            try:
                yield _Post.model_validate(child.data)
            except ValidationError as e:
                raise _malformed("reddit post", e) from e

    def _authorised_get(self, connection: Connection, url: str, params: Mapping[str, str | int]) -> Any:
        """A 401 on a cached token (revoked, or expired early) gets one fresh token before it counts."""
        token, cached = self._token(connection)
        try:
            return self._get(url, token, params)
        except AuthFailed:
            self._tokens.pop(self._key(connection), None)
            if not cached:
                raise
        return self._get(url, self._token(connection)[0], params)

    def _get(self, url: str, token: str, params: Mapping[str, str | int]) -> Any:
        headers = {"Authorization": f"bearer {token}", "User-Agent": self._user_agent}
        return self._caller("GET", url, "reddit search", headers=headers, params=params).json()

    # --- the app-only token --------------------------------------------------------------------------

    @staticmethod
    def _key(connection: Connection) -> tuple[str, str]:
        client_id = connection.credentials.get("client_id", "")
        secret = connection.credentials.get("client_secret", "")
        if not client_id or not secret:
            raise AuthFailed("reddit: the connection has no client_id and client_secret")
        return client_id, secret

    def _token(self, connection: Connection) -> tuple[str, bool]:
        """The cached token while it lasts (and True), else a new one from the token endpoint."""
        key = self._key(connection)
        cached = self._tokens.get(key)
        now = self._caller.clock()
        if cached is not None and now < cached.until:
            return cached.token, True
        basic = base64.b64encode(f"{key[0]}:{key[1]}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "User-Agent": self._user_agent}
        form = {"grant_type": "client_credentials"}
        body = self._caller("POST", self._token_url, "reddit token", headers=headers, form=form).json()
        if isinstance(body, dict) and "error" in body:  # Reddit can refuse with a 200
            raise AuthFailed(f"reddit token: {body['error']}")
        try:
            token = _Token.model_validate(body)
        except ValidationError as e:
            raise _malformed("reddit token", e) from e
        self._tokens[key] = _Cached(
            token.access_token, now + timedelta(seconds=token.expires_in) - TOKEN_MARGIN
        )
        return token.access_token, False
