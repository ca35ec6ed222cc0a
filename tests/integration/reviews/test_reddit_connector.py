"""The Reddit connector against a local fake of oauth.reddit.com: the listing's shape (from the recorded
fixtures), paging by ``after``, the stops, the limits, the app-only token and its cache."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.fake_source import CannedResponse, FakeSource, Seen
from services.reviews.connectors.limits import Caller
from services.reviews.connectors.reddit import RedditConnector
from services.reviews.domain.errors import (
    AuthFailed,
    Malformed,
    RateLimited,
    SourceError,
    Transient,
    Unsupported,
)
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)  # the caller fixture's clock
UA = "python:cxloop-test:0.1 (by /u/cxloop-test)"
TOKEN_PATH = "/api/v1/access_token"
QUERY = '"acme shoes" OR acmeshoes'
SHOP = Connection(
    "shop-1",
    "reddit",
    settings={"query": QUERY},
    credentials={"client_id": "cid", "client_secret": "csecret"},
)


def post(key: str, created: datetime, selftext: str = "", **extra: Any) -> dict[str, Any]:
    """A ``t3`` child with the fields the recorded listings carry (a subset of them)."""
    data = {
        "id": key,
        "name": f"t3_{key}",
        "title": f"About acme shoes ({key})",
        "selftext": selftext,
        "subreddit": "Sneakers",
        "author": f"user_{key}",
        "created_utc": created.timestamp(),
        "permalink": f"/r/Sneakers/comments/{key}/about_acme_shoes/",
        "url": f"https://www.reddit.com/r/Sneakers/comments/{key}/about_acme_shoes/",
        "score": 3,
        "num_comments": 1,
        "over_18": False,
        "is_self": bool(selftext),
        "edited": False,
    }
    return {"kind": "t3", "data": {**data, **extra}}


def listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": None,
            "children": children,
            "before": None,
        },
    }


def token(value: str = "tok-1", expires_in: int = 86400) -> CannedResponse:
    return CannedResponse(
        200, {"access_token": value, "token_type": "bearer", "expires_in": expires_in, "scope": "*"}
    )


def pages(fake: FakeSource, by_after: dict[str | None, dict[str, Any]], path: str = "/search") -> None:
    """Serve one listing per ``after`` cursor (None: the first page)."""

    def route(seen: Seen) -> CannedResponse:
        return CannedResponse(200, by_after[seen.param("after")])

    fake.route("GET", path, route)


@pytest.fixture
def reddit(fake: FakeSource, caller: Caller) -> RedditConnector:
    fake.answer("POST", TOKEN_PATH, token())
    return RedditConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN_PATH, user_agent=UA)


def pull(reddit: RedditConnector, since: datetime | None = None, max_items: int = 1000) -> list[SourceItem]:
    return list(reddit.pull(SHOP, since, max_items))


def names(items: list[SourceItem]) -> list[str]:
    return [item.source_id for item in items]


def hours_ago(n: float) -> datetime:
    return T0 - timedelta(hours=n)


# --- mapping ---------------------------------------------------------------------------------------


def test_maps_the_recorded_search_listing(
    fake: FakeSource, reddit: RedditConnector, shared_dir: Path
) -> None:
    body = json.loads((shared_dir / "fixtures/reviews/reddit/search_listing_r_all.json").read_text("utf-8"))
    fake.answer("GET", "/search", CannedResponse(200, body))

    items = pull(reddit)

    assert len(items) == 31
    first = items[0]
    assert first.source is Source.REDDIT
    assert first.source_id == "t3_6ganxe"
    assert first.title == "How to check if a username is available on Reddit?"
    assert first.text.startswith("I need to check the availability of a username on Reddit.")
    assert first.author == "cheesycow5"
    assert first.published_at == datetime(2017, 6, 9, 19, 29, 16, tzinfo=UTC)  # created_utc 1497036556.0
    assert first.url == (
        "https://www.reddit.com/r/learnpython/comments/6ganxe/how_to_check_if_a_username_is_available_on_reddit/"
    )
    assert (first.rating, first.rating_scale, first.updated_at) == (None, None, None)
    # One recorded selftext is 23 645 characters: kept, cut to what an item holds.
    longest = max(body["data"]["children"], key=lambda c: len(c["data"]["selftext"]))["data"]
    assert len(longest["selftext"]) > MAX_TEXT
    assert next(i for i in items if i.source_id == longest["name"]).text == longest["selftext"][:MAX_TEXT]


def test_search_request_carries_the_query_the_token_and_the_user_agent(
    fake: FakeSource, reddit: RedditConnector
) -> None:
    fake.answer("GET", "/search", CannedResponse(200, listing([post("a", hours_ago(1))])))

    pull(reddit)

    (search,) = fake.seen("/search")
    assert {k: v[0] for k, v in search.query.items()} == {
        "q": QUERY,
        "sort": "new",
        "limit": "100",
        "raw_json": "1",
        "type": "link",
    }
    assert search.headers["authorization"] == "bearer tok-1"
    assert search.headers["user-agent"] == UA


def test_link_posts_deleted_authors_and_over_18_posts(fake: FakeSource, reddit: RedditConnector) -> None:
    children = [
        post("link", hours_ago(1), selftext="", url="https://example.com/acme-review"),
        post("gone", hours_ago(2), selftext="acme shoes fell apart", author="[deleted]"),
        post("nsfw", hours_ago(3), selftext="acme shoes", over_18=True),
    ]
    fake.answer("GET", "/search", CannedResponse(200, listing(children)))

    link, gone, nsfw = pull(reddit)

    assert (link.text, link.title, link.url) == (
        "",
        "About acme shoes (link)",
        "https://www.reddit.com/r/Sneakers/comments/link/about_acme_shoes/",
    )
    assert gone.author is None and gone.text == "acme shoes fell apart"
    assert nsfw.source_id == "t3_nsfw" and nsfw.author == "user_nsfw"


def test_children_that_are_not_posts_are_skipped(fake: FakeSource, reddit: RedditConnector) -> None:
    comment = {"kind": "t1", "data": {"name": "t1_x", "body": "acme shoes rock", "link_id": "t3_a"}}
    more = {"kind": "more", "data": {"count": 3, "children": ["abc"]}}
    fake.answer("GET", "/search", CannedResponse(200, listing([comment, post("a", hours_ago(1)), more])))

    assert names(pull(reddit)) == ["t3_a"]


def test_subreddit_searches_restrict_to_it(fake: FakeSource, reddit: RedditConnector) -> None:
    fake.answer("GET", "/r/Sneakers/search", CannedResponse(200, listing([post("a", hours_ago(1))])))
    shop = Connection("shop-1", "reddit", {"query": QUERY, "subreddit": "r/Sneakers"}, SHOP.credentials)

    assert names(list(reddit.pull(shop, None, 10))) == ["t3_a"]

    (search,) = fake.seen("/r/Sneakers/search")
    assert search.param("restrict_sr") == "1"
    assert search.param("q") == QUERY


@pytest.mark.parametrize(
    ("settings", "credentials", "error"),
    [
        ({"query": "  "}, SHOP.credentials, SourceError),
        ({"query": QUERY, "subreddit": "../api/v1/me"}, SHOP.credentials, SourceError),
        ({"query": QUERY}, {"client_id": "cid"}, AuthFailed),
    ],
    ids=["no-query", "bad-subreddit", "no-secret"],
)
def test_an_incomplete_connection_fails_before_any_call(
    fake: FakeSource,
    reddit: RedditConnector,
    settings: dict[str, str],
    credentials: dict[str, str],
    error: type[SourceError],
) -> None:
    with pytest.raises(error) as raised:
        list(reddit.pull(Connection("shop-1", "reddit", settings, credentials), None, 10))

    assert type(raised.value) is error
    assert fake.requests == []


# --- paging and stops ------------------------------------------------------------------------------


def test_pages_follow_after_until_it_is_null(fake: FakeSource, reddit: RedditConnector) -> None:
    pages(
        fake,
        {
            None: listing([post("a", hours_ago(1)), post("b", hours_ago(2))], after="t3_b"),
            "t3_b": listing([post("c", hours_ago(3))], after="t3_c"),
            "t3_c": listing([post("d", hours_ago(4))], after=None),
        },
    )

    assert names(pull(reddit)) == ["t3_a", "t3_b", "t3_c", "t3_d"]
    assert [s.param("after") for s in fake.seen("/search")] == [None, "t3_b", "t3_c"]


def test_pages_the_recorded_new_listing(fake: FakeSource, reddit: RedditConnector, shared_dir: Path) -> None:
    page1 = json.loads(
        (shared_dir / "fixtures/reviews/reddit/subreddit_new_listing_page1.json").read_text("utf-8")
    )
    last = page1["data"]["children"][-1]["data"]["name"]
    pages(fake, {None: page1, last: listing([], after=None)})

    items = pull(reddit)

    assert len(items) == 100
    assert [s.param("after") for s in fake.seen("/search")] == [None, "t3_hozfbb"]


def test_an_empty_listing_ends_the_pull(fake: FakeSource, reddit: RedditConnector) -> None:
    fake.answer("GET", "/search", CannedResponse(200, listing([], after=None)))

    assert pull(reddit) == []
    assert len(fake.seen("/search")) == 1


def test_stops_at_since_without_asking_for_the_next_page(fake: FakeSource, reddit: RedditConnector) -> None:
    pages(
        fake,
        {
            None: listing([post("a", hours_ago(1)), post("b", hours_ago(2))], after="t3_b"),
            "t3_b": listing([post("c", hours_ago(3)), post("d", hours_ago(5))], after="t3_d"),
            "t3_d": listing([post("e", hours_ago(6))], after=None),
        },
    )

    # A post exactly at the high-water mark comes again (ingest knows it); older ones end the pull.
    assert names(pull(reddit, since=hours_ago(3))) == ["t3_a", "t3_b", "t3_c"]
    assert [s.param("after") for s in fake.seen("/search")] == [None, "t3_b"]


def test_stops_at_max_items(fake: FakeSource, reddit: RedditConnector) -> None:
    pages(fake, {None: listing([post(k, hours_ago(i)) for i, k in enumerate("abc")], after="t3_c")})

    assert names(pull(reddit, max_items=2)) == ["t3_a", "t3_b"]
    assert len(fake.seen("/search")) == 1
    assert pull(reddit, max_items=0) == []
    assert len(fake.seen("/search")) == 1


def test_a_post_seen_on_two_pages_is_yielded_once(fake: FakeSource, reddit: RedditConnector) -> None:
    # A new post arriving while paging shifts the listing: the last post of page 1 opens page 2.
    pages(
        fake,
        {
            None: listing([post("a", hours_ago(1)), post("b", hours_ago(2))], after="t3_b"),
            "t3_b": listing([post("b", hours_ago(2)), post("c", hours_ago(3))], after=None),
        },
    )

    assert names(pull(reddit)) == ["t3_a", "t3_b", "t3_c"]


def test_a_page_with_nothing_new_ends_the_pull(fake: FakeSource, reddit: RedditConnector) -> None:
    pages(fake, {None: listing([post("a", hours_ago(1))], after="t3_a"), "t3_a": listing([], after="t3_a")})

    assert names(pull(reddit)) == ["t3_a"]
    assert len(fake.seen("/search")) == 2


def test_an_edited_selftext_changes_the_fingerprint(fake: FakeSource, reddit: RedditConnector) -> None:
    fake.answer(
        "GET",
        "/search",
        CannedResponse(200, listing([post("a", hours_ago(1), selftext="acme shoes are fine")])),
        CannedResponse(
            200, listing([post("a", hours_ago(1), selftext="acme shoes fell apart", edited=1.79e9)])
        ),
    )

    (before,) = pull(reddit)
    (after,) = pull(reddit)

    assert before.source_id == after.source_id == "t3_a"
    assert after.text == "acme shoes fell apart"
    assert before.fingerprint() != after.fingerprint()


# --- errors and limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        CannedResponse(401, {"message": "Unauthorized", "error": 401}),
        CannedResponse(403, {"message": "Forbidden", "error": 403}),  # the recorded 403 body
    ],
    ids=["401", "403"],
)
def test_refused_search_is_auth_failed(
    fake: FakeSource, reddit: RedditConnector, answer: CannedResponse
) -> None:
    fake.answer("GET", "/search", answer)

    with pytest.raises(AuthFailed) as raised:
        pull(reddit)

    assert raised.value.status == answer.status
    assert len(fake.seen("/search")) == 1  # a fresh token is not retried: the credentials are wrong


@pytest.mark.parametrize(
    "answer",
    [
        CannedResponse(401, {"message": "Unauthorized", "error": 401}),
        CannedResponse(200, {"error": "invalid_grant"}),
    ],
    ids=["401", "error-in-200"],
)
def test_refused_token_is_auth_failed(fake: FakeSource, caller: Caller, answer: CannedResponse) -> None:
    fake.answer("POST", TOKEN_PATH, answer)
    reddit = RedditConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN_PATH, user_agent=UA)

    with pytest.raises(AuthFailed):
        pull(reddit)

    assert fake.seen("/search") == []


def test_429_with_retry_after_waits_in_place(
    fake: FakeSource, reddit: RedditConnector, sleeps: list[float]
) -> None:
    fake.answer(
        "GET",
        "/search",
        CannedResponse(429, {"message": "Too Many Requests", "error": 429}, {"Retry-After": "2"}),
        CannedResponse(200, listing([post("a", hours_ago(1))])),
    )

    assert names(pull(reddit)) == ["t3_a"]
    assert sleeps == [2.0]


def test_429_with_only_the_reset_header_waits_for_the_reset(
    fake: FakeSource, reddit: RedditConnector, sleeps: list[float]
) -> None:
    headers = {"X-Ratelimit-Used": "100", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "7"}
    fake.answer(
        "GET",
        "/search",
        CannedResponse(429, {"error": 429}, headers),
        CannedResponse(200, listing([post("a", hours_ago(1))])),
    )

    assert names(pull(reddit)) == ["t3_a"]
    assert sleeps == [7.0]


def test_a_long_429_is_rate_limited_without_sleeping(
    fake: FakeSource, reddit: RedditConnector, sleeps: list[float]
) -> None:
    fake.answer("GET", "/search", CannedResponse(429, {"error": 429}, {"Retry-After": "600"}))

    with pytest.raises(RateLimited) as raised:
        pull(reddit)

    assert raised.value.retry_at == T0 + timedelta(seconds=600)
    assert sleeps == []
    assert len(fake.seen("/search")) == 1


def test_a_used_up_limit_stops_the_next_call_before_it_is_sent(
    fake: FakeSource, reddit: RedditConnector
) -> None:
    used_up = {"X-Ratelimit-Used": "600", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "300"}
    fake.answer(
        "GET", "/search", CannedResponse(200, listing([post("a", hours_ago(1))], after="t3_a"), used_up)
    )

    got: list[SourceItem] = []
    with pytest.raises(RateLimited) as raised:
        got.extend(reddit.pull(SHOP, None, 100))

    assert names(got) == ["t3_a"]  # the first page is kept
    assert raised.value.retry_at == T0 + timedelta(seconds=300)
    assert len(fake.seen("/search")) == 1
    with pytest.raises(RateLimited):
        pull(reddit)
    assert len(fake.seen("/search")) == 1


def test_5xx_is_transient_after_the_retries(
    fake: FakeSource, reddit: RedditConnector, caller: Caller, sleeps: list[float]
) -> None:
    fake.answer("GET", "/search", CannedResponse(503, "<html>upstream overloaded</html>"))

    with pytest.raises(Transient) as raised:
        pull(reddit)

    assert raised.value.status == 503
    assert len(fake.seen("/search")) == caller.attempts
    assert len(sleeps) == caller.attempts - 1


def test_a_5xx_then_a_good_page_recovers(
    fake: FakeSource, reddit: RedditConnector, sleeps: list[float]
) -> None:
    fake.answer(
        "GET",
        "/search",
        CannedResponse(502, "bad gateway"),
        CannedResponse(200, listing([post("a", hours_ago(1))])),
    )

    assert names(pull(reddit)) == ["t3_a"]
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"<html>we took reddit down</html>", "not JSON"),
        ({"kind": "Listing", "data": {"after": None, "children": "none"}}, "data.children"),
        ({"kind": "t3", "data": {}}, "kind"),
        (listing([{"kind": "t3", "data": {"name": "t3_a", "permalink": "/r/x/comments/a/"}}]), "created_utc"),
    ],
    ids=["not-json", "children-not-a-list", "not-a-listing", "post-without-time"],
)
def test_a_malformed_answer_is_malformed(
    fake: FakeSource, reddit: RedditConnector, body: object, named: str
) -> None:
    fake.answer("GET", "/search", CannedResponse(200, body))

    with pytest.raises(Malformed, match=named):
        pull(reddit)


# --- the app-only token ----------------------------------------------------------------------------


def test_token_call_uses_basic_auth_the_form_and_the_user_agent(
    fake: FakeSource, reddit: RedditConnector
) -> None:
    fake.answer("GET", "/search", CannedResponse(200, listing([])))

    pull(reddit)

    (call,) = fake.seen(TOKEN_PATH)
    assert call.method == "POST"
    assert call.headers["authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.body == b"grant_type=client_credentials"
    assert call.headers["user-agent"] == UA


def test_token_is_cached_until_it_expires(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", TOKEN_PATH, token("tok-1", expires_in=3600), token("tok-2", expires_in=3600))
    fake.answer("GET", "/search", CannedResponse(200, listing([])))
    reddit = RedditConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN_PATH, user_agent=UA)

    pull(reddit)
    caller.clock = lambda: T0 + timedelta(minutes=30)
    pull(reddit)
    assert len(fake.seen(TOKEN_PATH)) == 1

    caller.clock = lambda: T0 + timedelta(minutes=59, seconds=30)  # inside the renewal margin
    pull(reddit)

    assert len(fake.seen(TOKEN_PATH)) == 2
    assert [s.headers["authorization"] for s in fake.seen("/search")] == ["bearer tok-1"] * 2 + [
        "bearer tok-2"
    ]


def test_a_cached_token_refused_is_renewed_once(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", TOKEN_PATH, token("tok-1"), token("tok-2"))
    fake.answer(
        "GET",
        "/search",
        CannedResponse(200, listing([])),
        CannedResponse(401, {"message": "Unauthorized", "error": 401}),
        CannedResponse(200, listing([post("a", hours_ago(1))])),
    )
    reddit = RedditConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN_PATH, user_agent=UA)

    pull(reddit)
    assert names(pull(reddit)) == ["t3_a"]

    assert [s.headers["authorization"] for s in fake.seen("/search")] == [
        "bearer tok-1",
        "bearer tok-1",
        "bearer tok-2",
    ]


def test_token_without_access_token_is_malformed(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", TOKEN_PATH, CannedResponse(200, {"token_type": "bearer", "expires_in": 86400}))
    reddit = RedditConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN_PATH, user_agent=UA)

    with pytest.raises(Malformed, match="access_token"):
        pull(reddit)


# --- reply and check -------------------------------------------------------------------------------


def test_reply_is_unsupported_and_calls_nothing(fake: FakeSource, reddit: RedditConnector) -> None:
    item = SourceItem(source=Source.REDDIT, source_id="t3_a", url="https://www.reddit.com/r/x/comments/a/")
    review = StoredReview(
        shop_id="shop-1", item=item, fingerprint=item.fingerprint(), first_seen_at=T0, last_seen_at=T0
    )

    with pytest.raises(Unsupported, match="by hand"):
        reddit.reply(SHOP, review, "Thanks for the feedback!")

    assert fake.requests == []


def test_check_is_one_search_for_one_post(fake: FakeSource, reddit: RedditConnector) -> None:
    fake.answer(
        "GET",
        "/search",
        CannedResponse(200, listing([post("a", datetime(2026, 11, 20, 9, tzinfo=UTC))], "t3_a")),
    )

    line = reddit.check(SHOP)

    assert "2026-11-20" in line and QUERY in line
    (search,) = fake.seen("/search")
    assert search.param("limit") == "1"
    assert search.param("after") is None


def test_check_says_when_nothing_matches_yet(fake: FakeSource, reddit: RedditConnector) -> None:
    fake.answer("GET", "/search", CannedResponse(200, listing([])))

    assert "no post" in reddit.check(SHOP)
