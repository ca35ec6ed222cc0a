"""The Apple App Store: the public customer-reviews RSS feed, or App Store Connect when a key is connected.

Settings: ``app_id`` (the numeric Apple id), optional ``country`` (two letters, default ``us``: the feed
is per storefront). Credentials, all optional: ``key_id``, ``issuer_id`` and ``private_key`` (the PEM text
of the API key's .p8 file). With them the connector reads App Store Connect (every territory, and it can
reply); without them the RSS feed (one country, the 500 newest, read-only).

RSS quirks (a captured feed is in fixtures/reviews/apple_app_store_rss): every scalar is wrapped as
``{"label": ...}``; ``feed.entry`` is a list, a single object when a page holds one entry, or absent on an
empty page; there is no page 11. Older feeds put the app itself first, as an entry without a rating.
App Store Connect pages chain by ``links.next``, which must stay on the API host: the token goes nowhere
else. Its JWT (ES256) is signed here with ``cryptography``, imported on first use only: RSS needs none.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from services.reviews.connectors import shapes
from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, NotFound, Unsupported
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection
from shared.clock import utcnow

RSS_PAGES = 10  # the feed's hard cap (50 entries a page)
ASC_LIMIT = 200  # App Store Connect's largest page
JWT_LIFETIME = timedelta(minutes=15)  # Apple refuses tokens that live longer than 20 minutes
AUDIENCE = "appstoreconnect-v1"
ASC_KEYS = ("key_id", "issuer_id", "private_key")


@dataclass(frozen=True)
class AscKey:
    key_id: str
    issuer_id: str
    private_key: str  # PEM


class AppStoreConnector:
    source = Source.APP_STORE.value

    def __init__(
        self,
        caller: Caller,
        rss_base: str = "https://itunes.apple.com",
        api_base: str = "https://api.appstoreconnect.apple.com",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._call = caller
        self._rss = rss_base.rstrip("/")
        self._api = api_base.rstrip("/")
        self._clock = clock

    def pull(self, connection: Connection, since: datetime | None, max_items: int) -> Iterator[SourceItem]:
        app_id, key = _app_id(connection), asc_key(connection)
        if key is None:
            return shapes.bounded(self._rss_pages(app_id, _country(connection)), since, max_items)
        return shapes.bounded(self._asc_pages(app_id, key, max_items), since, max_items)

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        key = asc_key(connection)
        if key is None:
            raise Unsupported(
                "App Store replies need an App Store Connect API key: the RSS feed is read-only"
            )
        body = {
            "data": {
                "type": "customerReviewResponses",
                "attributes": {"responseBody": text},
                "relationships": {
                    "review": {"data": {"type": "customerReviews", "id": review.item.source_id}}
                },
            }
        }
        url = f"{self._api}/v1/customerReviewResponses"
        self._call("POST", url, "app store connect reply", headers=self._bearer(key), json_body=body)

    def check(self, connection: Connection) -> str:
        app_id, key = _app_id(connection), asc_key(connection)
        if key is None:
            country = _country(connection)
            entries = self._rss_entries(app_id, country, 1)
            return f"App Store RSS ({country}), app {app_id}: reachable, {len(entries)} entries on page 1"
        body = self._asc_get(self._reviews_url(app_id), key, {"sort": "-createdDate", "limit": 1})
        paging = _obj(_obj(body.get("meta")).get("paging"))
        return f"App Store Connect, app {app_id}: connected, {paging.get('total', '?')} reviews"

    def _rss_pages(self, app_id: str, country: str) -> Iterator[list[SourceItem]]:
        newer: datetime | None = None  # the date of the last dated entry: the feed is newest first
        for n in range(1, RSS_PAGES + 1):
            entries = self._rss_entries(app_id, country, n)
            if not entries:
                return
            items = dated([rss_item(e) for e in entries if "im:rating" in e], newer)
            newer = next((i.published_at for i in reversed(items) if i.published_at), newer)
            yield items

    def _rss_entries(self, app_id: str, country: str, n: int) -> list[Mapping[str, Any]]:
        url = f"{self._rss}/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json"
        what = f"app store rss page {n}"
        response = self._call("GET", url, what)
        body = response.json()
        feed = body.get("feed") if isinstance(body, dict) else None
        if not isinstance(feed, dict):
            raise Malformed(f"{what}: no feed", response.status)
        entry = feed.get("entry")
        entries = [entry] if isinstance(entry, dict) else entry if entry is not None else []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise Malformed(f"{what}: feed.entry is neither a list nor an object", response.status)
        return entries

    def _asc_pages(self, app_id: str, key: AscKey, max_items: int) -> Iterator[list[SourceItem]]:
        url: str | None = self._reviews_url(app_id)
        params: dict[str, str | int] | None = {
            "sort": "-createdDate",
            "limit": min(ASC_LIMIT, max(1, max_items)),
        }
        followed: set[str] = set()
        while url is not None:
            body = self._asc_get(url, key, params)
            data = body.get("data")
            if not isinstance(data, list):
                raise Malformed("app store connect reviews: no data list")
            yield [asc_item(d) for d in data]
            url, params = self._next(body, followed), None  # the next link carries its own query

    def _next(self, body: Mapping[str, Any], followed: set[str]) -> str | None:
        link = _obj(body.get("links")).get("next")
        if link is None or link in followed:  # a repeated cursor would loop for ever
            return None
        here, there = urlsplit(self._api), urlsplit(link) if isinstance(link, str) else None
        if there is None or (there.scheme, there.netloc) != (here.scheme, here.netloc):
            raise Malformed(f"app store connect: links.next leaves the API host: {str(link)[:80]!r}")
        followed.add(link)
        return str(link)

    def _asc_get(self, url: str, key: AscKey, params: Mapping[str, str | int] | None) -> Mapping[str, Any]:
        response = self._call(
            "GET", url, "app store connect reviews", headers=self._bearer(key), params=params
        )
        body = response.json()
        if not isinstance(body, dict):
            raise Malformed("app store connect reviews: not an object", response.status)
        return body

    def _reviews_url(self, app_id: str) -> str:
        return f"{self._api}/v1/apps/{app_id}/customerReviews"

    def _bearer(self, key: AscKey) -> dict[str, str]:
        """A fresh token per request: signing is cheap and no token outlives a long pull."""
        return {"Authorization": f"Bearer {app_store_jwt(key, self._clock())}"}


def app_store_jwt(key: AscKey, now: datetime) -> str:
    """The App Store Connect bearer token: ES256 over header.payload, the signature as raw r||s."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    pem = key.private_key.replace("\\n", "\n")  # secrets stores often keep the PEM on one escaped line
    try:
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise AuthFailed("app store connect: private_key is not a readable PEM key") from e
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise AuthFailed("app store connect: private_key is not an ES256 (P-256) key")
    iat = int(now.timestamp())
    header = {"alg": "ES256", "kid": key.key_id, "typ": "JWT"}
    claims = {
        "iss": key.issuer_id,
        "iat": iat,
        "exp": iat + int(JWT_LIFETIME.total_seconds()),
        "aud": AUDIENCE,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def asc_key(connection: Connection) -> AscKey | None:
    """The App Store Connect key when the connection has one; a half-entered key is an error."""
    creds = connection.credentials
    present = [k for k in ASC_KEYS if creds.get(k)]
    if not present:
        return None
    if len(present) < len(ASC_KEYS):
        missing = ", ".join(k for k in ASC_KEYS if k not in present)
        raise AuthFailed(f"app store connect: the credentials lack {missing}")
    return AscKey(creds["key_id"], creds["issuer_id"], creds["private_key"])


def dated(items: list[SourceItem], newer: datetime | None) -> list[SourceItem]:
    """The feed lists newest first, so an entry without ``updated`` is no newer than the entry before
    it (or, first of all, than the one after it): it takes that date rather than none, which would
    make a years-old one-star review look new on a first pull and raise an alert."""
    out: list[SourceItem] = []
    for i, item in enumerate(items):
        bound = newer or next((x.published_at for x in items[i + 1 :] if x.published_at), None)
        kept = item
        if item.published_at is None and bound is not None:
            kept = item.model_copy(update={"published_at": bound})
        newer = kept.published_at or newer
        out.append(kept)
    return out


def rss_item(entry: Mapping[str, Any]) -> SourceItem:
    try:
        return SourceItem(
            source=Source.APP_STORE,
            source_id=_label(entry, "id") or "",
            text=(_label(entry, "content") or "")[:MAX_TEXT],
            title=_label(entry, "title") or None,
            rating=float(_label(entry, "im:rating") or ""),
            rating_scale=5,
            author=_label(_obj(entry.get("author")), "name"),
            url=_href(entry.get("link")),
            # The feed's one date is the review's latest version's, the date the store shows.
            published_at=_at(_label(entry, "updated")),
        )
    except ValueError as e:  # pydantic's ValidationError is one
        raise Malformed(f"app store rss entry {_label(entry, 'id')!r}: {e.__class__.__name__}") from e


def asc_item(data: Any) -> SourceItem:
    """One ``customerReviews`` resource. ``territory`` has no place in SourceItem and is dropped."""
    attributes = _obj(_obj(data).get("attributes"))
    body = attributes.get("body")
    try:
        return SourceItem(
            source=Source.APP_STORE,
            source_id=data.get("id"),
            text=(body if isinstance(body, str) else "")[:MAX_TEXT],
            title=attributes.get("title") or None,
            rating=attributes.get("rating"),
            rating_scale=5,
            author=attributes.get("reviewerNickname"),
            published_at=_at(attributes.get("createdDate")),
        )
    except ValueError as e:
        raise Malformed(f"app store connect review {data.get('id')!r}: {e.__class__.__name__}") from e


def _label(node: Mapping[str, Any], key: str) -> str | None:
    wrapped = node.get(key)
    label = wrapped.get("label") if isinstance(wrapped, dict) else None
    return label if isinstance(label, str) else None


def _href(link: Any) -> str | None:
    """An entry's link: one object, or a list of them (the review page is ``rel=related``)."""
    links = link if isinstance(link, list) else [link]
    hrefs = [_obj(_obj(x).get("attributes")) for x in links]
    chosen = next((a for a in hrefs if a.get("rel") == "related"), hrefs[0] if hrefs else {})
    href = chosen.get("href")
    return href if isinstance(href, str) else None


def _app_id(connection: Connection) -> str:
    app_id = connection.settings.get("app_id", "")
    if not re.fullmatch(r"[0-9]{1,20}", app_id):
        raise NotFound(f"app store: app_id {app_id!r} is not a numeric Apple id")
    return app_id


def _country(connection: Connection) -> str:
    country = (connection.settings.get("country") or "us").lower()
    if not re.fullmatch(r"[a-z]{2}", country):
        raise NotFound(f"app store: country {country!r} is not a two-letter storefront code")
    return country


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _obj(value: Any) -> Mapping[str, Any]:
    return shapes.obj(value, "app store")


def _at(value: Any) -> datetime | None:
    return shapes.when(value, "app store")
