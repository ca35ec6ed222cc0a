"""The scoring consumer on moto: events published on the bus reach its queue through the topology's
rule, are scored in one batch with each shop's taxonomy, and FeedbackScored goes back on the bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cxloop.local.pump import Pump
from cxloop.local.runtime import Functions
from services.feedback import bootstrap as feedback_bootstrap
from services.feedback.adapters.dynamo_surveys import DynamoSurveyStore
from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.invitations import Invitation, Status
from services.feedback.domain.surveys.programme import SurveyType
from services.scoring import bootstrap as scoring_bootstrap
from services.scoring.adapters.dynamo_taxonomies import DynamoTaxonomyStore
from services.scoring.domain.taxonomy import RESTAURANT
from shared import events, topology
from shared.events import EventBridgePublisher
from shared.settings import ScoringSettings, SurveySettings, load
from tests.integration.conftest import SHOP_A, SHOP_B, Stack

WHEN = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def scoring_stack(stack: Stack) -> Stack:
    scoring_bootstrap.scoring.use(scoring_bootstrap.build_scoring(load(ScoringSettings)))
    feedback_bootstrap.surveys.use(feedback_bootstrap.build_surveys(load(SurveySettings)))
    return stack


def publish(stack: Stack, detail_type: str, shop_id: str, data: dict[str, Any]) -> None:
    publisher = EventBridgePublisher(stack.admin.events, stack.resources.bus_name, "feedback")
    publisher.publish(detail_type, shop_id, data, correlation_id=f"corr-{shop_id}")


def answer(invite_id: str, comment: str | None, score: int = 2, revision: int = 1) -> dict[str, Any]:
    return events.ResponseRecorded(
        invite_id=invite_id, revision=revision, survey_type="nps", score=score, answered_at=WHEN,
        comment=comment, order_id=f"o-{invite_id}", platform="shopify", email="pat@example.net",
    ).model_dump(mode="json")  # fmt: skip


def deliver(stack: Stack, function: str = "scoring-consumer") -> int:
    pump = Pump(Functions(), stack.sqs, stack.resources, retry_delay_s=0)
    fn = topology.function(function)
    assert fn.queue is not None
    queue = topology.queue(fn.queue.queue)
    url = stack.resources.queue_urls[queue.logical]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    total = 0
    while n := pump.deliver_once(fn, queue, url, arn):
        total += n
    return total


def scored(stack: Stack) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.bus_events() if e["detail-type"] == events.FEEDBACK_SCORED]


def test_comments_and_mentions_are_scored_with_each_shops_taxonomy(scoring_stack: Stack) -> None:
    stack = scoring_stack
    DynamoTaxonomyStore(stack.admin.dynamodb, stack.resources.tables["shops"]).put(SHOP_B.shop_id, RESTAURANT)
    publish(
        stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-1", "Fast delivery but the seams ripped")
    )
    publish(stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-2", None, score=10))
    mention = events.MentionIngested(
        mention_id="yelp:abc",
        source="yelp",
        text="The pasta was delicious but the waiter was rude.",
        rating=3,
    )
    publish(stack, events.MENTION_INGESTED, SHOP_B.shop_id, mention.model_dump(mode="json"))
    stack.bus_events()  # the inputs themselves, seen by the tap

    assert deliver(stack) == 3
    out = {e["data"]["key"]: e for e in scored(stack)}
    assert set(out) == {"inv-1#1", "yelp:abc#1"}  # a score without a comment has nothing to read
    response = out["inv-1#1"]
    assert response["shop_id"] == SHOP_A.shop_id
    assert response["correlation_id"] == "corr-shop-a"
    data = response["data"]
    assert (data["subject"], data["subject_id"], data["revision"]) == ("response", "inv-1", 1)
    assert (data["survey_type"], data["score"], data["order_id"]) == ("nps", 2, "o-inv-1")
    assert data["taxonomy"] == "ecommerce"
    assert {t["theme"]: t["sentiment"] for t in data["themes"]} == {
        "delivery_shipping": "positive",
        "product_quality": "negative",
    }
    assert "pat@example.net" not in json.dumps(response)
    review = out["yelp:abc#1"]
    assert review["shop_id"] == SHOP_B.shop_id
    assert review["data"]["taxonomy"] == "restaurant"
    assert {"food", "service"} <= {t["theme"] for t in review["data"]["themes"]}
    assert (review["data"]["source"], review["data"]["rating"]) == ("yelp", 3.0)


def test_an_unreadable_message_fails_alone_and_reaches_the_dead_letter_queue(scoring_stack: Stack) -> None:
    stack = scoring_stack
    url = stack.resources.queue_urls["scoring-events"]
    stack.sqs.send_message(QueueUrl=url, MessageBody="{not an event")
    publish(stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-3", "Great, thanks!", score=10))
    stack.bus_events()
    deliver(stack)
    assert [e["data"]["key"] for e in scored(stack)] == ["inv-3#1"]
    dead = stack.sqs.receive_message(
        QueueUrl=stack.resources.dlq_urls["scoring-events"], MaxNumberOfMessages=10
    )
    assert [m["Body"] for m in dead.get("Messages", [])] == ["{not an event"]


def test_a_duplicate_delivery_gives_the_same_reading(scoring_stack: Stack) -> None:
    stack = scoring_stack
    for _ in range(2):
        publish(
            stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-4", "Arrived broken, want a refund")
        )
    stack.bus_events()
    deliver(stack)
    readings = [e["data"] for e in scored(stack)]
    assert len(readings) == 2
    assert readings[0]["key"] == readings[1]["key"] == "inv-4#1"
    assert readings[0]["sentiment"] == readings[1]["sentiment"]
    assert readings[0]["sentiment"]["label"] == "negative"


def test_the_reading_is_kept_on_the_answered_invitation(scoring_stack: Stack) -> None:
    """ResponseRecorded → scoring → FeedbackScored → the feedback service's invitation, over the bus."""
    stack = scoring_stack
    surveys = DynamoSurveyStore(stack.admin.dynamodb, stack.resources.tables["feedback"])
    planted = Invitation(
        shop_id=SHOP_A.shop_id, invite_id="inv-9", order_sk="ORDER#shopify#9", survey_type=SurveyType.NPS,
        status=Status.SENT, score=1, comment="Never arrived and nobody answers my emails", revision=1,
        version=2,
    )  # fmt: skip
    assert surveys.write(planted, None) is Written.OK
    publish(stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-9", planted.comment, score=1))
    assert deliver(stack) == 1
    assert deliver(stack, "feedback-readings") == 1
    kept = surveys.invitation(SHOP_A.shop_id, "inv-9")
    assert kept is not None and kept.reading is not None
    assert kept.reading.revision == 1
    assert kept.reading.sentiment is not None and kept.reading.sentiment.label == "negative"
    assert {"delivery_shipping", "communication"} <= {t.theme for t in kept.reading.themes}
    assert (kept.comment, kept.version) == (planted.comment, 3)
    # Scored again (a redelivery): nothing changes.
    publish(stack, events.RESPONSE_RECORDED, SHOP_A.shop_id, answer("inv-9", planted.comment, score=1))
    deliver(stack)
    deliver(stack, "feedback-readings")
    again = surveys.invitation(SHOP_A.shop_id, "inv-9")
    assert again is not None and again.version == 3
