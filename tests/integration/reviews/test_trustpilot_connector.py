"""The Trustpilot connector against a local fake of the API: list pages, limits, OAuth, reply, webhooks.

No list body was captured (fixtures/reviews/SOURCES.md): pages are built from the documented fields, with
the words of the captured webhook's review where a real text helps.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from cxloop.local.fake_source import CannedResponse, FakeSource, Seen
from services.reviews.connectors.limits import Caller
from services.reviews.connectors.trustpilot import OAUTH_PATH, TrustpilotConnector, parse_webhook
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

UNIT = "46d6a890000064000500e0c3"
LIST = f"/v1/business-units/{UNIT}/reviews"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
READER = Connection("shop-1", "trustpilot", {"business_unit": UNIT}, {"api_key": "the-key"})
REPLIER = Connection(
    "shop-1",
    "trustpilot",
    {"business_unit": UNIT},
    {"api_key": "the-key", "api_secret": "the-secret", "username": "owner@shop.test", "password": "pw"},
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def review(n: int, **over: Any) -> dict[str, Any]:
    """One review of the public list, as Trustpilot's API reference documents it; n hours before T0."""
    raw: dict[str, Any] = {
        "links": [{"href": f"https://api.trustpilot.com/v1/reviews/r{n}", "method": "GET", "rel": "reviews"}],
        "id": f"r{n}",
        "consumer": {"id": f"c{n}", "displayName": f"Customer {n}", "displayLocation": "Leeds, GB"},
        "businessUnit": {"id": UNIT, "identifyingName": "shop.test", "displayName": "Shop"},
        "stars": 4,
        "title": f"Title {n}",
        "text": f"Text {n}",
        "language": "en",
        "createdAt": iso(T0 - timedelta(hours=n)),
        "updatedAt": None,
        "companyReply": None,
        "isVerified": True,
        "numberOfLikes": 0,
        "status": "active",
    }
    raw.update(over)
    return raw


def serve_pages(fake: FakeSource, pages: dict[int, list[dict[str, Any]]]) -> None:
    def answer(seen: Seen) -> CannedResponse:
        return CannedResponse(200, {"reviews": pages.get(int(seen.param("page") or 0), []), "links": []})

    fake.route("GET", LIST, answer)


def connector(fake: FakeSource, caller: Caller) -> TrustpilotConnector:
    return TrustpilotConnector(caller, api_base=fake.url)


def stored(item: SourceItem) -> StoredReview:
    return StoredReview(
        shop_id="shop-1", item=item, fingerprint=item.fingerprint(), first_seen_at=T0, last_seen_at=T0
    )


@pytest.fixture
def webhook_body(shared_dir: Path) -> bytes:
    return (
        shared_dir / "fixtures" / "reviews" / "trustpilot" / "webhook_service_review_created.json"
    ).read_bytes()


# --- pull ------------------------------------------------------------------------------------------


def test_maps_the_documented_fields(fake: FakeSource, caller: Caller, webhook_body: bytes) -> None:
    real = json.loads(webhook_body)["events"][0]["eventData"]  # a real review's words and times
    replied = review(
        1,
        updatedAt="2026-11-20T09:30:00Z",
        companyReply={"text": "Thanks!", "createdAt": "2026-11-20T10:00:00Z", "updatedAt": None},
        links=[
            {"href": "https://api.trustpilot.com/v1/reviews/r1", "method": "GET", "rel": "reviews"},
            {"href": "https://www.trustpilot.com/reviews/r1", "method": "GET", "rel": "reviews-web-link"},
        ],
    )
    first = review(0, id=real["id"], title=real["title"], text=real["text"], stars=real["stars"])
    first["createdAt"] = real["createdAt"]
    serve_pages(fake, {1: [first, replied]})

    a, b = list(connector(fake, caller).pull(READER, None, 50))

    assert a == SourceItem(
        source=Source.TRUSTPILOT,
        source_id="62c8968be77911f2449e9f74",
        text=real["text"],
        title="Some of the screens are to hard to…",
        rating=4.0,
        rating_scale=5,
        author="Customer 0",
        url=None,  # only the API's own link
        published_at=datetime(2022, 7, 8, 22, 41, 48, tzinfo=UTC),
        language="en",
    )
    assert b.url == "https://www.trustpilot.com/reviews/r1"
    assert b.updated_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert (b.reply, b.replied_at) == ("Thanks!", datetime(2026, 11, 20, 10, tzinfo=UTC))


def test_sends_the_api_key_and_the_documented_query(fake: FakeSource, caller: Caller) -> None:
    serve_pages(fake, {1: [review(0)]})
    list(connector(fake, caller).pull(READER, None, 50))
    (seen,) = fake.seen(LIST)
    assert seen.headers["apikey"] == "the-key"
    assert seen.query == {"perPage": ["100"], "page": ["1"], "orderBy": ["createdat.desc"]}


def test_pages_until_a_short_page(fake: FakeSource, caller: Caller) -> None:
    serve_pages(fake, {1: [review(n) for n in range(100)], 2: [review(n) for n in range(100, 103)]})
    items = list(connector(fake, caller).pull(READER, None, 1000))
    assert [i.source_id for i in items] == [f"r{n}" for n in range(103)]
    assert [s.param("page") for s in fake.seen(LIST)] == ["1", "2"]


def test_stops_at_an_empty_page(fake: FakeSource, caller: Caller) -> None:
    serve_pages(fake, {1: [review(n) for n in range(100)]})
    assert len(list(connector(fake, caller).pull(READER, None, 1000))) == 100
    assert [s.param("page") for s in fake.seen(LIST)] == ["1", "2"]


def test_stops_at_since_by_update_or_creation_time(fake: FakeSource, caller: Caller) -> None:
    since = T0 - timedelta(hours=2, minutes=30)
    page = [review(n) for n in range(100)]
    page[3] = review(3, updatedAt=iso(T0))  # created before since, edited after: still news
    serve_pages(fake, {1: page, 2: [review(n) for n in range(100, 200)]})
    items = list(connector(fake, caller).pull(READER, since, 1000))
    assert [i.source_id for i in items] == ["r0", "r1", "r2", "r3"]
    assert len(fake.seen(LIST)) == 1


def test_max_items_bounds_items_and_requests(fake: FakeSource, caller: Caller) -> None:
    serve_pages(fake, {n: [review(100 * (n - 1) + i) for i in range(100)] for n in (1, 2, 3)})
    assert len(list(connector(fake, caller).pull(READER, None, 5))) == 5
    assert len(fake.seen(LIST)) == 1
    assert len(list(connector(fake, caller).pull(READER, None, 150))) == 150
    assert len(fake.seen(LIST)) == 3  # 1 + 2


def test_a_review_on_two_pages_is_yielded_once(fake: FakeSource, caller: Caller) -> None:
    # A review arrived between the two page calls: the list moved by one, r99 shows up again on page 2.
    serve_pages(fake, {1: [review(n) for n in range(100)], 2: [review(n) for n in range(99, 110)]})
    ids = [i.source_id for i in connector(fake, caller).pull(READER, None, 1000)]
    assert ids == [f"r{n}" for n in range(110)]


def test_a_source_that_repeats_its_page_does_not_loop(fake: FakeSource, caller: Caller) -> None:
    def same_page(
        seen: Seen,
    ) -> CannedResponse:  # the page parameter ignored; empty after 5 calls, not to hang
        return CannedResponse(
            200, {"reviews": [review(n) for n in range(100)] if len(fake.seen(LIST)) <= 5 else []}
        )

    fake.route("GET", LIST, same_page)
    assert len(list(connector(fake, caller).pull(READER, None, 10_000))) == 100
    assert len(fake.seen(LIST)) == 2


def test_an_edit_between_two_pulls_changes_the_fingerprint(fake: FakeSource, caller: Caller) -> None:
    pages = {1: [review(0), review(1)]}
    serve_pages(fake, pages)
    before = {i.source_id: i for i in connector(fake, caller).pull(READER, None, 50)}
    pages[1] = [review(0), review(1, text="Text 1, edited", stars=2, updatedAt=iso(T0))]
    after = {i.source_id: i for i in connector(fake, caller).pull(READER, None, 50)}
    assert before["r0"].fingerprint() == after["r0"].fingerprint()
    assert before["r1"].fingerprint() != after["r1"].fingerprint()
    assert (after["r1"].text, after["r1"].rating) == ("Text 1, edited", 2.0)


# --- the source's failures ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures(fake: FakeSource, caller: Caller, status: int) -> None:
    fake.answer("GET", LIST, CannedResponse(status, {"fault": {"faultstring": "Invalid ApiKey"}}))
    with pytest.raises(AuthFailed) as caught:
        list(connector(fake, caller).pull(READER, None, 50))
    assert caught.value.status == status
    assert len(fake.seen(LIST)) == 1  # never retried


def test_an_unknown_business_unit_is_not_found(fake: FakeSource, caller: Caller) -> None:
    fake.answer("GET", LIST, CannedResponse(404, {"message": "Not found"}))
    with pytest.raises(NotFound):
        list(connector(fake, caller).pull(READER, None, 50))


@pytest.mark.parametrize(
    ("settings", "credentials", "error"),
    [
        ({}, {"api_key": "k"}, NotFound),
        ({"business_unit": "../../private"}, {"api_key": "k"}, NotFound),
        ({"business_unit": UNIT}, {}, AuthFailed),
    ],
)
def test_a_bad_connection_fails_before_any_call(
    fake: FakeSource, caller: Caller, settings: dict[str, str], credentials: dict[str, str], error: type
) -> None:
    with pytest.raises(error):
        list(connector(fake, caller).pull(Connection("s", "trustpilot", settings, credentials), None, 5))
    assert fake.requests == []


def test_429_with_retry_after_waits_that_long(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer(
        "GET",
        LIST,
        CannedResponse(429, {}, {"Retry-After": "7"}),
        CannedResponse(200, {"reviews": [review(0)]}),
    )
    assert len(list(connector(fake, caller).pull(READER, None, 50))) == 1
    assert sleeps == [7.0]


def test_429_without_retry_after_backs_off(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer("GET", LIST, CannedResponse(429, {}), CannedResponse(200, {"reviews": [review(0)]}))
    assert len(list(connector(fake, caller).pull(READER, None, 50))) == 1
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 1.0  # full jitter under the first step


def test_429_beyond_the_wait_raises_rate_limited(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer("GET", LIST, CannedResponse(429, {}, {"Retry-After": "600"}))
    with pytest.raises(RateLimited) as caught:
        list(connector(fake, caller).pull(READER, None, 50))
    assert caught.value.retry_at == datetime(2026, 11, 22, 12, 10, tzinfo=UTC)
    assert sleeps == []


def test_5xx_is_retried_then_transient(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer("GET", LIST, CannedResponse(503, "upstream down"))
    with pytest.raises(Transient):
        list(connector(fake, caller).pull(READER, None, 50))
    assert len(fake.seen(LIST)) == 4
    assert len(sleeps) == 3


def test_5xx_then_a_page(fake: FakeSource, caller: Caller, sleeps: Sleeps) -> None:
    fake.answer("GET", LIST, CannedResponse(502, ""), CannedResponse(200, {"reviews": [review(0)]}))
    assert [i.source_id for i in connector(fake, caller).pull(READER, None, 50)] == ["r0"]
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        {"items": []},
        {"reviews": {"r0": {}}},
        {"reviews": [review(0, stars="x")]},
    ],
)
def test_malformed_bodies(fake: FakeSource, caller: Caller, body: Any) -> None:
    fake.answer("GET", LIST, CannedResponse(200, body))
    with pytest.raises(Malformed):
        list(connector(fake, caller).pull(READER, None, 50))


def test_check_reads_one_review(fake: FakeSource, caller: Caller) -> None:
    serve_pages(fake, {1: [review(0)]})
    line = connector(fake, caller).check(READER)
    assert UNIT in line
    assert "2026-11-20" in line
    (seen,) = fake.seen(LIST)
    assert seen.param("perPage") == "1"


# --- reply and the OAuth token --------------------------------------------------------------------


def token_answer(token: str) -> CannedResponse:
    return CannedResponse(200, {"access_token": token, "refresh_token": "r", "expires_in": "359999"})


REPLY = "/v1/private/reviews/r1/reply"


def test_reply_gets_a_token_then_posts_the_message(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", OAUTH_PATH, token_answer("tok-1"))
    fake.answer("POST", REPLY, CannedResponse(201))
    connector(fake, caller).reply(
        REPLIER, stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1")), "Merci"
    )

    (grant,) = fake.seen(OAUTH_PATH)
    assert grant.method == "POST"
    assert grant.headers["authorization"] == "Basic " + base64.b64encode(b"the-key:the-secret").decode()
    assert grant.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant.body.decode()) == {
        "grant_type": ["password"],
        "username": ["owner@shop.test"],
        "password": ["pw"],
    }
    (posted,) = fake.seen(REPLY)
    assert posted.method == "POST"
    assert posted.headers["authorization"] == "Bearer tok-1"
    assert json.loads(posted.body) == {"message": "Merci"}


def test_the_token_is_cached_until_it_expires(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", OAUTH_PATH, token_answer("tok-1"), token_answer("tok-2"))
    fake.answer("POST", REPLY, CannedResponse(201))
    tp = connector(fake, caller)
    item = stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1"))
    start = caller.clock()
    tp.reply(REPLIER, item, "one")
    caller.clock = lambda: start + timedelta(hours=90)
    tp.reply(REPLIER, item, "two")
    assert len(fake.seen(OAUTH_PATH)) == 1
    caller.clock = lambda: start + timedelta(hours=100)  # past expires_in (≈100 h)
    tp.reply(REPLIER, item, "three")
    assert len(fake.seen(OAUTH_PATH)) == 2
    assert [s.headers["authorization"] for s in fake.seen(REPLY)] == ["Bearer tok-1"] * 2 + ["Bearer tok-2"]


def test_a_revoked_cached_token_is_replaced_once(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", OAUTH_PATH, token_answer("tok-1"), token_answer("tok-2"))
    fake.answer("POST", REPLY, CannedResponse(201), CannedResponse(401), CannedResponse(201))
    tp = connector(fake, caller)
    item = stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1"))
    tp.reply(REPLIER, item, "one")
    tp.reply(REPLIER, item, "two")
    assert [s.headers["authorization"] for s in fake.seen(REPLY)] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_a_refused_fresh_token_is_not_retried(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", OAUTH_PATH, token_answer("tok-1"))
    fake.answer("POST", REPLY, CannedResponse(403, {"message": "Forbidden"}))
    with pytest.raises(AuthFailed):
        connector(fake, caller).reply(
            REPLIER, stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1")), "x"
        )
    assert (len(fake.seen(OAUTH_PATH)), len(fake.seen(REPLY))) == (1, 1)


def test_a_wrong_password_is_auth_failed(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", OAUTH_PATH, CannedResponse(401, {"fault": "invalid_grant"}))
    with pytest.raises(AuthFailed):
        connector(fake, caller).reply(
            REPLIER, stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1")), "x"
        )
    assert fake.seen(REPLY) == []


def test_reply_without_the_reply_credentials_is_unsupported(fake: FakeSource, caller: Caller) -> None:
    with pytest.raises(Unsupported, match="api_secret, username, password"):
        connector(fake, caller).reply(
            READER, stored(SourceItem(source=Source.TRUSTPILOT, source_id="r1")), "x"
        )
    assert fake.requests == []


# --- webhooks -------------------------------------------------------------------------------------


def event(name: str, **data: Any) -> dict[str, Any]:
    return {"eventName": name, "version": "1", "eventData": {"id": "rv1", "stars": 2, "text": "meh", **data}}


def test_parse_webhook_on_the_captured_body(webhook_body: bytes) -> None:
    ((name, item),) = parse_webhook(webhook_body)
    assert name == "service-review-created"
    assert item.source_id == "62c8968be77911f2449e9f74"
    assert (item.rating, item.rating_scale, item.language) == (4.0, 5, "en")
    assert item.author == "some one"  # consumer.name in webhooks
    assert item.title == "Some of the screens are to hard to…"
    assert item.text.startswith("Some of the screens are to hard to navigate.")
    assert item.published_at == datetime(2022, 7, 8, 22, 41, 48, tzinfo=UTC)
    assert item.url is None  # eventData.link is the API's, not a page
    assert not item.deleted


def test_parse_webhook_revised_deleted_and_unknown() -> None:
    body = {
        "events": [
            event("service-review-revised", text="better now", stars=4, updatedAt="2026-11-21T08:00:00Z"),
            {"eventName": "service-review-deleted", "version": "1", "eventData": {"id": "rv1"}},
            event("product-review-created"),
            {"eventName": "something-new", "version": "2"},  # unknown: skipped, whatever its shape
        ]
    }
    parsed = parse_webhook(json.dumps(body).encode())
    assert [name for name, _ in parsed] == ["service-review-revised", "service-review-deleted"]
    revised, deleted = (item for _, item in parsed)
    assert (revised.text, revised.rating, revised.deleted) == ("better now", 4.0, False)
    assert revised.updated_at == datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert deleted.source_id == "rv1"
    assert deleted.deleted
    assert deleted.fingerprint() != revised.fingerprint()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"events": {}}',
        b'{"events": [42]}',
        b'{"events": [{"eventName": "service-review-created"}]}',
        b'{"events": [{"eventName": "service-review-created", "eventData": {"stars": 3}}]}',
        b'{"events": [{"eventName": "service-review-revised", "eventData": {"id": "x", "createdAt": "1"}}]}',
    ],
)
def test_parse_webhook_refuses_other_shapes(body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_webhook(body)
