"""A full cycle on moto with the local stack's pump: `cxloop reviews connect` → the scheduled puller
pulls a (fake) source → stored → MentionIngested → scored → the reading kept on the review →
`cxloop reviews list` shows it; a CSV import takes the same path; a reply is kept with its status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cxloop.cli import main
from cxloop.local.fake_source import CannedResponse, FakeSource
from cxloop.local.pump import Pump, scheduled_event
from cxloop.local.runtime import Functions
from services.reviews import bootstrap as reviews_bootstrap
from services.reviews.bootstrap import build_reviews
from services.scoring import bootstrap as scoring_bootstrap
from services.scoring.bootstrap import build_scoring
from shared import events, topology
from shared.settings import ReviewsSettings, ScoringSettings, load
from tests.integration.conftest import SHOP_A, SHOP_B, Stack

YELP_PATH = "/v3/businesses/acme-shoes/reviews"


def yelp_body(*reviews: tuple[str, str, int]) -> dict[str, Any]:
    return {
        "reviews": [
            {
                "id": rid,
                "url": f"https://www.yelp.com/biz/acme-shoes?hrid={rid}",
                "text": text,
                "rating": rating,
                "time_created": "2026-11-20 10:00:00",
                "user": {"name": "Pat K.", "image_url": None},
            }
            for rid, text, rating in reviews
        ],
        "total": len(reviews),
        "possible_languages": ["en"],
    }


@pytest.fixture
def cycle(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, FakeSource]]:
    with FakeSource() as fake:
        monkeypatch.setenv("CXLOOP_SOURCES_BASE_URL", fake.url)
        reviews_bootstrap.reviews.use(build_reviews(load(ReviewsSettings)))
        scoring_bootstrap.scoring.use(build_scoring(load(ScoringSettings)))
        yield stack, fake


def deliver(stack: Stack, function: str) -> int:
    pump = Pump(Functions(), stack.sqs, stack.resources, retry_delay_s=0)
    fn = topology.function(function)
    assert fn.queue is not None
    url = stack.resources.queue_urls[fn.queue.queue]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    total = 0
    while n := pump.deliver_once(fn, topology.queue(fn.queue.queue), url, arn):
        total += n
    return total


def fire_puller() -> Any:
    return Functions().invoke(
        topology.function("reviews-puller"), scheduled_event("reviews-puller", "us-east-1")
    )


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_pull_store_score_and_show(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, fake = cycle
    fake.answer("GET", YELP_PATH, CannedResponse(200, yelp_body(
        ("y1", "The shoes fell apart after a week and support never answered...", 1),
        ("y2", "Lovely shoes, fast delivery...", 5),
    )))  # fmt: skip
    shop = SHOP_A.shop_id
    assert main(["reviews", "connect", "yelp", "--shop", shop, "--set", "business=acme-shoes",
                 "--secret", "api_key=k-123"]) == 0  # fmt: skip
    assert "check: " in capsys.readouterr().out
    assert fake.seen(YELP_PATH)[-1].headers["authorization"] == "Bearer k-123"

    counts = fire_puller()
    assert (counts["pulled"], counts["new"], counts["failed"]) == (1, 2, 0)
    mentions = [e for e in stack.bus_events() if e["detail-type"] == events.MENTION_INGESTED]
    assert sorted(e["detail"]["data"]["mention_id"] for e in mentions) == ["yelp:y1", "yelp:y2"]
    assert deliver(stack, "scoring-consumer") == 2
    assert deliver(stack, "reviews-events") == 2

    listed = {
        r["item"]["source_id"]: r for r in cli_json(capsys, "reviews", "list", "--shop", shop, "--json")
    }
    assert listed["y1"]["reading"]["sentiment"]["label"] == "negative"
    assert listed["y2"]["reading"]["sentiment"]["label"] == "positive"
    assert {"product_quality", "customer_service"} <= {t["theme"] for t in listed["y1"]["reading"]["themes"]}

    # The next scheduled run is not due yet; pulled now, an unchanged feed stores and announces nothing.
    assert fire_puller()["pulled"] == 0
    capsys.readouterr()
    assert main(["reviews", "pull", "--shop", shop]) == 0
    assert '"unchanged": 2' in capsys.readouterr().out
    assert not [e for e in stack.bus_events() if e["detail-type"] == events.MENTION_INGESTED]
    status = cli_json(capsys, "reviews", "status", "--shop", shop, "--json")
    assert status[0]["failures"] == 0 and status[0]["last_success_at"]


def test_a_broken_source_is_recorded_and_other_shops_are_untouched(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, fake = cycle
    fake.answer(
        "GET",
        YELP_PATH,
        CannedResponse(401, {"error": {"code": "UNAUTHORIZED_ACCESS_TOKEN", "description": "x"}}),
    )
    fake.answer(
        "GET", "/v3/businesses/beta/reviews", CannedResponse(200, yelp_body(("b1", "Great value...", 5)))
    )
    assert main(["reviews", "connect", "yelp", "--shop", SHOP_A.shop_id, "--set", "business=acme-shoes",
                 "--secret", "api_key=wrong"]) == 1  # fmt: skip
    assert "check failed (auth)" in capsys.readouterr().err
    assert main(["reviews", "connect", "yelp", "--shop", SHOP_B.shop_id, "--set", "business=beta",
                 "--secret", "api_key=right", "--no-check"]) == 0  # fmt: skip
    counts = fire_puller()
    assert (counts["pulled"], counts["failed"], counts["new"]) == (2, 1, 1)
    status = cli_json(capsys, "reviews", "status", "--shop", SHOP_A.shop_id, "--json")
    assert (status[0]["failures"], status[0]["last_error_kind"]) == (1, "auth")
    assert cli_json(capsys, "reviews", "list", "--shop", SHOP_A.shop_id, "--json") == []
    assert [r["item"]["source_id"] for r in cli_json(capsys, "reviews", "list", "--shop", SHOP_B.shop_id,
                                                      "--json")] == ["b1"]  # fmt: skip
    assert not [e for e in stack.bus_events() if e["detail-type"] == "SourceFailing"]  # not for hours yet


def test_csv_import_is_idempotent_and_replies_are_kept(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    stack, _ = cycle
    path = tmp_path / "judgeme.csv"
    path.write_text(
        "id,body,rating\n1,Great fit and quality,5\n2,Arrived broken,1\n3,,4\n4,,\n", encoding="utf-8"
    )
    argv = [
        "reviews",
        "import",
        str(path),
        "--shop",
        SHOP_A.shop_id,
        "--source",
        "judgeme",
    ]  # the names: Judge.me's
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "3 read, 1 refused: 3 new" in first.out and "line 5: no text and no rating" in first.err
    assert "columns: text='body', rating='rating', id='id'" in first.err
    assert main(argv) == 0
    assert "3 read, 1 refused: 0 new, 0 edited, 3 already known" in capsys.readouterr().out
    mentions = [e for e in stack.bus_events() if e["detail-type"] == events.MENTION_INGESTED]
    assert sorted((e["detail"]["data"]["source"], e["detail"]["data"]["mention_id"]) for e in mentions) == [
        ("judgeme", "csv:judgeme:1"),
        ("judgeme", "csv:judgeme:2"),
        ("judgeme", "csv:judgeme:3"),
    ]
    assert deliver(stack, "scoring-consumer") == 3  # the star-only one goes on unread, with its rating
    scored = [e["detail"]["data"] for e in stack.bus_events() if e["detail-type"] == events.FEEDBACK_SCORED]
    star_only = next(d for d in scored if d["subject_id"] == "csv:judgeme:3")
    assert (star_only["sentiment"], star_only["flags"], star_only["rating"]) == (None, ["no_text"], 4.0)
    assert deliver(stack, "reviews-events") == 3
    capsys.readouterr()
    assert main(["reviews", "list", "--shop", SHOP_A.shop_id]) == 0
    listed = capsys.readouterr().out
    assert "csv:judgeme:3" in listed and " 4/5   stars " in listed, listed
    # An imported review has no source to post through: the reply is kept, marked unsupported.
    assert main(["reviews", "reply", "--shop", SHOP_A.shop_id, "--review", "csv:judgeme:2",
                 "--text", "So sorry, a new pair is on its way."]) == 1  # fmt: skip
    assert capsys.readouterr().out.startswith("unsupported")
    listed = cli_json(capsys, "reviews", "list", "--shop", SHOP_A.shop_id, "--json")
    replied = next(r for r in listed if r["item"]["source_id"] == "judgeme:2")
    assert replied["owner_reply"]["status"] == "unsupported"
    assert main(["reviews", "reply", "--shop", "shop-b", "--review", "csv:judgeme:2", "--text", "x"]) == 2


def push(shop_id: str, source: str, body: bytes, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from cxloop.local.gateway import api_event

    route = topology.function("reviews-webhooks").routes[0]
    request = Request(EnvironBuilder(path=f"/reviews/{shop_id}/{source}", method="POST", data=body,
                                     headers=headers, query_string=query).get_environ())  # fmt: skip
    event = api_event(request, route, {"shop_id": shop_id, "source": source})
    return Functions().invoke(topology.function("reviews-webhooks"), event)  # type: ignore[no-any-return]


def test_pushed_reviews_are_verified_then_stored_once(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.signatures import standard_headers

    stack, _ = cycle
    shop = SHOP_A.shop_id
    assert main(["reviews", "webhook", "--shop", shop]) == 0
    secret = capsys.readouterr().out.split("secret: ")[1].strip()
    body = json.dumps(
        {"reviews": [{"id": "9", "source": "judgeme", "text": "Runs small", "rating": 3}]}
    ).encode()
    ok = push(shop, "webhook", body, standard_headers(secret, "msg-1", body))
    assert (ok["statusCode"], json.loads(ok["body"])["new"]) == (200, 1)
    again = push(shop, "webhook", body, standard_headers(secret, "msg-2", body))
    assert json.loads(again["body"])["unchanged"] == 1
    wrong = "whsec_d3JvbmcgIGtleQ=="
    assert push(shop, "webhook", body, standard_headers(wrong, "msg-3", body))["statusCode"] == 401
    assert push("shop-b", "webhook", body, standard_headers(secret, "msg-4", body))["statusCode"] == 401
    bad = b'{"reviews": [{"id": "1"}]}'
    refused = push(shop, "webhook", bad, standard_headers(secret, "msg-5", bad))
    assert refused["statusCode"] == 400 and "source" in json.loads(refused["body"])["message"]
    # After a rotation the previous secret still works, once more than the new one is needed.
    assert main(["reviews", "webhook", "--shop", shop, "--rotate"]) == 0
    capsys.readouterr()
    assert push(shop, "webhook", body, standard_headers(secret, "msg-6", body))["statusCode"] == 200
    mentions = [e for e in stack.bus_events() if e["detail-type"] == events.MENTION_INGESTED]
    assert [e["detail"]["data"]["mention_id"] for e in mentions] == ["webhook:judgeme:9"]


def test_trustpilot_webhooks_need_the_token(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str], shared_dir: Any
) -> None:
    stack, _ = cycle
    shop = SHOP_A.shop_id
    assert main(["reviews", "webhook", "--shop", shop, "--trustpilot"]) == 0
    token = capsys.readouterr().out.split("token=")[1].strip()
    body = (shared_dir / "fixtures/reviews/trustpilot/webhook_service_review_created.json").read_bytes()
    assert push(shop, "trustpilot", body, {}, "token=nope")["statusCode"] == 401
    assert push(shop, "trustpilot", body, {})["statusCode"] == 401
    accepted = push(shop, "trustpilot", body, {}, f"token={token}")
    assert (accepted["statusCode"], json.loads(accepted["body"])["new"]) == (200, 1)
    mentions = [e for e in stack.bus_events() if e["detail-type"] == events.MENTION_INGESTED]
    assert len(mentions) == 1 and mentions[0]["detail"]["data"]["source"] == "trustpilot"


def test_an_erased_shop_loses_its_reviews_connections_and_credentials(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from shared.events import EventBridgePublisher

    stack, _ = cycle
    shop = SHOP_A.shop_id
    path = tmp_path / "r.csv"
    path.write_text("text\nGreat\nAwful\n", encoding="utf-8")
    assert main(["reviews", "import", str(path), "--shop", shop, "--source", "amazon"]) == 0
    assert main(["reviews", "connect", "yelp", "--shop", shop, "--set", "business=x", "--secret", "api_key=k",
                 "--no-check"]) == 0  # fmt: skip
    assert main(["reviews", "webhook", "--shop", shop]) == 0
    assert main(["reviews", "import", str(path), "--shop", SHOP_B.shop_id, "--source", "amazon"]) == 0
    capsys.readouterr()
    EventBridgePublisher(stack.admin.events, stack.resources.bus_name, "feedback").publish(
        events.SHOP_ERASED, shop, {"records_deleted": 0}, "erase-1"
    )
    assert deliver(stack, "reviews-events") == 1
    assert cli_json(capsys, "reviews", "list", "--shop", shop, "--json") == []
    assert cli_json(capsys, "reviews", "status", "--shop", shop, "--json") == []
    names = [s["Name"] for s in stack.admin.secretsmanager.list_secrets()["SecretList"]]
    assert not [n for n in names if n.startswith(f"cxloop/shops/{shop}/reviews/")]
    assert (
        len(cli_json(capsys, "reviews", "list", "--shop", SHOP_B.shop_id, "--json")) == 2
    )  # another shop's stay


def test_a_reply_the_owner_approved_in_the_notifier_is_kept_with_its_review(
    cycle: tuple[Stack, FakeSource], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from shared.events import EventBridgePublisher

    stack, _ = cycle
    path = tmp_path / "r.csv"
    path.write_text("id,text,rating\n7,Arrived broken,1\n", encoding="utf-8")
    assert main(["reviews", "import", str(path), "--shop", SHOP_A.shop_id, "--source", "judgeme",
                 "--id-column", "id", "--rating-column", "rating"]) == 0  # fmt: skip
    deliver(stack, "reviews-events")  # what the import itself set off
    notifier = EventBridgePublisher(stack.admin.events, stack.resources.bus_name, "notifier")
    request = {"mention_id": "csv:judgeme:7", "text": "So sorry: a new pair is on its way.", "case_id": "c"}
    stack.bus_events()
    notifier.publish(events.REVIEW_REPLY_REQUESTED, SHOP_A.shop_id, request, "approve-1")
    notifier.publish(events.REVIEW_REPLY_REQUESTED, SHOP_B.shop_id, request, "approve-2")  # not B's review
    assert deliver(stack, "reviews-events") == 2
    # What became of each goes back to the notifier, which counts a case replied only when posted.
    told = [e for e in stack.bus_events() if e["detail-type"] == events.REVIEW_REPLY_RESULT]
    results = {e["detail"]["shop_id"]: e["detail"]["data"]["status"] for e in told}
    assert results == {SHOP_A.shop_id: "unsupported", SHOP_B.shop_id: "failed"}
    first = cli_json(capsys, "reviews", "list", "--shop", SHOP_A.shop_id, "--json")
    notifier.publish(events.REVIEW_REPLY_REQUESTED, SHOP_A.shop_id, request, "approve-1")  # redelivered
    assert deliver(stack, "reviews-events") == 1
    assert (
        cli_json(capsys, "reviews", "list", "--shop", SHOP_A.shop_id, "--json") == first
    )  # not posted again
    listed = cli_json(capsys, "reviews", "list", "--shop", SHOP_A.shop_id, "--json")
    [review] = [r for r in listed if r["item"]["source_id"] == "judgeme:7"]
    assert review["owner_reply"]["text"] == "So sorry: a new pair is on its way."
    assert review["owner_reply"]["status"] == "unsupported"  # an import has no source to post through
