"""Per-field tolerance on moto, intake → queue → consumer (issue 15, item 4; decision 70): a bad
optional field still records the order; an event that names no fulfilment is dead-lettered after one
receive with its reason, which `cxloop dlq list` shows, and a replay does not loop."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.tenancy import Platform
from tests.integration.conftest import SHOP_A, Stack

pytestmark = pytest.mark.integration


def test_a_bad_quantity_still_records_the_order(stack: Stack, webhook_fixtures: Path) -> None:
    order = json.loads((webhook_fixtures / "shopify_order.json").read_text())["order"]
    order["line_items"][0]["quantity"] = "two"
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)
    assert stack.drain() == 1
    recorded = stack.admin.order("shop-a", Platform.SHOPIFY, "450789469")
    assert recorded is not None and recorded.email == order["email"]
    assert recorded.line_items[0]["quantity"] is None
    assert [w["field"] for w in recorded.warnings] == ["line_items[0].quantity"]
    assert stack.admin.dlq_list() == []


def test_a_missing_identity_is_dead_lettered_after_one_receive(stack: Stack) -> None:
    # Accepted at the intake (it names its order); the fulfilment itself has no id to be stored under.
    fulfilment = {"order_id": 450789469, "status": "success", "updated_at": "2026-01-01T00:00:00Z"}
    assert stack.signed(Platform.SHOPIFY, SHOP_A, "fulfillments/create", fulfilment)["statusCode"] == 200
    assert stack.drain() == 1  # one delivery: acknowledged, not retried
    [dead] = stack.admin.dlq_list()
    assert dead["reason"] == "fulfillment: field 'id' is missing"
    assert dead["receive_count"] == "1"  # received once, by the listing itself
    assert (dead["shop_id"], dead["topic"]) == ("shop-a", "fulfillments/create")
    # The sweeper will not send it again: it is no longer pending.
    assert stack.admin.store.pending(older_than=datetime(2100, 1, 1, tzinfo=UTC), limit=10) == []
    # A replay fails the same way, once: it is back in the dead-letter queue with its reason.
    assert stack.admin.dlq_replay() == 1
    assert stack.drain() == 1
    [again] = stack.admin.dlq_list()
    assert again["reason"] == dead["reason"]


class _ConsumerAtOnce:
    """The SQS client, with a consumer that dead-letters at once whatever is replayed to the queue."""

    def __init__(self, sqs: Any, dlq_url: str) -> None:
        self._sqs, self._dlq = sqs, dlq_url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message(self, **kwargs: Any) -> Any:
        return self._sqs.send_message(QueueUrl=self._dlq, MessageBody=kwargs["MessageBody"])


def test_a_replay_moves_each_dead_letter_once_and_ends(stack: Stack) -> None:
    dlq = stack.resources.dlq_urls["feedback-events"]
    stack.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"defect": 1}))
    admin = dataclasses.replace(stack.admin, sqs=_ConsumerAtOnce(stack.sqs, dlq))
    assert admin.dlq_replay() == 1  # before: it kept finding the message it had just moved, forever
    assert len(stack.admin.dlq_list()) == 1
