"""The Yelp Fusion connector against a fake Yelp, fed the recorded reviews body and error envelopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.fake_source import CannedResponse, FakeSource
from services.reviews.connectors.limits import Caller
from services.reviews.connectors.yelp import YelpConnector, to_item
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

BUSINESS = "lJAGnYzku5zSaLnQ_T6_GQ"
REVIEWS = f"/v3/businesses/{BUSINESS}/reviews"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)  # the caller fixture's clock
CONNECTION = Connection("shop-1", "yelp", {"business": BUSINESS}, {"api_key": "yelp-key-123"})
LIMITED = {"error": {"code": "TOO_MANY_REQUESTS_PER_SECOND", "description": "You have exceeded the QPS."}}


def load(shared_dir: Path, name: str) -> Any:
    return json.loads((shared_dir / "fixtures" / "reviews" / "yelp_fusion" / name).read_text())


@pytest.fixture
def body(shared_dir: Path) -> dict[str, Any]:
    """The recorded 200: 3 excerpts newest first, total 9247."""
    return dict(load(shared_dir, "business_reviews_2018.json"))


@pytest.fixture
def connector(caller: Caller, fake: FakeSource) -> YelpConnector:
    return YelpConnector(caller, api_base=fake.url)


def pull(connector: YelpConnector, since: datetime | None = None, max_items: int = 50) -> list[SourceItem]:
    return list(connector.pull(CONNECTION, since, max_items))


# --- mapping and the pull ----------------------------------------------------------------------------


def test_the_recorded_excerpts_map_field_by_field(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    items = pull(connector)

    first = body["reviews"][0]
    assert items[0] == SourceItem(
        source=Source.YELP,
        source_id="LLY9bAET7uw_hLa3q7rB3A",
        text=first["text"],
        rating=5,
        rating_scale=5,
        author="Roxana A.",
        url=first["url"],
        published_at=datetime(2018, 6, 21, 22, 25, 51, tzinfo=UTC),
    )
    assert [(item.rating, item.author) for item in items] == [
        (5, "Roxana A."),
        (2, "David B."),
        (3, "Katy F."),
    ]
    assert all(item.text.endswith("...") and item.updated_at is None and item.reply is None for item in items)
    [request] = fake.seen(REVIEWS)
    assert request.method == "GET"
    assert request.headers["authorization"] == "Bearer yelp-key-123"


def test_excerpts_come_out_newest_first_whatever_yelps_order(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    newest, middle, oldest = body["reviews"]
    fake.answer("GET", REVIEWS, CannedResponse(200, {**body, "reviews": [middle, oldest, newest]}))

    assert [item.source_id for item in pull(connector)] == [newest["id"], middle["id"], oldest["id"]]


def test_an_alias_is_accepted_as_the_business(fake: FakeSource, caller: Caller, body: dict[str, Any]) -> None:
    alias = "brendas-french-soul-food-san-francisco"
    fake.answer("GET", f"/v3/businesses/{alias}/reviews", CannedResponse(200, body))
    connection = Connection("shop-1", "yelp", {"business": alias}, CONNECTION.credentials)

    assert len(list(YelpConnector(caller, api_base=fake.url).pull(connection, None, 50))) == 3


def test_a_business_without_reviews_yields_nothing(fake: FakeSource, connector: YelpConnector) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, {"reviews": [], "total": 0, "possible_languages": []}))

    assert pull(connector) == []
    assert len(fake.seen(REVIEWS)) == 1


def test_the_pull_stops_at_since(fake: FakeSource, connector: YelpConnector, body: dict[str, Any]) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    items = pull(connector, since=datetime(2018, 6, 20, 2, 19, 50, tzinfo=UTC))  # the second one's time

    assert [item.source_id for item in items] == [review["id"] for review in body["reviews"][:2]]
    assert pull(connector, since=NOW) == []


@pytest.mark.parametrize("max_items", [0, 1, 2, 3, 10])
def test_max_items_bounds_the_pull(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any], max_items: int
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    items = pull(connector, max_items=max_items)

    assert [item.source_id for item in items] == [review["id"] for review in body["reviews"][:max_items]]


def test_the_same_excerpt_twice_is_yielded_once(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    reviews = body["reviews"]
    fake.answer(
        "GET", REVIEWS, CannedResponse(200, {**body, "reviews": [reviews[0], reviews[1], reviews[0]]})
    )

    assert [item.source_id for item in pull(connector)] == [reviews[0]["id"], reviews[1]["id"]]


def test_an_edited_excerpt_between_two_pulls_has_a_new_fingerprint(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    edited = {**body["reviews"][0], "text": "Update: the fried chicken is still great but...", "rating": 4}
    edited["time_created"] = "2018-07-02 09:00:00"
    fake.answer(
        "GET",
        REVIEWS,
        CannedResponse(200, body),
        CannedResponse(200, {**body, "reviews": [edited, *body["reviews"][1:]]}),
    )
    before = pull(connector)[0]

    after = pull(connector, since=before.moment)

    assert [item.source_id for item in after] == [before.source_id]
    assert after[0].fingerprint() != before.fingerprint()
    assert (after[0].rating, after[0].published_at) == (4, datetime(2018, 7, 2, 9, tzinfo=UTC))


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fixture", "error"),
    [
        (401, "error_401_unauthorized_access_token.json", AuthFailed),
        (403, "error_403_business_unavailable.json", AuthFailed),
        (404, "error_404_not_found.json", NotFound),
    ],
)
def test_errors_carry_yelps_code_and_description(
    fake: FakeSource,
    connector: YelpConnector,
    sleeps: Sleeps,
    shared_dir: Path,
    status: int,
    fixture: str,
    error: type[Exception],
) -> None:
    envelope = load(shared_dir, fixture)
    fake.answer("GET", REVIEWS, CannedResponse(status, envelope))

    with pytest.raises(error) as raised:
        pull(connector)

    code, description = envelope["error"]["code"], envelope["error"]["description"]
    assert str(raised.value) == f"yelp reviews: HTTP {status} {code}: {description}"
    assert len(fake.seen(REVIEWS)) == 1 and sleeps == []


def test_an_error_body_that_is_not_the_envelope_is_kept_as_is(
    fake: FakeSource, connector: YelpConnector
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(401, "Unauthorized"))

    with pytest.raises(AuthFailed, match="HTTP 401 Unauthorized"):
        pull(connector)


def test_429_with_a_short_retry_after_is_waited_out_once(
    fake: FakeSource, connector: YelpConnector, sleeps: Sleeps, body: dict[str, Any]
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(429, LIMITED, {"Retry-After": "1"}), CannedResponse(200, body))

    assert len(pull(connector)) == 3
    assert sleeps == [1.0] and len(fake.seen(REVIEWS)) == 2


def test_429_at_the_daily_cap_raises_with_yelps_reset_time(
    fake: FakeSource, connector: YelpConnector, sleeps: Sleeps
) -> None:
    reset = NOW + timedelta(hours=7)
    envelope = {"error": {"code": "ACCESS_LIMIT_REACHED", "description": "You've reached the access limit."}}
    fake.answer("GET", REVIEWS, CannedResponse(429, envelope, {"RateLimit-ResetTime": reset.isoformat()}))

    with pytest.raises(RateLimited, match="ACCESS_LIMIT_REACHED: You've reached") as raised:
        pull(connector)

    assert raised.value.retry_at == reset
    assert sleeps == [] and len(fake.seen(REVIEWS)) == 1


def test_429_without_retry_after_backs_off_then_raises(
    fake: FakeSource, connector: YelpConnector, sleeps: Sleeps
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(429, LIMITED))

    with pytest.raises(RateLimited, match="TOO_MANY_REQUESTS_PER_SECOND") as raised:
        pull(connector)

    assert raised.value.retry_at is None
    assert len(fake.seen(REVIEWS)) == 4 and len(sleeps) == 3


def test_a_200_that_spends_the_last_call_stops_the_next_before_it_is_made(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    headers = {
        "RateLimit-DailyLimit": "300",
        "RateLimit-Remaining": "0",
        "RateLimit-ResetTime": "2026-11-23T00:00:00Z",
    }
    fake.answer("GET", REVIEWS, CannedResponse(200, body, headers))

    assert len(pull(connector)) == 3
    with pytest.raises(RateLimited) as raised:
        pull(connector)

    assert raised.value.retry_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert len(fake.seen(REVIEWS)) == 1


def test_a_5xx_is_retried_then_transient(fake: FakeSource, connector: YelpConnector, sleeps: Sleeps) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(502, "<html>Bad Gateway</html>"))

    with pytest.raises(Transient, match="HTTP 502"):
        pull(connector)
    assert len(fake.seen(REVIEWS)) == 4 and len(sleeps) == 3


def test_a_5xx_once_is_retried_to_success(
    fake: FakeSource, connector: YelpConnector, sleeps: Sleeps, body: dict[str, Any]
) -> None:
    fake.answer(
        "GET", REVIEWS, CannedResponse(500, {"error": {"code": "INTERNAL_ERROR", "description": "Oops."}})
    )
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    assert len(pull(connector)) == 3
    assert len(sleeps) == 1


def test_a_body_that_is_not_json_is_malformed(fake: FakeSource, connector: YelpConnector) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, b"{'reviews': ["))

    with pytest.raises(Malformed, match="not JSON"):
        pull(connector)


@pytest.mark.parametrize(
    "change",
    [
        {"reviews": None},
        {"reviews": {"id": "x"}},
        {"reviews": [{"text": "no id", "rating": 5, "time_created": "2018-06-21 22:25:51"}]},
        {"reviews": [{"id": "x", "rating": 5, "time_created": "2018-06-21T22:25:51Z"}]},
        {"reviews": [{"id": "x", "rating": "five stars", "time_created": "2018-06-21 22:25:51"}]},
    ],
    ids=["no reviews", "reviews not a list", "no id", "an ISO time", "a rating in words"],
)
def test_bodies_not_of_the_documented_shape_are_malformed(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any], change: dict[str, Any]
) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, {**body, **change}))

    with pytest.raises(Malformed):
        pull(connector)


def test_a_connection_without_an_api_key_is_auth_failed_before_any_call(
    fake: FakeSource, connector: YelpConnector
) -> None:
    with pytest.raises(AuthFailed, match="api_key"):
        list(connector.pull(Connection("shop-1", "yelp", {"business": BUSINESS}), None, 3))
    assert fake.requests == []


@pytest.mark.parametrize("business", ["", "../../v2/businesses/x", ".."])
def test_a_business_that_is_no_id_or_alias_is_not_found_before_any_call(
    fake: FakeSource, connector: YelpConnector, business: str
) -> None:
    with pytest.raises(NotFound):
        list(
            connector.pull(
                Connection("shop-1", "yelp", {"business": business}, CONNECTION.credentials), None, 3
            )
        )
    assert fake.requests == []


# --- reply and check ---------------------------------------------------------------------------------


def test_reply_is_unsupported_and_calls_nothing(
    fake: FakeSource, connector: YelpConnector, body: dict[str, Any]
) -> None:
    item = to_item(body["reviews"][1])
    review = StoredReview(
        shop_id="shop-1", item=item, fingerprint=item.fingerprint(), first_seen_at=NOW, last_seen_at=NOW
    )

    with pytest.raises(Unsupported) as raised:
        connector.reply(CONNECTION, review, "Sorry to hear that, David.")

    assert raised.value.kind == "unsupported"
    assert fake.requests == []


def test_check_reports_yelps_total(fake: FakeSource, connector: YelpConnector, body: dict[str, Any]) -> None:
    fake.answer("GET", REVIEWS, CannedResponse(200, body))

    assert connector.check(CONNECTION) == f"yelp: business {BUSINESS}, 9247 reviews (3 excerpts readable)"
    [request] = fake.seen(REVIEWS)
    assert request.headers["authorization"] == "Bearer yelp-key-123"


def test_check_with_a_key_without_access_is_auth_failed(
    fake: FakeSource, connector: YelpConnector, shared_dir: Path
) -> None:
    fake.answer(
        "GET", REVIEWS, CannedResponse(401, load(shared_dir, "error_401_unauthorized_access_token.json"))
    )

    with pytest.raises(AuthFailed, match="yelp check: HTTP 401 UNAUTHORIZED_ACCESS_TOKEN"):
        connector.check(CONNECTION)
