"""The Google Business Profile connector against a fake My Business v4, fed the captured Review objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from cxloop.local.fake_source import CannedResponse, FakeSource, Seen
from services.reviews.adapters.http_client import Urllib3Http
from services.reviews.connectors.google import GoogleConnector, parse_time, to_item
from services.reviews.connectors.limits import Caller
from services.reviews.domain.errors import AuthFailed, Malformed, NotFound, RateLimited, Transient
from services.reviews.domain.model import Source, SourceItem, StoredReview
from services.reviews.domain.ports import Connection
from tests.integration.reviews.conftest import Sleeps

ACCOUNT = "108795149061771855217"
LOCATION = "1749148372622282750"
REVIEWS = f"/v4/accounts/{ACCOUNT}/locations/{LOCATION}/reviews"
TOKEN = "/token"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)  # the caller fixture's clock
CREDENTIALS = {
    "client_id": "1234-abc.apps.googleusercontent.com",
    "client_secret": "GOCSPX-not-a-secret",
    "refresh_token": "1//0g-refresh",
}
CONNECTION = Connection("shop-1", "google", {"account": ACCOUNT, "location": LOCATION}, CREDENTIALS)
GRANTED = {"access_token": "ya29.first", "expires_in": 3599, "token_type": "Bearer"}
UNAUTHENTICATED = {"error": {"code": 401, "message": "Invalid credentials.", "status": "UNAUTHENTICATED"}}
EXHAUSTED = {"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED"}}

Review = dict[str, Any]


def load(shared_dir: Path, name: str) -> Any:
    return json.loads((shared_dir / "fixtures" / "reviews" / "google_business_profile" / name).read_text())


@pytest.fixture
def reviews(shared_dir: Path) -> list[Review]:
    """30 captured Review objects, newest first (7 rating-only, 21 with a reply, one FOUR)."""
    return [
        entry["review"] for entry in load(shared_dir, "batch_get_reviews_response.json")["locationReviews"]
    ]


@pytest.fixture
def single(shared_dir: Path) -> Review:
    return dict(load(shared_dir, "review_single.json"))


@pytest.fixture
def connector(fake: FakeSource, caller: Caller) -> GoogleConnector:
    fake.answer("POST", TOKEN, CannedResponse(200, GRANTED))
    return GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)


def paged(fake: FakeSource, *pages: list[Review]) -> None:
    """Serve the pages chained by nextPageToken p2, p3 ...; Google omits ``reviews`` when empty."""
    bodies: dict[str | None, dict[str, Any]] = {}
    for n, page in enumerate(pages, 1):
        body: dict[str, Any] = {"reviews": page, "averageRating": 4.9, "totalReviewCount": 30} if page else {}
        if n < len(pages):
            body["nextPageToken"] = f"p{n + 1}"
        bodies[None if n == 1 else f"p{n}"] = body
    fake.route("GET", REVIEWS, lambda seen: CannedResponse(200, bodies[seen.param("pageToken")]))


def pull(connector: GoogleConnector, since: datetime | None = None, max_items: int = 500) -> list[SourceItem]:
    return list(connector.pull(CONNECTION, since, max_items))


def ids(reviews: list[Review]) -> list[str]:
    return [review["reviewId"] for review in reviews]


def tokens_asked(fake: FakeSource) -> list[Seen]:
    return fake.seen(TOKEN)


# --- mapping -----------------------------------------------------------------------------------------


def test_a_real_review_with_its_reply_maps_field_by_field(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    paged(fake, [single])

    [item] = pull(connector)

    assert item == SourceItem(
        source=Source.GOOGLE,
        source_id=single["reviewId"],
        text=single["comment"],
        rating=5,
        rating_scale=5,
        author="Chad Tuitama",
        published_at=datetime(2026, 6, 9, 5, 41, 10, 181876, tzinfo=UTC),
        updated_at=datetime(2026, 6, 9, 5, 41, 10, 181876, tzinfo=UTC),
        reply=single["reviewReply"]["comment"],
        replied_at=datetime(2026, 6, 9, 13, 26, 43, tzinfo=UTC),
    )
    assert item.text.endswith("😁🙌👍") and "\N{RIGHT SINGLE QUOTATION MARK}" in item.text
    [request] = fake.seen(REVIEWS)
    assert request.headers["authorization"] == "Bearer ya29.first"
    assert request.query == {"pageSize": ["50"], "orderBy": ["updateTime desc"]}


def test_rating_only_reviews_have_empty_text(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    rating_only = [review for review in reviews if "comment" not in review]
    assert len(rating_only) == 7
    paged(fake, rating_only)

    items = pull(connector)

    assert [item.source_id for item in items] == ids(rating_only)
    assert {item.text for item in items} == {""}
    assert all(item.rating == 5 and item.author for item in items)
    assert [item.reply for item in items] == [
        review.get("reviewReply", {}).get("comment") for review in rating_only
    ]
    assert [item.reply is None for item in items].count(True) == 1


@pytest.mark.parametrize(
    ("star", "rating", "scale"),
    [
        ("ONE", 1, 5),
        ("TWO", 2, 5),
        ("THREE", 3, 5),
        ("FOUR", 4, 5),
        ("FIVE", 5, 5),
        ("STAR_RATING_UNSPECIFIED", None, None),
    ],
)
def test_star_enums_map_to_ratings_on_a_scale_of_five(
    fake: FakeSource,
    connector: GoogleConnector,
    single: Review,
    star: str,
    rating: int | None,
    scale: int | None,
) -> None:
    paged(fake, [{**single, "starRating": star}])

    [item] = pull(connector)

    assert (item.rating, item.rating_scale) == (rating, scale)


def test_the_captured_four_star_review_keeps_its_four(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews)

    ratings = {item.source_id: item.rating for item in pull(connector)}

    assert [source_id for source_id, rating in ratings.items() if rating != 5] == [
        review["reviewId"] for review in reviews if review["starRating"] == "FOUR"
    ]
    assert set(ratings.values()) == {4, 5}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-09T13:26:43Z", datetime(2026, 6, 9, 13, 26, 43, tzinfo=UTC)),
        ("2026-06-09T13:26:43.5Z", datetime(2026, 6, 9, 13, 26, 43, 500000, tzinfo=UTC)),
        ("2026-06-09T13:26:43.492Z", datetime(2026, 6, 9, 13, 26, 43, 492000, tzinfo=UTC)),
        ("2026-06-11T00:26:49.492264Z", datetime(2026, 6, 11, 0, 26, 49, 492264, tzinfo=UTC)),
        ("2026-06-09T13:26:43.123456789Z", datetime(2026, 6, 9, 13, 26, 43, 123456, tzinfo=UTC)),
        ("2026-06-09T15:26:43.1+02:00", datetime(2026, 6, 9, 13, 26, 43, 100000, tzinfo=UTC)),
        ("2026-06-09t13:26:43z", datetime(2026, 6, 9, 13, 26, 43, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_with_0_to_9_fractional_digits(text: str, expected: datetime) -> None:
    parsed = parse_time(text)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["2026-06-09 13:26:43", "2026-06-09T13:26:43.1234567890Z", "2026-02-30T00:00:00Z", 17]
)
def test_times_that_are_not_rfc3339_are_malformed(text: object) -> None:
    with pytest.raises(Malformed):
        parse_time(text)


def test_nine_fractional_digits_from_the_wire(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    paged(
        fake,
        [{**single, "createTime": "2026-06-09T05:41:10Z", "updateTime": "2026-06-10T07:00:00.987654321Z"}],
    )

    [item] = pull(connector)

    assert item.published_at == datetime(2026, 6, 9, 5, 41, 10, tzinfo=UTC)
    assert item.updated_at == datetime(2026, 6, 10, 7, 0, 0, 987654, tzinfo=UTC)


def test_resource_names_in_the_settings_are_cut_to_their_ids(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    paged(fake, [single])
    named = Connection(
        "shop-1",
        "google",
        {"account": f"accounts/{ACCOUNT}", "location": f"locations/{LOCATION}"},
        CREDENTIALS,
    )

    assert len(list(connector.pull(named, None, 10))) == 1
    assert [request.path for request in fake.seen() if request.method == "GET"] == [REVIEWS]


# --- pagination, since, max_items, duplicates, edits ---------------------------------------------------


def test_pages_are_followed_by_next_page_token(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews[:10], reviews[10:20], reviews[20:])

    items = pull(connector)

    assert [item.source_id for item in items] == ids(reviews)
    requests = fake.seen(REVIEWS)
    assert [request.param("pageToken") for request in requests] == [None, "p2", "p3"]
    assert {request.param("pageSize") for request in requests} == {"50"}
    assert {request.headers["authorization"] for request in requests} == {"Bearer ya29.first"}
    assert len(tokens_asked(fake)) == 1


def test_a_location_without_reviews_yields_nothing(fake: FakeSource, connector: GoogleConnector) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, {}))

    assert pull(connector) == []
    assert len(fake.seen(REVIEWS)) == 1


def test_an_empty_page_between_pages_is_passed_over(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews[:2], [], reviews[2:4])

    assert [item.source_id for item in pull(connector)] == ids(reviews[:4])
    assert len(fake.seen(REVIEWS)) == 3


def test_the_pull_stops_at_since_and_asks_no_further_page(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews[:10], reviews[10:20], reviews[20:])
    since = parse_time(reviews[11]["updateTime"])

    items = pull(connector, since=since)

    assert [item.source_id for item in items] == ids(reviews[:12])  # the one exactly at since included
    assert [request.param("pageToken") for request in fake.seen(REVIEWS)] == [None, "p2"]


def test_a_since_newer_than_everything_yields_nothing(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews[:10], reviews[10:])

    assert pull(connector, since=NOW) == []
    assert len(fake.seen(REVIEWS)) == 1


@pytest.mark.parametrize(("max_items", "pages_asked"), [(0, 0), (1, 1), (10, 1), (12, 2), (500, 3)])
def test_max_items_bounds_the_pull_and_the_pages_asked(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review], max_items: int, pages_asked: int
) -> None:
    paged(fake, reviews[:10], reviews[10:20], reviews[20:])

    items = pull(connector, max_items=max_items)

    assert [item.source_id for item in items] == ids(reviews[:max_items])
    assert len(fake.seen(REVIEWS)) == pages_asked


def test_a_review_on_two_pages_is_yielded_once(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    paged(fake, reviews[:3], [reviews[2], *reviews[3:5]])

    items = pull(connector)

    assert [item.source_id for item in items] == ids(reviews[:5])


def test_a_page_token_that_repeats_is_malformed_not_a_loop(
    fake: FakeSource, connector: GoogleConnector, reviews: list[Review]
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, {"reviews": reviews[:2], "nextPageToken": "again"}))

    items: list[SourceItem] = []
    with pytest.raises(Malformed, match="repeats"):
        items.extend(connector.pull(CONNECTION, None, 500))

    assert [item.source_id for item in items] == ids(reviews[:2])
    assert len(fake.seen(REVIEWS)) == 2


def test_an_edit_between_two_pulls_comes_back_with_a_new_fingerprint(
    fake: FakeSource, connector: GoogleConnector, single: Review, reviews: list[Review]
) -> None:
    older = reviews[-1]  # 2026-05-30, before the single review's 2026-06-09
    paged(fake, [single, older])
    first = pull(connector)[0]
    edited = {**single, "comment": "Edited: the wait was long.", "starRating": "FOUR"}
    edited["updateTime"] = "2026-06-12T08:00:00.5Z"
    paged(fake, [edited, older])

    again = pull(connector, since=first.moment)

    assert [item.source_id for item in again] == [single["reviewId"]]
    [second] = again
    assert second.fingerprint() != first.fingerprint()
    assert (second.text, second.rating) == ("Edited: the wait was long.", 4)
    assert second.published_at == first.published_at
    assert second.updated_at == datetime(2026, 6, 12, 8, 0, 0, 500000, tzinfo=UTC)


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body_of"), [(401, "401"), (403, "error_403_missing_api_key.json")])
def test_401_and_403_are_auth_failed_and_not_retried(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps, shared_dir: Path, status: int, body_of: str
) -> None:
    body: dict[str, Any] = UNAUTHENTICATED if body_of == "401" else load(shared_dir, body_of)
    fake.answer("GET", REVIEWS, CannedResponse(status, body))

    with pytest.raises(AuthFailed) as raised:
        pull(connector)

    assert raised.value.status == status
    assert body["error"]["status"] in str(raised.value)
    assert len(fake.seen(REVIEWS)) == 1 and sleeps == []


def test_a_token_refused_by_the_api_is_fetched_anew_on_the_next_call(
    fake: FakeSource, caller: Caller, single: Review
) -> None:
    fake.answer(
        "POST",
        TOKEN,
        CannedResponse(200, GRANTED),
        CannedResponse(200, {**GRANTED, "access_token": "ya29.second"}),
    )
    fake.answer(
        "GET", REVIEWS, CannedResponse(401, UNAUTHENTICATED), CannedResponse(200, {"reviews": [single]})
    )
    connector = GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)

    with pytest.raises(AuthFailed):
        pull(connector)
    assert len(pull(connector)) == 1

    assert [r.headers["authorization"] for r in fake.seen(REVIEWS)] == [
        "Bearer ya29.first",
        "Bearer ya29.second",
    ]
    assert len(tokens_asked(fake)) == 2


def test_404_is_not_found(fake: FakeSource, connector: GoogleConnector, shared_dir: Path) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(404, load(shared_dir, "error_404_method_not_found.json")))

    with pytest.raises(NotFound, match="NOT_FOUND"):
        pull(connector)
    assert len(fake.seen(REVIEWS)) == 1


def test_429_with_a_short_retry_after_is_waited_out_once(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps, single: Review
) -> None:
    fake.answer(
        "GET",
        REVIEWS,
        CannedResponse(429, EXHAUSTED, {"Retry-After": "3"}),
        CannedResponse(200, {"reviews": [single]}),
    )

    assert len(pull(connector)) == 1
    assert sleeps == [3.0]
    assert len(fake.seen(REVIEWS)) == 2


def test_429_with_a_long_retry_after_raises_with_the_time_to_come_back(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(429, EXHAUSTED, {"Retry-After": "600"}))

    with pytest.raises(RateLimited) as raised:
        pull(connector)

    assert raised.value.retry_at == NOW + timedelta(seconds=600)
    assert sleeps == [] and len(fake.seen(REVIEWS)) == 1


def test_429_without_retry_after_backs_off_then_raises(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(429, EXHAUSTED))

    with pytest.raises(RateLimited) as raised:
        pull(connector)

    assert raised.value.retry_at is None
    assert len(fake.seen(REVIEWS)) == 4
    assert len(sleeps) == 3 and all(0 <= s <= cap for s, cap in zip(sleeps, (1, 2, 4), strict=True))


def test_a_5xx_is_retried(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps, single: Review
) -> None:
    fake.answer(
        "GET", REVIEWS, CannedResponse(503, "Service Unavailable"), CannedResponse(200, {"reviews": [single]})
    )

    assert len(pull(connector)) == 1
    assert len(sleeps) == 1 and len(fake.seen(REVIEWS)) == 2


def test_a_lasting_5xx_is_transient_after_the_retries(
    fake: FakeSource, connector: GoogleConnector, sleeps: Sleeps
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(500, {"error": {"code": 500, "status": "INTERNAL"}}))

    with pytest.raises(Transient, match="HTTP 500"):
        pull(connector)
    assert len(fake.seen(REVIEWS)) == 4 and len(sleeps) == 3


def test_a_body_that_is_not_json_is_malformed(fake: FakeSource, connector: GoogleConnector) -> None:
    fake.answer(
        "GET",
        REVIEWS,
        CannedResponse(200, "<html><body>Sign in</body></html>", {"Content-Type": "text/html"}),
    )

    with pytest.raises(Malformed, match="not JSON"):
        pull(connector)


SHAPES: dict[str, Callable[[Review], Any]] = {
    "a list for a body": lambda r: [r],
    "reviews not a list": lambda r: {"reviews": {"0": r}},
    "a review without reviewId": lambda r: {"reviews": [{k: v for k, v in r.items() if k != "reviewId"}]},
    "a review that is a string": lambda r: {"reviews": ["AbFvOq"]},
    "an unknown star": lambda r: {"reviews": [{**r, "starRating": "SIX"}]},
    "a time that is not RFC 3339": lambda r: {"reviews": [{**r, "updateTime": "09/06/2026"}]},
    "no time at all": lambda r: {"reviews": [{k: v for k, v in r.items() if not k.endswith("Time")}]},
    "a page token that is a number": lambda r: {"reviews": [r], "nextPageToken": 7},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_bodies_not_of_the_documented_shape_are_malformed(
    fake: FakeSource, connector: GoogleConnector, single: Review, shape: str
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, SHAPES[shape](single)))

    with pytest.raises(Malformed):
        pull(connector)


# --- the OAuth token ---------------------------------------------------------------------------------


def test_the_refresh_grant_is_posted_as_a_form_and_its_token_cached_until_shortly_before_expiry(
    fake: FakeSource, sleeps: Sleeps, single: Review
) -> None:
    now = [NOW]
    caller = Caller(Urllib3Http(timeout_s=5), sleep=sleeps, clock=lambda: now[0])
    fake.answer(
        "POST",
        TOKEN,
        CannedResponse(200, GRANTED),
        CannedResponse(200, {**GRANTED, "access_token": "ya29.second"}),
    )
    fake.answer("GET", REVIEWS, CannedResponse(200, {"reviews": [single]}))
    connector = GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)

    pull(connector)
    now[0] = NOW + timedelta(minutes=30)
    pull(connector)
    now[0] = NOW + timedelta(seconds=3599 - 1)
    pull(connector)

    [first, second] = tokens_asked(fake)
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in first.headers
    assert parse_qs(first.body.decode()) == {
        "grant_type": ["refresh_token"],
        "client_id": [CREDENTIALS["client_id"]],
        "client_secret": [CREDENTIALS["client_secret"]],
        "refresh_token": [CREDENTIALS["refresh_token"]],
    }
    assert second.body == first.body
    bearers = [request.headers["authorization"] for request in fake.seen(REVIEWS)]
    assert bearers == ["Bearer ya29.first", "Bearer ya29.first", "Bearer ya29.second"]


def test_each_client_and_refresh_token_has_its_own_access_token(
    fake: FakeSource, caller: Caller, single: Review
) -> None:
    fake.answer(
        "POST",
        TOKEN,
        CannedResponse(200, GRANTED),
        CannedResponse(200, {**GRANTED, "access_token": "ya29.other"}),
    )
    fake.answer("GET", REVIEWS, CannedResponse(200, {"reviews": [single]}))
    connector = GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)
    other = Connection(
        "shop-2", "google", CONNECTION.settings, {**CREDENTIALS, "refresh_token": "1//0g-other"}
    )

    list(connector.pull(CONNECTION, None, 10))
    list(connector.pull(other, None, 10))
    list(connector.pull(CONNECTION, None, 10))

    assert [parse_qs(r.body.decode())["refresh_token"] for r in tokens_asked(fake)] == [
        ["1//0g-refresh"],
        ["1//0g-other"],
    ]
    bearers = [request.headers["authorization"] for request in fake.seen(REVIEWS)]
    assert bearers == ["Bearer ya29.first", "Bearer ya29.other", "Bearer ya29.first"]


def test_a_revoked_refresh_token_is_auth_failed(fake: FakeSource, caller: Caller) -> None:
    revoked = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    fake.answer("POST", TOKEN, CannedResponse(400, revoked))
    connector = GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)

    with pytest.raises(AuthFailed, match="invalid_grant"):
        pull(connector)
    assert fake.seen(REVIEWS) == []


def test_a_token_answer_without_access_token_is_malformed(fake: FakeSource, caller: Caller) -> None:
    fake.answer("POST", TOKEN, CannedResponse(200, {"token_type": "Bearer"}))
    connector = GoogleConnector(caller, api_base=fake.url, token_url=fake.url + TOKEN)

    with pytest.raises(Malformed, match="access_token"):
        pull(connector)


def test_missing_credentials_are_auth_failed_before_any_call(
    fake: FakeSource, connector: GoogleConnector
) -> None:
    lacking = Connection("shop-1", "google", CONNECTION.settings, {"client_id": "x", "client_secret": "y"})

    with pytest.raises(AuthFailed, match="refresh_token"):
        list(connector.pull(lacking, None, 10))
    assert fake.requests == []


@pytest.mark.parametrize("settings", [{"account": ACCOUNT}, {"account": ACCOUNT, "location": ".."}])
def test_settings_without_a_usable_location_are_not_found_before_any_call(
    fake: FakeSource, connector: GoogleConnector, settings: dict[str, str]
) -> None:
    with pytest.raises(NotFound):
        list(connector.pull(Connection("shop-1", "google", settings, CREDENTIALS), None, 10))
    assert fake.requests == []


# --- reply and check ---------------------------------------------------------------------------------


def stored(item: SourceItem) -> StoredReview:
    return StoredReview(
        shop_id="shop-1", item=item, fingerprint=item.fingerprint(), first_seen_at=NOW, last_seen_at=NOW
    )


def test_reply_puts_the_comment_on_the_review(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    path = f"{REVIEWS}/{single['reviewId']}/reply"
    fake.answer(
        "PUT", path, CannedResponse(200, {"comment": "Danke, Chad! 🙌", "updateTime": "2026-11-22T12:00:00Z"})
    )

    connector.reply(CONNECTION, stored(to_item(single)), "Danke, Chad! 🙌")

    [request] = fake.seen(path)
    assert request.method == "PUT"
    assert request.headers["authorization"] == "Bearer ya29.first"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"comment": "Danke, Chad! 🙌"}


def test_a_reply_to_a_review_gone_is_not_found(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    with pytest.raises(NotFound):
        connector.reply(CONNECTION, stored(to_item(single)), "Thanks!")
    assert [request.method for request in fake.seen() if request.path != TOKEN] == ["PUT"]


def test_check_reports_the_location_its_count_and_average(
    fake: FakeSource, connector: GoogleConnector, single: Review
) -> None:
    body = {"reviews": [single], "averageRating": 4.6, "totalReviewCount": 123, "nextPageToken": "x"}
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    assert connector.check(CONNECTION) == f"google: location {LOCATION}, 123 reviews, average 4.6"
    [request] = fake.seen(REVIEWS)
    assert request.param("pageSize") == "1"
    assert request.headers["authorization"] == "Bearer ya29.first"


def test_check_of_a_location_without_reviews(fake: FakeSource, connector: GoogleConnector) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, {}))

    assert connector.check(CONNECTION) == f"google: location {LOCATION}, 0 reviews"
