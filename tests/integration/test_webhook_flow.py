"""The intake and consumer handlers against moto: what a platform sees, and what gets stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cxloop.signing import webhook_headers
from services.feedback import bootstrap
from shared import signatures
from shared.settings import ConsumerSettings, IntakeSettings, load
from shared.tenancy import Platform
from tests.integration.conftest import SHOP_A, SHOP_B, Stack


def _status(response: dict) -> tuple[int, dict]:
    return response["statusCode"], json.loads(response["body"])


def _compliance_payloads(fixtures: Path, domain: str) -> dict:
    """The fixture's bodies, naming the shop they are sent for (the file has a placeholder)."""
    payloads = json.loads((fixtures / "shopify_compliance_payloads.json").read_text())
    return {topic: {**body, "shop_domain": domain} for topic, body in payloads.items()}


def _shopify_order(fixtures: Path) -> dict:
    return json.loads((fixtures / "shopify_order.json").read_text())["order"]


def test_accepted_order_is_stored_then_normalised(stack: Stack, webhook_fixtures: Path) -> None:
    order = _shopify_order(webhook_fixtures)
    status, body = _status(stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order, event_id="e-1"))
    assert (status, body["status"]) == (200, "accepted")
    raw = stack.admin.store.items("shop-a", "EVENT")
    assert len(raw) == 1 and "pending_pk" in raw[0]

    assert stack.drain() == 1
    stored = stack.admin.order("shop-a", Platform.SHOPIFY, "450789469")
    assert stored is not None
    assert stored.email == "bob.norman@hostmail.com"
    assert stored.total == "409.94"
    assert [f.fulfilment_id for f in stored.fulfilments] == ["255858046"]
    assert "pending_pk" not in stack.admin.store.items("shop-a", "EVENT")[0]


def test_duplicate_delivery_is_acknowledged_and_not_queued(stack: Stack, webhook_fixtures: Path) -> None:
    order = _shopify_order(webhook_fixtures)
    first = _status(stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order, event_id="same"))
    second = _status(stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order, event_id="same"))
    assert first[1]["status"] == "accepted"
    assert second == (200, {"status": "duplicate"})
    assert stack.drain() == 1


def test_bad_input_answers(stack: Stack) -> None:
    body = b'{"id": 1'
    good = webhook_headers(
        Platform.SHOPIFY, "orders/create", body, stack.secrets["shop-a"], SHOP_A.domain_for(Platform.SHOPIFY)
    )
    status, payload = _status(stack.post("shopify", "shop-a", body, good))
    assert status == 400 and "not valid JSON" in payload["message"]

    forged = dict(good, **{"X-Shopify-Hmac-Sha256": signatures.shopify_signature("wrong-secret", body)})
    assert _status(stack.post("shopify", "shop-a", body, forged))[0] == 401

    assert _status(stack.post("shopify", "no-such-shop", body, good))[0] == 404
    assert _status(stack.post("bigcommerce", "shop-a", body, good))[0] == 404  # shop-a has no BigCommerce

    # Nested past any real payload (and past the parser's stack): a defect (400), not a "retry" (503).
    for depth in (65, 5000):
        deep = b'{"a": ' * depth + b"1" + b"}" * depth
        signed = webhook_headers(
            Platform.SHOPIFY,
            "orders/create",
            deep,
            stack.secrets["shop-a"],
            SHOP_A.domain_for(Platform.SHOPIFY),
        )
        status, payload = _status(stack.post("shopify", "shop-a", deep, signed))
        assert status == 400 and "nests deeper than 64 levels" in payload["message"], (depth, payload)

    huge = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    assert _status(stack.post("shopify", "shop-a", huge, good))[0] == 413

    unknown = webhook_headers(
        Platform.SHOPIFY,
        "products/update",
        b"{}",
        stack.secrets["shop-a"],
        SHOP_A.domain_for(Platform.SHOPIFY),
    )
    assert _status(stack.post("shopify", "shop-a", b"{}", unknown)) == (200, {"status": "ignored"})
    assert stack.admin.store.items("shop-a", "EVENT") == []


def test_woocommerce_ping_gets_exactly_200(stack: Stack) -> None:
    response = stack.post(
        "woocommerce", "shop-a", b"webhook_id=42", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response["statusCode"] == 200
    assert stack.admin.store.items("shop-a", "EVENT") == []


def test_header_names_are_case_insensitive(stack: Stack, webhook_fixtures: Path) -> None:
    body = json.dumps(_shopify_order(webhook_fixtures)).encode()
    headers = webhook_headers(
        Platform.SHOPIFY, "orders/create", body, stack.secrets["shop-a"], SHOP_A.domain_for(Platform.SHOPIFY)
    )
    shouted = {k.upper(): v for k, v in headers.items()}
    assert _status(stack.post("shopify", "shop-a", body, shouted))[1]["status"] == "accepted"


def test_tenant_isolation(stack: Stack, webhook_fixtures: Path) -> None:
    order = _shopify_order(webhook_fixtures)
    # Shop A's secret cannot post as shop B, even naming B's domain.
    status, _ = _status(
        stack.signed(Platform.SHOPIFY, SHOP_B, "orders/create", order, secret=stack.secrets["shop-a"])
    )
    assert status == 401
    assert stack.admin.store.items("shop-b", "") == []
    # Shop A's own order is stored under A only; nothing of it is readable as B.
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)
    stack.drain()
    assert stack.admin.order("shop-a", Platform.SHOPIFY, "450789469") is not None
    assert stack.admin.order("shop-b", Platform.SHOPIFY, "450789469") is None


def test_failing_record_is_retried_then_dead_lettered_and_replayable(stack: Stack) -> None:
    url = stack.resources.queue_urls["feedback-events"]
    stack.sqs.send_message(QueueUrl=url, MessageBody='{"not": "a queued event"}')
    good = {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "email": "x@example.com"}
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", good)
    stack.drain()
    # The good one is processed although it shared a batch with the bad one (partial batch failure).
    assert stack.admin.order("shop-a", Platform.SHOPIFY, "1") is not None
    dead = stack.admin.dlq_list()
    assert len(dead) == 1
    assert int(dead[0]["receive_count"]) >= 5
    assert stack.admin.dlq_replay() == 1
    assert stack.admin.dlq_list() == []
    assert (
        int(
            stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 1
    )


def test_compliance_redact_erases_and_late_events_stay_anonymous(
    stack: Stack, webhook_fixtures: Path
) -> None:
    order = _shopify_order(webhook_fixtures)
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)
    stack.drain()
    compliance = _compliance_payloads(webhook_fixtures, SHOP_A.domain_for(Platform.SHOPIFY))
    # The fixture names another customer; a real request names the one who ordered.
    who = {"id": 207119551, "email": "bob.norman@hostmail.com", "phone": None}
    redact = dict(compliance["customers/redact"], customer=who, orders_to_redact=[450789469])
    assert _status(stack.signed(Platform.SHOPIFY, SHOP_A, "customers/redact", redact))[0] == 200
    stack.drain()
    erased = stack.admin.order("shop-a", Platform.SHOPIFY, "450789469")
    assert erased is not None and erased.email is None and erased.first_name is None
    assert stack.admin.store.items("shop-a", "CUSTOMER") == []
    assert any(e["detail-type"] == "CustomerErased" for e in stack.bus_events())

    # Shopify retries an older update of the same order afterwards: stored without personal data.
    late = dict(order, updated_at="2030-01-01T00:00:00Z")
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/updated", late)
    stack.drain()
    again = stack.admin.order("shop-a", Platform.SHOPIFY, "450789469")
    assert again is not None and again.email is None
    assert not any(
        "body" in e for e in stack.admin.store.items("shop-a", "EVENT") if e["topic"] == "orders/updated"
    )


def test_compliance_bad_signature_is_401(stack: Stack, webhook_fixtures: Path) -> None:
    compliance = _compliance_payloads(webhook_fixtures, SHOP_A.domain_for(Platform.SHOPIFY))
    response = stack.signed(
        Platform.SHOPIFY, SHOP_A, "shop/redact", compliance["shop/redact"], secret="x" * 32
    )
    assert response["statusCode"] == 401
    assert stack.admin.shops.get("shop-a") is not None


def test_shop_redact_erases_the_shop(stack: Stack, webhook_fixtures: Path) -> None:
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", _shopify_order(webhook_fixtures))
    stack.drain()
    compliance = _compliance_payloads(webhook_fixtures, SHOP_A.domain_for(Platform.SHOPIFY))
    stack.signed(Platform.SHOPIFY, SHOP_A, "shop/redact", compliance["shop/redact"])
    stack.drain()
    assert stack.admin.shops.get("shop-a") is None
    assert [i["sk"] for i in stack.admin.store.items("shop-a", "")] == ["TOMBSTONE#SHOP"]
    assert stack.admin.secrets.get("shop-a") is None
    assert stack.admin.shops.get("shop-b") is not None  # the other tenant is untouched
    # A warm intake (its shop cache still knows A) refuses a late delivery at once: never a 200 for an
    # event that is then dropped, and nothing is left behind.
    order = {"id": 2, "updated_at": "2026-01-01T00:00:00Z", "email": "late@example.com"}
    late = stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)
    assert late["statusCode"] == 404 and "erased" in json.loads(late["body"])["message"]
    stack.drain()
    assert [i["sk"] for i in stack.admin.store.items("shop-a", "")] == ["TOMBSTONE#SHOP"]
    # A cold intake finds no shop at all; the other tenant still works.
    bootstrap.intake.use(bootstrap.build_intake(load(IntakeSettings)))
    assert stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)["statusCode"] == 404
    assert stack.signed(Platform.SHOPIFY, SHOP_B, "orders/create", order)["statusCode"] == 200


def test_data_request_stores_an_export(stack: Stack, webhook_fixtures: Path) -> None:
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", _shopify_order(webhook_fixtures))
    stack.drain()
    compliance = _compliance_payloads(webhook_fixtures, SHOP_A.domain_for(Platform.SHOPIFY))
    request = dict(
        compliance["customers/data_request"], customer={"id": 207119551, "email": "bob.norman@hostmail.com"}
    )
    stack.signed(Platform.SHOPIFY, SHOP_A, "customers/data_request", request)
    stack.drain()
    exports = stack.admin.exports("shop-a")
    assert [e["request_id"] for e in exports] == ["9999"]
    orders = exports[0]["document"]["orders"]
    assert any(o.get("email") == "bob.norman@hostmail.com" for o in orders)


def test_sweeper_requeues_an_event_whose_send_was_lost(stack: Stack, webhook_fixtures: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cxloop.local.runtime import Functions
    from services.feedback.domain.model import StoredEvent
    from shared import topology

    order = _shopify_order(webhook_fixtures)
    lost = StoredEvent(
        shop_id="shop-a",
        platform=Platform.SHOPIFY,
        topic="orders/create",
        dedupe_key="lost-1",
        resource="order#450789469",
        triggered_at=datetime.now(tz=UTC) - timedelta(hours=1),
        received_at=datetime.now(tz=UTC) - timedelta(hours=1),
        body=json.dumps(order).encode(),
    )
    # Stored, but the process died before SendMessage: nothing is queued.
    stack.admin.store.put_new(lost, datetime.now(tz=UTC) + timedelta(days=30))
    assert stack.drain() == 0
    result = Functions().invoke(topology.function("feedback-sweeper"), {"detail-type": "Scheduled Event"})
    assert result == {"requeued": 1, "answers_republished": 0}
    assert stack.drain() == 1
    assert stack.admin.order("shop-a", Platform.SHOPIFY, "450789469") is not None
    # Processed now: the next sweep finds nothing.
    assert Functions().invoke(topology.function("feedback-sweeper"), {}) == {
        "requeued": 0,
        "answers_republished": 0,
    }


def test_a_failing_queue_keeps_the_event_for_the_sweeper(
    stack: Stack, webhook_fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from cxloop.local.runtime import Functions
    from services.feedback.adapters.sqs_queue import SqsEventQueue
    from shared import topology

    healthy = bootstrap.intake()
    broken = SqsEventQueue(stack.sqs, stack.resources.queue_urls["feedback-events"] + "-gone")
    bootstrap.intake.use(replace(healthy, deps=replace(healthy.deps, queue=broken)))
    order = _shopify_order(webhook_fixtures)
    response = stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order, event_id="retry-me")
    assert json.loads(response["body"]) == {"status": "deferred"}  # stored: WooCommerce would not retry
    (raw,) = stack.admin.store.items("shop-a", "EVENT")
    assert "pending_pk" in raw
    bootstrap.intake.use(healthy)
    assert stack.drain() == 0
    # Overdue by the sweeper's measure (1 s here instead of 15 min): queued, then processed.
    monkeypatch.setenv("CXLOOP_REQUEUE_AFTER_SECONDS", "1")
    bootstrap.consumer.use(bootstrap.build_consumer(load(ConsumerSettings)))
    time.sleep(1.2)
    assert Functions().invoke(topology.function("feedback-sweeper"), {}) == {
        "requeued": 1,
        "answers_republished": 0,
    }
    assert stack.drain() == 1
    assert stack.admin.order("shop-a", Platform.SHOPIFY, "450789469") is not None


def test_a_signed_order_body_relabelled_as_an_erasure_is_refused(
    stack: Stack, webhook_fixtures: Path
) -> None:
    """Shopify signs the body, not the topic header: an order body cannot pass for shop/redact."""
    order = _shopify_order(webhook_fixtures)
    stack.signed(Platform.SHOPIFY, SHOP_A, "orders/create", order)
    stack.drain()
    for topic in ("shop/redact", "customers/redact", "customers/data_request"):
        response = stack.signed(Platform.SHOPIFY, SHOP_A, topic, order)
        assert response["statusCode"] == 400, topic
    # A well-formed request naming another shop is refused too.
    other = _compliance_payloads(webhook_fixtures, "someone-else.myshopify.com")["shop/redact"]
    assert stack.signed(Platform.SHOPIFY, SHOP_A, "shop/redact", other)["statusCode"] == 401
    stack.drain()
    assert stack.admin.shops.get("shop-a") is not None
    assert stack.admin.order("shop-a", Platform.SHOPIFY, "450789469") is not None


def test_a_delivery_without_its_shop_domain_is_refused(stack: Stack, webhook_fixtures: Path) -> None:
    body = json.dumps(_shopify_order(webhook_fixtures)).encode()
    headers = webhook_headers(Platform.SHOPIFY, "orders/create", body, stack.secrets["shop-a"], "")
    headers.pop("X-Shopify-Shop-Domain")
    assert stack.post("shopify", "shop-a", body, headers)["statusCode"] == 401


def test_replaying_one_dead_letter_leaves_the_others_in_sight(stack: Stack) -> None:
    """Issue 15: `dlq replay --id` held the rest of its batch out of sight for a minute."""
    dlq = stack.resources.dlq_urls["feedback-events"]
    for n in range(5):
        stack.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"dead": n}))
    listed = stack.admin.dlq_list()
    assert len(listed) == 5
    chosen = listed[0]["message_id"]
    assert stack.admin.dlq_replay(message_id=chosen) == 1
    left = {m["message_id"] for m in stack.admin.dlq_list()}
    assert len(left) == 4 and chosen not in left
