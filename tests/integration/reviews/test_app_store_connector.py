"""The App Store connector against a local fake: the RSS feed (captured shape) and App Store Connect
(Apple's documented example), limits, the ES256 token checked with the public key, links.next, reply."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cxloop.local.fake_source import CannedResponse, FakeSource, Seen
from services.reviews.connectors.app_store import AppStoreConnector
from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import (
    AuthFailed,
    Malformed,
    NotFound,
    RateLimited,
    Transient,
    Unsupported,
)
from services.reviews.domain.model import Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection
from tests.integration.reviews.conftest import Sleeps

APP = "811377230"
ASC_APP = "682658836"
ASC_LIST = f"/v1/apps/{ASC_APP}/customerReviews"
NOW = datetime(2026, 11, 22, 11, 58, 30, tzinfo=UTC)  # the connector's clock (the JWT's iat)
RSS = Connection("shop-1", "app_store", {"app_id": APP})


def rss_path(page: int, country: str = "us") -> str:
    return f"/{country}/rss/customerreviews/page={page}/id={APP}/sortby=mostrecent/json"


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def feed(shared_dir: Path) -> dict[str, Any]:
    path = (
        shared_dir / "fixtures" / "reviews" / "apple_app_store_rss" / "customerreviews_feed_podcast_us.json"
    )
    return json.loads(path.read_text())


@pytest.fixture
def entries(feed: dict[str, Any]) -> list[dict[str, Any]]:
    return list(feed["feed"]["entry"])  # 50, newest first


@pytest.fixture
def asc_page(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "fixtures" / "reviews" / "app_store_connect" / "customer_reviews_list_app.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def p8() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def asc(p8: ec.EllipticCurvePrivateKey) -> Connection:
    pem = p8.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = {
        "key_id": "2X9R4HXF34",
        "issuer_id": "57246542-96fe-1a63-e053-0824d011072a",
        "private_key": pem,
    }
    return Connection("shop-1", "app_store", {"app_id": ASC_APP}, credentials)


def page_of(feed: dict[str, Any], entry: Any) -> dict[str, Any]:
    """The captured feed's envelope around other entries (``...`` drops ``entry``, an empty page)."""
    envelope = {k: v for k, v in feed["feed"].items() if k != "entry"}
    return {"feed": envelope if entry is ... else {**envelope, "entry": entry}}


def older(entries: list[dict[str, Any]], tag: str, days: int = 700) -> list[dict[str, Any]]:
    """Copies of the captured entries with new ids, ``days`` older (so they sort after them)."""
    out = []
    for entry in entries:
        copied = copy.deepcopy(entry)
        copied["id"]["label"] = f"{tag}{entry['id']['label']}"
        moment = datetime.fromisoformat(entry["updated"]["label"]) - timedelta(days=days)
        copied["updated"]["label"] = moment.isoformat()
        out.append(copied)
    return out


def serve_rss(fake: FakeSource, feed: dict[str, Any], pages: dict[int, Any]) -> None:
    for n in range(1, 11):
        fake.answer("GET", rss_path(n), CannedResponse(200, page_of(feed, pages.get(n, ...))))


def store(fake: FakeSource, caller: Caller, **kwargs: Any) -> AppStoreConnector:
    return AppStoreConnector(caller, rss_base=fake.url, api_base=fake.url, clock=lambda: NOW, **kwargs)


def b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verified(token: str, public: ec.EllipticCurvePublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check an ES256 JWT as Apple would: raw r||s over header.payload; return header and claims."""
    header, payload, signature = token.split(".")
    raw = b64d(signature)
    assert len(raw) == 64
    assert "=" not in token
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64d(header)), json.loads(b64d(payload))


# --- RSS ------------------------------------------------------------------------------------------------


def test_rss_maps_the_captured_entry(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries})
    items = list(store(fake, caller).pull(RSS, None, 500))
    assert len(items) == 50
    first = items[0]
    assert first.model_copy(update={"text": ""}) == SourceItem(
        source=Source.APP_STORE,
        source_id="8414391645",
        title="Two Years",
        rating=5.0,
        rating_scale=5,
        author="Human #6293839583",
        url="https://itunes.apple.com/us/review?id=811377230&type=Podcast",
        published_at=datetime(2022, 3, 3, 2, 5, 59, tzinfo=UTC),  # 19:05:59-07:00
    )
    assert first.text.startswith("It\u2019s been a year now.")
    assert first.text.endswith("RIP, HI")
    assert {i.rating for i in items} <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_rss_pages_until_a_page_without_entry(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries, 2: older(entries, "p2-")})
    items = list(store(fake, caller).pull(RSS, None, 500))
    assert len(items) == 100
    assert items[50].source_id == "p2-8414391645"
    assert [s.path for s in fake.requests] == [rss_path(1), rss_path(2), rss_path(3)]


def test_rss_a_single_entry_comes_as_an_object(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries[0]})
    assert [i.source_id for i in store(fake, caller).pull(RSS, None, 500)] == ["8414391645"]


def test_rss_an_empty_list_ends_the_pull(fake: FakeSource, caller: Caller, feed: dict[str, Any]) -> None:
    serve_rss(fake, feed, {1: []})
    assert list(store(fake, caller).pull(RSS, None, 500)) == []
    assert len(fake.requests) == 1


def test_rss_stops_at_page_ten(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {n: older(entries, f"p{n}-", days=700 * (n - 1)) for n in range(1, 12)})
    fake.answer("GET", rss_path(11), CannedResponse(200, page_of(feed, entries)))
    items = list(store(fake, caller).pull(RSS, None, 10_000))
    assert len(items) == 500
    assert len(fake.requests) == 10


def test_rss_stops_at_since(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries, 2: older(entries, "p2-")})
    since = datetime.fromisoformat(entries[10]["updated"]["label"])
    items = list(store(fake, caller).pull(RSS, since, 500))
    assert [i.source_id for i in items] == [e["id"]["label"] for e in entries[:10]]
    assert len(fake.requests) == 1


def test_rss_max_items(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries, 2: older(entries, "p2-"), 3: older(entries, "p3-", 1400)})
    assert len(list(store(fake, caller).pull(RSS, None, 60))) == 60
    assert len(fake.requests) == 2


def test_rss_a_review_on_two_pages_once(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries, 2: [entries[-1], *older(entries, "p2-")[:49]]})
    ids = [i.source_id for i in store(fake, caller).pull(RSS, None, 500)]
    assert len(ids) == 99
    assert len(set(ids)) == 99


def test_rss_a_feed_that_repeats_its_page_does_not_loop(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, dict.fromkeys(range(1, 11), entries))
    assert len(list(store(fake, caller).pull(RSS, None, 500))) == 50
    assert len(fake.requests) == 2


def test_rss_an_edit_between_pulls_changes_the_fingerprint(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    pages: dict[int, Any] = {1: entries[:3]}

    def answer(seen: Seen) -> CannedResponse:
        n = int(seen.path.split("page=")[1].split("/")[0])
        return CannedResponse(200, page_of(feed, pages.get(n, ...)))

    for n in (1, 2):
        fake.route("GET", rss_path(n), answer)
    before = list(store(fake, caller).pull(RSS, None, 500))
    edited = copy.deepcopy(entries[1])
    edited["content"]["label"] += " Update: it came back!"
    edited["im:rating"]["label"] = "2"
    pages[1] = [entries[0], edited, entries[2]]
    after = list(store(fake, caller).pull(RSS, None, 500))
    assert [i.source_id for i in before] == [i.source_id for i in after]
    assert before[0].fingerprint() == after[0].fingerprint()
    assert before[1].fingerprint() != after[1].fingerprint()
    assert after[1].rating == 2.0


def test_rss_skips_the_apps_own_entry(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    app = {"id": {"label": APP}, "im:name": {"label": "The app"}, "title": {"label": "The app - Maker"}}
    serve_rss(fake, feed, {1: [app, *entries[:2]]})
    ids = [i.source_id for i in store(fake, caller).pull(RSS, None, 500)]
    assert ids == [e["id"]["label"] for e in entries[:2]]


def test_rss_uses_the_country(fake: FakeSource, caller: Caller, feed: dict[str, Any]) -> None:
    fake.answer("GET", rss_path(1, "gb"), CannedResponse(200, page_of(feed, ...)))
    list(store(fake, caller).pull(Connection("s", "app_store", {"app_id": APP, "country": "GB"}), None, 5))
    assert [s.path for s in fake.requests] == [rss_path(1, "gb")]


@pytest.mark.parametrize("settings", [{}, {"app_id": "com.shop.app"}, {"app_id": APP, "country": "usa/../x"}])
def test_a_bad_setting_fails_before_any_call(
    fake: FakeSource, caller: Caller, settings: dict[str, str]
) -> None:
    with pytest.raises(NotFound):
        list(store(fake, caller).pull(Connection("s", "app_store", settings), None, 5))
    assert fake.requests == []


def test_rss_unknown_app_is_not_found(fake: FakeSource, caller: Caller) -> None:
    with pytest.raises(NotFound):  # the fake answers 404 to any unscripted path
        list(store(fake, caller).pull(RSS, None, 5))


def test_rss_429_with_retry_after(
    fake: FakeSource, caller: Caller, sleeps: Sleeps, feed: dict[str, Any]
) -> None:
    fake.answer(
        "GET",
        rss_path(1),
        CannedResponse(429, "", {"Retry-After": "12"}),
        CannedResponse(200, page_of(feed, ...)),
    )
    assert list(store(fake, caller).pull(RSS, None, 5)) == []
    assert sleeps == [12.0]


def test_rss_429_without_retry_after(
    fake: FakeSource, caller: Caller, sleeps: Sleeps, feed: dict[str, Any]
) -> None:
    fake.answer(
        "GET",
        rss_path(1),
        CannedResponse(429, ""),
        CannedResponse(429, ""),
        CannedResponse(200, page_of(feed, ...)),
    )
    assert list(store(fake, caller).pull(RSS, None, 5)) == []
    assert len(sleeps) == 2
    assert 0.0 <= sleeps[0] <= 1.0
    assert 0.0 <= sleeps[1] <= 2.0


def test_rss_5xx_retried_then_transient(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer("GET", rss_path(1), CannedResponse(500, "oops"))
    with pytest.raises(Transient):
        list(store(fake, caller).pull(RSS, None, 5))
    assert len(fake.requests) == 4
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    "body",
    [
        b'{"feed": {"entry": [',
        {"items": []},
        {"feed": {"entry": "none"}},
        {"feed": {"entry": [{"id": {"label": "1"}, "im:rating": {"label": "five"}}]}},
        {"feed": {"entry": [{"im:rating": {"label": "5"}}]}},
        {
            "feed": {
                "entry": [{"id": {"label": "1"}, "im:rating": {"label": "5"}, "updated": {"label": "May"}}]
            }
        },
    ],
)
def test_rss_malformed(fake: FakeSource, caller: Caller, body: Any) -> None:
    fake.answer("GET", rss_path(1), CannedResponse(200, body))
    with pytest.raises(Malformed):
        list(store(fake, caller).pull(RSS, None, 5))


def test_rss_reply_is_unsupported(fake: FakeSource, caller: Caller) -> None:
    item = SourceItem(source=Source.APP_STORE, source_id="8414391645")
    with pytest.raises(Unsupported):
        store(fake, caller).reply(RSS, stored(item), "Thanks")
    assert fake.requests == []


def test_rss_check(
    fake: FakeSource, caller: Caller, feed: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    serve_rss(fake, feed, {1: entries})
    line = store(fake, caller).check(RSS)
    assert APP in line
    assert "50" in line
    assert [s.path for s in fake.requests] == [rss_path(1)]


# --- App Store Connect ------------------------------------------------------------------------------------


def asc_review(n: int, created: datetime) -> dict[str, Any]:
    return {
        "type": "customerReviews",
        "id": f"rev-{n}",
        "attributes": {
            "rating": 1 + n % 5,
            "title": f"Title {n}",
            "body": f"Body {n}",
            "reviewerNickname": f"nick{n}",
            "createdDate": created.isoformat(),
            "territory": "GBR",
        },
    }


def serve_asc(fake: FakeSource, pages: list[list[dict[str, Any]]], next_of: Any = None) -> None:
    """Pages chained by ``links.next`` with a ``cursor`` (as Apple's example); ``next_of(i)`` may override."""

    def answer(seen: Seen) -> CannedResponse:
        i = int(seen.param("cursor") or 0)
        link = f"{fake.url}{ASC_LIST}?cursor={i + 1}&limit=200" if i + 1 < len(pages) else None
        if next_of is not None:
            link = next_of(i)
        return CannedResponse(
            200, {"data": pages[i], "links": {"self": "x", "next": link}, "meta": {"paging": {"total": 9}}}
        )

    fake.route("GET", ASC_LIST, answer)


def test_asc_maps_apples_example_and_follows_links_next(
    fake: FakeSource, caller: Caller, asc: Connection, asc_page: dict[str, Any]
) -> None:
    first = copy.deepcopy(asc_page)
    first["links"]["next"] = first["links"]["next"].replace("https://api.appstoreconnect.apple.com", fake.url)
    fake.answer(
        "GET",
        ASC_LIST,
        CannedResponse(200, first),
        CannedResponse(200, {"data": [asc_review(2, NOW)], "links": {}}),
    )
    items = list(store(fake, caller).pull(asc, None, 500))

    assert items[0] == SourceItem(
        source=Source.APP_STORE,
        source_id="00000028-b08c-0014-729e-fbd500000000",
        text="It's a really fantastic app!",
        title="Awesome!!!",
        rating=5.0,
        rating_scale=5,
        author="Anne Johnson",
        published_at=datetime(2017, 11, 15, 16, 10, 34, tzinfo=UTC),
    )
    assert [i.source_id for i in items] == ["00000028-b08c-0014-729e-fbd500000000", "rev-2"]
    one, two = fake.seen(ASC_LIST)
    assert one.query == {"sort": ["-createdDate"], "limit": ["200"]}
    assert two.query == {"cursor": ["AQ.AMt2C-U"], "limit": ["1"]}  # the link as given, nothing added


def test_asc_links_next_must_stay_on_the_api_host(
    fake: FakeSource, caller: Caller, asc: Connection, asc_page: dict[str, Any]
) -> None:
    with FakeSource() as elsewhere:
        page = copy.deepcopy(asc_page)
        page["links"]["next"] = f"{elsewhere.url}{ASC_LIST}?cursor=AQ"
        fake.answer("GET", ASC_LIST, CannedResponse(200, page))
        elsewhere.answer("GET", ASC_LIST, CannedResponse(200, {"data": [], "links": {}}))
        pulled: list[SourceItem] = []
        with pytest.raises(Malformed, match=r"links\.next"):
            pulled.extend(store(fake, caller).pull(asc, None, 500))
        assert elsewhere.requests == []  # the token never left
    assert [i.source_id for i in pulled] == ["00000028-b08c-0014-729e-fbd500000000"]


def test_asc_a_repeated_cursor_ends_the_pull(fake: FakeSource, caller: Caller, asc: Connection) -> None:
    serve_asc(
        fake, [[asc_review(0, NOW)], [asc_review(1, NOW)]], next_of=lambda i: f"{fake.url}{ASC_LIST}?cursor=1"
    )
    assert [i.source_id for i in store(fake, caller).pull(asc, None, 500)] == ["rev-0", "rev-1"]
    assert len(fake.requests) == 2


def test_asc_since_and_max_items(fake: FakeSource, caller: Caller, asc: Connection) -> None:
    reviews = [asc_review(n, NOW - timedelta(days=n)) for n in range(6)]
    serve_asc(fake, [reviews[:3], reviews[3:]])
    since = NOW - timedelta(days=3, hours=12)
    assert [i.source_id for i in store(fake, caller).pull(asc, since, 500)] == [f"rev-{n}" for n in range(4)]
    assert len(fake.requests) == 2
    fake.requests.clear()
    assert len(list(store(fake, caller).pull(asc, None, 2))) == 2
    assert [s.param("limit") for s in fake.requests] == ["2"]  # no bigger page than asked for


def test_asc_a_review_on_two_pages_once_and_an_edit(
    fake: FakeSource, caller: Caller, asc: Connection
) -> None:
    r0, r1, r2 = (asc_review(n, NOW - timedelta(days=n)) for n in range(3))
    serve_asc(fake, [[r0, r1], [r1, r2]])
    first = list(store(fake, caller).pull(asc, None, 500))
    assert [i.source_id for i in first] == ["rev-0", "rev-1", "rev-2"]
    r1["attributes"]["body"] = "Body 1, after the update"
    second = list(store(fake, caller).pull(asc, None, 500))
    assert first[1].fingerprint() != second[1].fingerprint()
    assert first[0].fingerprint() == second[0].fingerprint()


def test_asc_jwt_is_es256_signed_with_the_key(
    fake: FakeSource, caller: Caller, asc: Connection, p8: ec.EllipticCurvePrivateKey
) -> None:
    serve_asc(fake, [[]])
    list(store(fake, caller).pull(asc, None, 5))
    (seen,) = fake.requests
    scheme, token = seen.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    header, claims = verified(token, p8.public_key())
    assert header == {"alg": "ES256", "kid": "2X9R4HXF34", "typ": "JWT"}
    iat = int(NOW.timestamp())
    assert claims["iss"] == "57246542-96fe-1a63-e053-0824d011072a"
    assert claims["aud"] == "appstoreconnect-v1"
    assert claims["iat"] == iat
    assert iat < claims["exp"] <= iat + 20 * 60
    with pytest.raises(InvalidSignature):
        verified(token, ec.generate_private_key(ec.SECP256R1()).public_key())


def test_asc_a_pem_kept_on_one_escaped_line_works(
    fake: FakeSource, caller: Caller, asc: Connection, p8: ec.EllipticCurvePrivateKey
) -> None:
    escaped = asc.credentials["private_key"].replace("\n", "\\n")
    connection = Connection("s", "app_store", asc.settings, {**asc.credentials, "private_key": escaped})
    serve_asc(fake, [[]])
    list(store(fake, caller).pull(connection, None, 5))
    verified(fake.requests[0].headers["authorization"].split(" ")[1], p8.public_key())


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "credentials",
    [
        {"key_id": "K", "issuer_id": "I"},  # half a key
        {
            "key_id": "K",
            "issuer_id": "I",
            "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----",
        },
        {"key_id": "K", "issuer_id": "I", "private_key": rsa_pem()},  # not ES256
    ],
)
def test_asc_a_bad_key_is_auth_failed_before_any_call(
    fake: FakeSource, caller: Caller, credentials: dict[str, str]
) -> None:
    with pytest.raises(AuthFailed):
        list(
            store(fake, caller).pull(Connection("s", "app_store", {"app_id": ASC_APP}, credentials), None, 5)
        )
    assert fake.requests == []


@pytest.mark.parametrize("status", [401, 403])
def test_asc_auth_failures(fake: FakeSource, caller: Caller, asc: Connection, status: int) -> None:
    body = {
        "errors": [
            {
                "status": str(status),
                "code": "NOT_AUTHORIZED",
                "title": "Authentication credentials are missing or invalid.",
            }
        ]
    }
    fake.answer("GET", ASC_LIST, CannedResponse(status, body))
    with pytest.raises(AuthFailed):
        list(store(fake, caller).pull(asc, None, 5))
    assert len(fake.requests) == 1


def test_asc_unknown_app_is_not_found(fake: FakeSource, caller: Caller, asc: Connection) -> None:
    fake.answer("GET", ASC_LIST, CannedResponse(404, {"errors": [{"status": "404", "code": "NOT_FOUND"}]}))
    with pytest.raises(NotFound):
        list(store(fake, caller).pull(asc, None, 5))


def test_asc_hourly_limit_raises_without_waiting(
    fake: FakeSource, caller: Caller, sleeps: Sleeps, asc: Connection
) -> None:
    headers = {"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:0"}
    fake.answer("GET", ASC_LIST, CannedResponse(429, {"errors": [{"code": "RATE_LIMIT_EXCEEDED"}]}, headers))
    with pytest.raises(RateLimited) as caught:
        list(store(fake, caller).pull(asc, None, 5))
    assert caught.value.retry_at == caller.clock() + timedelta(hours=1)
    assert sleeps == []


def test_asc_the_last_call_of_the_hour_is_noticed(fake: FakeSource, caller: Caller, asc: Connection) -> None:
    """The page comes, but the header says nothing is left: the next page is not asked for."""
    headers = {"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:0"}
    link = f"{fake.url}{ASC_LIST}?cursor=1"
    fake.answer(
        "GET", ASC_LIST, CannedResponse(200, {"data": [asc_review(0, NOW)], "links": {"next": link}}, headers)
    )
    pulled: list[SourceItem] = []
    with pytest.raises(RateLimited):
        pulled.extend(store(fake, caller).pull(asc, None, 500))
    assert [i.source_id for i in pulled] == ["rev-0"]
    assert len(fake.requests) == 1


def test_asc_5xx_then_transient(fake: FakeSource, caller: Caller, sleeps: Sleeps, asc: Connection) -> None:
    fake.answer("GET", ASC_LIST, CannedResponse(503, ""))
    with pytest.raises(Transient):
        list(store(fake, caller).pull(asc, None, 5))
    assert len(sleeps) == 3


@pytest.mark.parametrize("body", [b"<html/>", {"errors": []}, {"data": [{"id": "x", "attributes": []}]}])
def test_asc_malformed(fake: FakeSource, caller: Caller, asc: Connection, body: Any) -> None:
    fake.answer("GET", ASC_LIST, CannedResponse(200, body))
    with pytest.raises(Malformed):
        list(store(fake, caller).pull(asc, None, 5))


def stored(item: SourceItem) -> StoredReview:
    return StoredReview(
        shop_id="shop-1", item=item, fingerprint=item.fingerprint(), first_seen_at=NOW, last_seen_at=NOW
    )


def test_asc_reply_posts_a_json_api_response(
    fake: FakeSource, caller: Caller, asc: Connection, p8: ec.EllipticCurvePrivateKey
) -> None:
    fake.answer(
        "POST",
        "/v1/customerReviewResponses",
        CannedResponse(201, {"data": {"type": "customerReviewResponses"}}),
    )
    item = SourceItem(source=Source.APP_STORE, source_id="00000028-b08c-0014-729e-fbd500000000")
    store(fake, caller).reply(asc, stored(item), "Thank you, Anne!")
    (seen,) = fake.requests
    assert (seen.method, seen.path) == ("POST", "/v1/customerReviewResponses")
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == {
        "data": {
            "type": "customerReviewResponses",
            "attributes": {"responseBody": "Thank you, Anne!"},
            "relationships": {
                "review": {"data": {"type": "customerReviews", "id": "00000028-b08c-0014-729e-fbd500000000"}}
            },
        }
    }
    verified(seen.headers["authorization"].removeprefix("Bearer "), p8.public_key())


def test_asc_check_asks_for_one_review(fake: FakeSource, caller: Caller, asc: Connection) -> None:
    serve_asc(fake, [[asc_review(0, NOW)]])
    line = store(fake, caller).check(asc)
    assert ASC_APP in line
    assert "9 reviews" in line
    assert [s.param("limit") for s in fake.requests] == ["1"]
