"""The notifier on moto (in-process), with real SMTP to a local sink and real HTTP to a local
Slack-compatible server: rules → cases → batched alerts → paced delivery, the closed-loop reply with
its approve link, unsubscribes, broken destinations, churn crossings, erasure."""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cxloop.local.gateway import api_event
from cxloop.local.runtime import Functions
from cxloop.local.sinks import SmtpSink, read_inbox
from cxloop.resources import Resources, provision_link_keys
from services.notifier import bootstrap
from services.notifier.domain.model import (
    AlertSettings,
    CaseStatus,
    Delivery,
    Destination,
    DestinationKind,
    ReplyMode,
    ReplyState,
    Rule,
    RuleKind,
    default_rules,
)
from services.notifier.domain.replies import approve
from services.notifier.handlers import daily, sender
from services.notifier.handlers.events import handle
from shared import events, topology
from shared.credentials import NOTIFIER, SecretsManagerCredentials
from shared.dynamo_shops import DynamoShopDirectory
from shared.settings import NotifierSettings as Config
from shared.settings import load
from shared.tenancy import Platform, Shop
from tests.integration.conftest import Moto
from tests.slack_server import SlackServer

T0 = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)  # a Monday
SHOP = Shop(
    shop_id="shop-a", name="Acme Socks", platforms=(Platform.SHOPIFY,), owner_email="owner@acme.example"
)
OTHER = Shop(shop_id="shop-b", name="Other", platforms=(Platform.SHOPIFY,), owner_email="boss@other.example")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    built: bootstrap.Notifier
    resources: Resources
    sqs: Any
    inbox_dir: Path
    slack: SlackServer

    def hear(self, detail_type: str, data: dict[str, Any], now: datetime = T0, shop: Shop = SHOP) -> str:
        envelope = events.Envelope(name=detail_type, shop_id=shop.shop_id, data=data)
        return handle(detail_type, envelope, now)

    def configure(self, shop: Shop = SHOP, slack_hook: str | None = "alerts", **changes: Any) -> None:
        destinations = [Destination(name="team", kind=DestinationKind.EMAIL, address="team@acme.example")]
        if slack_hook:
            destinations.append(Destination(name="slack", kind=DestinationKind.SLACK))
            SecretsManagerCredentials(self.built.client("secretsmanager"), "cxloop", area=NOTIFIER).put(
                shop.shop_id, "slack", {"slack": self.slack.hook_url(slack_hook)}
            )
        settings = AlertSettings(destinations=tuple(destinations), **changes)
        self.built.settings.put(shop.shop_id, settings)

    def send(self, now: datetime) -> dict[str, Any]:
        return sender.run(now)

    def inbox(self) -> list[EmailMessage]:
        return [m for _, m in read_inbox(self.inbox_dir)]

    def slack_messages(self, hook: str = "alerts") -> list[dict[str, Any]]:
        return [m["payload"] for m in self.slack.sink.messages() if m["hook"] == hook]

    def bus(self) -> list[dict[str, Any]]:
        found = []
        url = self.resources.tap_queue_url
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in batch:
                found.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return found

    def page(self, url: str, method: str = "GET", form: dict[str, str] | None = None) -> dict[str, Any]:
        path = urllib.parse.urlparse(url).path
        data = urllib.parse.urlencode(form or {})
        builder = EnvironBuilder(
            path=path, method=method, data=data, content_type="application/x-www-form-urlencoded"
        )
        event = api_event(Request(builder.get_environ()), topology.Route(method, "/n/{token}"), {})
        return Functions().invoke(topology.function("notifier-actions"), event)  # type: ignore[no-any-return]


@pytest.fixture
def world(aws: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer) -> Iterator[World]:
    port = free_port()
    smtp = SmtpSink(tmp_path / "mail", port=port)
    smtp.start()
    clients, resources = aws.clients, aws.resources
    provision_link_keys(clients["secretsmanager"])
    for key, value in resources.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(topology.ENV_MAIL_TRANSPORT, "smtp")
    monkeypatch.setenv(topology.ENV_SMTP_PORT, str(port))
    monkeypatch.setenv(topology.ENV_PUBLIC_URL, "http://127.0.0.1:8080")
    shops = DynamoShopDirectory(clients["dynamodb"], resources.tables["shops"])
    shops.put(SHOP)
    shops.put(OTHER)
    built = bootstrap.build_notifier(load(Config))
    bootstrap.notifier.use(built)
    try:
        yield World(built, resources, clients["sqs"], tmp_path / "mail", slack)
    finally:
        bootstrap.notifier.use(None)
        smtp.stop()


def answer(
    invite: str, score: int, *, survey_type: str = "nps", revision: int = 1, **extra: Any
) -> dict[str, Any]:
    data = {
        "invite_id": invite,
        "revision": revision,
        "survey_type": survey_type,
        "score": score,
        "answered_at": T0.isoformat(),
        "order_id": f"o-{invite}",
        "order_name": f"#{invite[-4:]}",
        "platform": "shopify",
        "customer_key": f"email:{invite}",
        "email": f"{invite}@customer.example",
        "first_name": "Ana",
    }
    return data | extra


def scored_mention(mention_id: str, rating: float | None, label: str = "negative", confidence: float = 0.9,
                   themes: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "subject": "mention",
        "subject_id": mention_id,
        "revision": 1,
        "key": f"{mention_id}#1",
        "sentiment": {
            "label": label,
            "score": -0.8 if label == "negative" else 0.8,
            "confidence": confidence,
        },
        "themes": themes or [],
        "language": "en",
        "taxonomy": "ecommerce",
        "model_version": "test",
        "scored_at": T0.isoformat(),
        "source": "trustpilot",
        "rating": rating,
        "url": "https://www.trustpilot.com/reviews/abc",
        "excerpt": "The socks fell apart after one wash. I want a refund.",
    }


def test_a_detractor_opens_one_case_and_one_alert_in_the_hour_however_often_it_comes(world: World) -> None:
    world.configure()
    for _ in range(3):  # Shopify-style duplicates of the same answer
        world.hear(events.RESPONSE_RECORDED, answer("inv-0001", 3, comment="Arrived late and torn"))
    cases = world.built.store.cases(SHOP.shop_id)
    assert [c.case_id for c in cases] == ["response:inv-0001"]
    case = cases[0]
    assert (case.status, case.reply_state, case.score, case.first_name) == (
        CaseStatus.OPEN, ReplyState.AWAITING_APPROVAL, 3, "Ana",
    )  # fmt: skip
    assert case.target_at == T0 + timedelta(hours=24)

    assert world.send(T0 + timedelta(minutes=5))["messages"] == 0  # hourly: not before the hour ends
    report = world.send(T0 + timedelta(hours=1))
    assert report["messages"] == 2 and report["alerts"] == 2  # Slack and the team's e-mail, one each
    [message] = world.slack_messages()
    assert "1 detractor" in message["text"]
    text = json.dumps(message["blocks"])
    assert "NPS 3 from Ana (order #0001)" in text and "Arrived late and torn" in text
    assert "Approve reply" in text and "http://127.0.0.1:8080/n/" in text
    [mail] = [m for m in world.inbox() if m["To"] == "team@acme.example"]
    assert "NPS 3 from Ana" in mail.get_body(("plain",)).get_content()
    assert world.send(T0 + timedelta(hours=2))["messages"] == 0  # sent batches are not sent again


def test_a_bad_hour_is_one_message_per_destination_with_every_alert_counted(world: World) -> None:
    world.configure()
    for i in range(40):
        world.hear(
            events.RESPONSE_RECORDED, answer(f"inv-{i:04d}", i % 7), now=T0 + timedelta(seconds=10 * i)
        )
    world.send(T0 + timedelta(hours=1))
    [message] = world.slack_messages()
    assert message["text"].startswith("40 detractors")
    assert "and 30 more" in json.dumps(message["blocks"])
    assert len(world.built.store.cases(SHOP.shop_id)) == 40


def test_a_promoter_and_another_shops_detractor_do_not_alert_this_shop(world: World) -> None:
    world.configure()
    world.configure(OTHER, slack_hook="other")
    world.hear(events.RESPONSE_RECORDED, answer("inv-0002", 10))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0003", 1), shop=OTHER)
    world.send(T0 + timedelta(hours=1))
    assert world.slack_messages("alerts") == []
    assert len(world.slack_messages("other")) == 1
    assert world.built.store.cases(SHOP.shop_id) == []


def test_a_negative_review_alerts_at_once_and_its_approved_reply_goes_to_the_reviews_service(
    world: World,
) -> None:
    world.configure()
    world.bus()
    world.hear(events.FEEDBACK_SCORED, scored_mention("trustpilot:r1", 1.0))
    assert world.send(T0 + timedelta(seconds=30))["messages"] == 0  # its minute is not over
    world.send(T0 + timedelta(minutes=1))
    [message] = world.slack_messages()
    blocks = json.dumps(message["blocks"])
    assert "trustpilot" in blocks and "refund" in blocks
    [case] = world.built.store.cases(SHOP.shop_id)
    assert case.subject == "mention" and case.reply_state is ReplyState.AWAITING_APPROVAL
    link = next(e["url"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e.get("text", {}).get("text") == "Approve reply")  # fmt: skip
    page = world.page(link)
    assert page["statusCode"] == 200 and "Post reply" in page["body"]
    done = world.page(link, "POST", {"action": "send", "text": "Sorry about the socks: write to us."})
    assert done["statusCode"] == 200
    requested = [e for e in world.bus() if e["detail-type"] == events.REVIEW_REPLY_REQUESTED]
    assert [e["detail"]["data"]["text"] for e in requested] == ["Sorry about the socks: write to us."]
    handed = world.built.store.case(SHOP.shop_id, case.case_id)
    assert handed is not None and handed.reply_state is ReplyState.REQUESTED
    assert handed.status is CaseStatus.OPEN and handed.first_reply_at is None  # not posted yet
    posted = {"mention_id": "trustpilot:r1", "case_id": case.case_id, "status": "posted"}
    world.hear(events.REVIEW_REPLY_RESULT, posted, now=T0 + timedelta(minutes=2))
    after = world.built.store.case(SHOP.shop_id, case.case_id)
    assert after is not None and after.status is CaseStatus.REPLIED and after.reply_state is ReplyState.POSTED
    assert after.first_reply_at == T0 + timedelta(minutes=2)  # when the site took it


@pytest.mark.parametrize(("status", "by_hand"), [("failed", False), ("unsupported", True)])
def test_a_public_reply_the_site_did_not_take_is_the_owners_again_and_not_counted(
    world: World, status: str, by_hand: bool
) -> None:
    world.configure(slack_hook=None)
    world.hear(events.FEEDBACK_SCORED, scored_mention("trustpilot:r3", 1.0))
    case_id = "mention:trustpilot:r3"
    approve(world.built.reply_deps(), SHOP.shop_id, case_id, T0, "We are sorry.")
    result = {"mention_id": "trustpilot:r3", "case_id": case_id, "status": status, "detail": "401 token"}
    world.hear(events.REVIEW_REPLY_RESULT, result)
    world.hear(events.REVIEW_REPLY_RESULT, result)  # redelivered: told once
    case = world.built.store.case(SHOP.shop_id, case_id)
    assert case is not None and case.reply_state is ReplyState.AWAITING_APPROVAL
    assert case.status is CaseStatus.OPEN and case.first_reply_at is None
    assert case.reply_text == "We are sorry." and case.by_hand is by_hand
    assert [e.what for e in case.history][-1] == f"reply_{status}"
    assert [e.what for e in case.history].count(f"reply_{status}") == 1


def test_the_approve_link_shows_the_draft_and_a_post_sends_it_once_with_the_owner_as_reply_to(
    world: World,
) -> None:
    world.configure(slack_hook=None)
    brand = {"brand_name": "Acme", "brand_sender": "hello@acme.example"}  # the survey's, as it came
    world.hear(events.RESPONSE_RECORDED, answer("inv-0004", 2, comment="The heel tore on day one.") | brand)
    world.hear(
        events.FEEDBACK_SCORED,
        {
            "subject": "response", "subject_id": "inv-0004", "revision": 1, "key": "inv-0004#1",
            "sentiment": {"label": "negative", "score": -0.9, "confidence": 0.95},
            "themes": [{"theme": "product_quality", "sentiment": "negative", "score": -0.9}],
            "language": "en", "taxonomy": "ecommerce", "model_version": "t", "scored_at": T0.isoformat(),
        },
    )  # fmt: skip
    link = world.built.approve_link(SHOP.shop_id, "response:inv-0004")
    assert link is not None
    page = world.page(link)
    assert (
        "Hi Ana" in page["body"]
        and "#0004" in page["body"]
        and "the quality of what you received" in page["body"]
    )
    assert world.page(link + "x")["statusCode"] == 404  # a tampered token
    sent = world.page(link, "POST", {"action": "send", "text": "Hi Ana,\n\nA new pair is on its way.\n\nMia"})
    assert sent["statusCode"] == 200 and "Sent" in sent["body"]
    again = world.page(link, "POST", {"action": "send", "text": "twice?"})
    assert again["statusCode"] == 409
    replies = [m for m in world.inbox() if m["To"] == "inv-0004@customer.example"]
    assert len(replies) == 1
    assert replies[0]["Reply-To"] == "owner@acme.example"
    assert replies[0]["From"] == "Acme <hello@acme.example>"  # the survey's sender, not the alerts'
    assert "A new pair is on its way." in replies[0].get_body(("plain",)).get_content()
    case = world.built.store.case(SHOP.shop_id, "response:inv-0004")
    assert case is not None and case.reply_state is ReplyState.SENT and case.status is CaseStatus.REPLIED
    assert [e.what for e in case.history] == ["opened", "approved", "reply_sent"]


def test_an_automatic_reply_waits_its_hold_and_never_reaches_an_unsubscribed_customer(world: World) -> None:
    world.configure(slack_hook=None, reply_mode=ReplyMode.AUTOMATIC, reply_hold_minutes=10)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0005", 1))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0006", 2))
    gone = events.ContactSuppressed(
        email_hash=events.email_digest("INV-0006@customer.example "), reason="unsubscribed"
    )
    world.hear(events.CONTACT_SUPPRESSED, gone.model_dump())
    assert world.send(T0 + timedelta(minutes=5))["replies"] == 0
    assert world.send(T0 + timedelta(minutes=11))["replies"] == 1
    to = [m["To"] for m in world.inbox()]
    assert "inv-0005@customer.example" in to and "inv-0006@customer.example" not in to
    suppressed = world.built.store.case(SHOP.shop_id, "response:inv-0006")
    assert suppressed is not None and suppressed.reply_state is ReplyState.SUPPRESSED


def test_a_slack_404_holds_the_alerts_tells_the_owner_once_and_a_repair_releases_them(world: World) -> None:
    from services.notifier.domain.delivery import repair

    world.configure(rules=(Rule(kind=RuleKind.DETRACTOR, delivery=Delivery.IMMEDIATE, max_score=6),))
    world.slack.script("alerts", status=404, body="channel_not_found", times=None)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0007", 0))
    report = world.send(T0 + timedelta(minutes=1))
    assert report["broken"] == ["slack"] and report["held"] == 1
    world.hear(events.RESPONSE_RECORDED, answer("inv-0008", 0), now=T0 + timedelta(minutes=2))
    world.send(T0 + timedelta(minutes=3))
    notices = [m for m in world.inbox() if m["To"] == "owner@acme.example"]
    assert len(notices) == 1 and "channel_not_found" in notices[0].get_body(("plain",)).get_content()
    assert world.slack_messages() == []
    world.slack.reset("alerts")
    assert repair(world.built.store, SHOP.shop_id, "slack", T0 + timedelta(minutes=4)) == 2
    world.send(T0 + timedelta(minutes=5))
    delivered = world.slack_messages()
    assert len(delivered) == 2  # nothing lost: both held batches


def test_a_429_defers_the_batch_by_its_retry_after_and_loses_nothing(world: World) -> None:
    world.configure(rules=(Rule(kind=RuleKind.DETRACTOR, delivery=Delivery.IMMEDIATE, max_score=6),))
    world.slack.script("alerts", status=429, retry_after=30, times=1)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0009", 4))
    first = world.send(T0 + timedelta(minutes=1))
    assert first["deferred"] == 1
    assert world.send(T0 + timedelta(minutes=1, seconds=10))["messages"] == 0  # still within Retry-After
    assert world.send(T0 + timedelta(minutes=2))["messages"] == 1
    assert len(world.slack_messages()) == 1


def test_a_surge_of_one_negative_theme_alerts_once_a_day(world: World) -> None:
    world.configure(slack_hook=None)
    theme = [{"theme": "delivery_shipping", "sentiment": "negative", "score": -0.7}]
    for i in range(7):
        world.hear(events.FEEDBACK_SCORED, scored_mention(f"google:{i}", 4.0, "positive", themes=theme))
    world.send(T0 + timedelta(minutes=1))
    texts = [m.get_body(("plain",)).get_content() for m in world.inbox()]
    assert sum("surging" in t for t in texts) == 1
    assert any("5 today" in t for t in texts)


def test_a_valuable_customer_crossing_the_churn_threshold_alerts_once_with_reasons(world: World) -> None:
    world.configure(slack_hook=None, churn_threshold=0.4, churn_min_spend=100)
    for key, name, total in (("email:loyal", "Lou", 80.0), ("email:thrifty", "Tim", 10.0)):
        for n, days in enumerate((400, 300, 200, 150)):
            order = events.OrderRecorded(
                order_id=f"{name}{n}", platform="shopify", customer_key=key, first_name=name,
                placed_at=T0 - timedelta(days=days), total=total, currency="EUR",
            )  # fmt: skip
            world.hear(events.ORDER_RECORDED, order.model_dump(mode="json"))
            world.hear(events.ORDER_RECORDED, order.model_dump(mode="json"))  # a duplicate counts once
    first = daily.run(T0, digest=False)
    second = daily.run(T0 + timedelta(days=1), digest=False)
    assert first["at_risk"] == 1 and second["at_risk"] == 1  # Tim's risk is as high, his spend is not
    [lou] = [c for c in world.built.store.customers(SHOP.shop_id) if c.customer_key == "email:loyal"]
    assert len(lou.orders) == 4 and lou.at_risk and lou.risk is not None and lou.risk >= 0.4
    world.send(T0 + timedelta(days=3))
    mails = [m.get_body(("plain",)).get_content() for m in world.inbox()]
    churn = [t for t in mails if "may be drifting away" in t]
    assert len(churn) == 1 and "Lou may be drifting away" in churn[0]
    assert "€320 spent in 4 orders" in churn[0] and "quieter than their own buying pace predicts" in churn[0]


def test_erasing_a_customer_keeps_scores_and_drops_who_and_what_they_said(world: World) -> None:
    world.configure(slack_hook=None)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0010", 2, comment="Call me at 555-0100"))
    world.hear(events.CUSTOMER_ERASED, {"customer_keys": ["email:inv-0010"], "orders": ["o-inv-0010"]})
    case = world.built.store.case(SHOP.shop_id, "response:inv-0010")
    assert case is not None and case.score == 2
    assert (case.email, case.first_name, case.comment) == (None, None, None)
    kept = world.built.store.answer(SHOP.shop_id, "inv-0010")
    assert kept is not None and kept.score == 2 and kept.comment is None and kept.email is None
    [batch] = world.built.store.due_batches(T0 + timedelta(hours=2), 10)[:1]
    closed = world.built.store.close_batch(batch)
    assert closed is not None and closed.count == 1
    assert "555-0100" not in closed.model_dump_json() and "Ana" not in closed.model_dump_json()
    # A late delivery of the answer (even a later revision) brings nothing back.
    world.hear(events.RESPONSE_RECORDED, answer("inv-0010", 2, revision=2, comment="Call me at 555-0100"))
    kept = world.built.store.answer(SHOP.shop_id, "inv-0010")
    assert kept is not None and kept.comment is None and kept.email is None


def test_erasing_the_shop_leaves_nothing_of_it_and_nothing_of_another(world: World) -> None:
    world.configure()
    world.configure(OTHER, slack_hook="other")
    world.hear(events.RESPONSE_RECORDED, answer("inv-0011", 2))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0012", 2), shop=OTHER)
    world.hear(events.SHOP_ERASED, {"records_deleted": 1})
    store = world.built.store
    assert store.cases(SHOP.shop_id) == [] and store.answer(SHOP.shop_id, "inv-0011") is None
    assert len(store.cases(OTHER.shop_id)) == 1
    hooks = SecretsManagerCredentials(
        world.built.client("secretsmanager"), "cxloop", area=NOTIFIER, cache_seconds=0
    )
    assert hooks.get(SHOP.shop_id, "slack") is None and hooks.get(OTHER.shop_id, "slack") is not None


def test_an_older_revision_arriving_late_changes_nothing(world: World) -> None:
    world.configure(slack_hook=None)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0013", 9, revision=2))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0013", 2, revision=1))
    assert world.built.store.cases(SHOP.shop_id) == []
    kept = world.built.store.answer(SHOP.shop_id, "inv-0013")
    assert kept is not None and (kept.revision, kept.score) == (2, 9)


def test_default_rules_batch_detractors_and_send_reviews_at_once() -> None:
    kinds = {r.kind: r.delivery for r in default_rules()}
    assert (
        kinds[RuleKind.DETRACTOR] is Delivery.HOURLY
        and kinds[RuleKind.NEGATIVE_MENTION] is Delivery.IMMEDIATE
    )


def test_the_weekly_digest_reaches_each_destination_once_with_its_charts_inline(world: World) -> None:
    world.configure()
    week_ago = T0 - timedelta(days=3)
    for i, score in enumerate((10, 9, 9, 8, 3, 10, 6, 9)):
        world.hear(
            events.RESPONSE_RECORDED, answer(f"inv-1{i:03d}", score) | {"answered_at": week_ago.isoformat()}
        )
    for i in range(3):
        earlier = T0 - timedelta(days=10 + 7 * i)
        world.hear(
            events.RESPONSE_RECORDED, answer(f"inv-2{i:03d}", 9) | {"answered_at": earlier.isoformat()}
        )
    world.hear(
        events.SURVEYS_SENT, {"run_id": "r1", "day": week_ago.date().isoformat(), "counts": {"nps": 20}}
    )
    world.hear(
        events.SURVEYS_SENT, {"run_id": "r1", "day": week_ago.date().isoformat(), "counts": {"nps": 20}}
    )
    sunday = T0 - timedelta(days=1)  # the digest covers the week that ended at Monday 00:00
    # Slack and the team here; the other shop has only its owner's e-mail
    assert daily.run(sunday + timedelta(days=1))["digests"] == 3
    assert daily.run(sunday + timedelta(days=2))["digests"] == 0  # once per week and destination
    [mail] = [m for m in world.inbox() if m["To"] == "team@acme.example" and "digest" in m["Message-ID"]]
    html = mail.get_body(("html",)).get_content()
    related = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert related, "the charts travel with the e-mail"
    for part in related:
        assert f"cid:{part['Content-ID'].strip('<>')}" in html
    text = mail.get_body(("plain",)).get_content()
    assert "NPS" in text and "40%" in text  # 8 answers to 20 invitations (the duplicate run counted once)
    [slack] = world.slack_messages()
    assert "NPS" in json.dumps(slack["blocks"])


def test_a_comment_sent_after_the_score_reaches_the_case(world: World) -> None:
    world.configure(slack_hook=None)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0014", 3))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0014", 3, revision=2, comment="Wrong size sent."))
    case = world.built.store.case(SHOP.shop_id, "response:inv-0014")
    assert case is not None and case.comment == "Wrong size sent."
    assert [e.what for e in case.history] == ["opened", "answer_changed"]
    world.send(T0 + timedelta(hours=1))
    assert len([m for m in world.inbox() if m["To"] == "team@acme.example"]) == 1  # still one alert


def test_the_alert_mail_shows_the_comment_written_after_the_score_the_score_the_order_and_one_button(
    world: World,
) -> None:
    """Issue 17 (8): the alert was raised on the score; the comment came a minute later; the e-mail an
    hour later says what the customer wrote, with the score on its scale and one button, not a dump."""
    world.configure(slack_hook=None)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0015", 3))
    later = T0 + timedelta(minutes=1)
    world.hear(
        events.RESPONSE_RECORDED, answer("inv-0015", 3, revision=2, comment="The glaze chipped."), later
    )
    world.send(T0 + timedelta(hours=1))
    [mail] = [m for m in world.inbox() if m["To"] == "team@acme.example"]
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "<pre" not in html and "The glaze chipped." in html and "The glaze chipped." in text
    assert "NPS 3 of 10" in html and "order #0015" in html
    assert html.count('class="cx-button"') == 1 and "Open the case and reply" in html
    approve = re.search(r'href="(http://127\.0\.0\.1:8080/n/[^"]+)"', html)
    assert approve and html.count(approve.group(1)) == 1  # a button, never the raw link as text
    assert approve.group(1) in text  # the text part has no buttons: the link in full
    assert str(mail["Subject"]) == "[Acme Socks] 1 detractor in the last hour"


def test_a_broken_review_source_and_its_recovery_reach_the_owner_once_each(world: World) -> None:
    world.configure()
    failing = {"source": "trustpilot", "kind": "auth", "status": 401, "since": T0.isoformat(),
               "message": "trustpilot connection broken: HTTP 401 since 2026-11-23 09:05 UTC"}  # fmt: skip
    world.hear("SourceFailing", failing)
    world.hear("SourceFailing", failing)  # redelivered
    world.hear("SourceRecovered", {"source": "trustpilot", "since": (T0 + timedelta(hours=2)).isoformat()})
    world.send(T0 + timedelta(minutes=1))
    [message] = world.slack_messages()
    text = json.dumps(message["blocks"])
    assert "trustpilot connection broken" in text and "HTTP 401" in text and "works again" in text
    assert message["text"].startswith("2 review source notices")


def test_immediate_alerts_of_one_minute_are_one_message_whenever_the_sender_runs(world: World) -> None:
    world.configure(rules=(Rule(kind=RuleKind.DETRACTOR, delivery=Delivery.IMMEDIATE, max_score=6),))
    for i, second in enumerate((5, 10, 15, 35, 40, 55)):
        at = T0 + timedelta(seconds=second)
        world.hear(events.RESPONSE_RECORDED, answer(f"inv-3{i:03d}", 1), now=at)
        assert world.send(at + timedelta(seconds=1))["messages"] == 0  # the minute is still open
    assert world.send(T0 + timedelta(minutes=1, seconds=1))["messages"] == 2  # Slack and e-mail, once each
    [message] = world.slack_messages()
    assert message["text"].startswith("6 detractors")


def test_a_sender_short_of_time_leaves_the_rest_due(world: World) -> None:
    world.configure(slack_hook=None, rules=(Rule(kind=RuleKind.DETRACTOR, delivery=Delivery.IMMEDIATE),))
    for minute in range(3):
        world.hear(
            events.RESPONSE_RECORDED, answer(f"inv-4{minute:03d}", 1), now=T0 + timedelta(minutes=minute)
        )
    later = T0 + timedelta(minutes=5)
    short = sender.run(later, time_left=lambda: 10.0)
    assert (short["messages"], short["unfinished"]) == (0, True)
    done = sender.run(later)
    assert (done["messages"], done["unfinished"]) == (3, False)


def test_a_theme_written_while_the_reply_is_sent_neither_loses_the_outcome_nor_sends_twice(
    world: World,
) -> None:
    from dataclasses import replace

    from services.notifier.domain import replies

    world.configure(slack_hook=None, reply_mode=ReplyMode.AUTOMATIC, reply_hold_minutes=0)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0015", 2, comment="Torn."))
    deps = world.built.reply_deps()
    theme = {
        "subject": "response", "subject_id": "inv-0015", "revision": 1, "key": "inv-0015#1",
        "sentiment": {"label": "negative", "score": -0.9, "confidence": 0.95},
        "themes": [{"theme": "product_quality", "sentiment": "negative", "score": -0.9}],
        "language": "en", "taxonomy": "ecommerce", "model_version": "t", "scored_at": T0.isoformat(),
    }  # fmt: skip

    class MidSend:
        """The mailer; while it sends, the reading arrives and is written to the case."""

        def send(self, email: Any) -> str:
            world.hear(events.FEEDBACK_SCORED, theme)
            with pytest.raises(replies.ReplyRefused, match="being sent"):  # the owner clicks meanwhile
                replies.approve(deps, SHOP.shop_id, "response:inv-0015", T0, "another text")
            return deps.mailer.send(email)

        def close(self) -> None: ...

    racing = replace(deps, mailer=MidSend())
    assert replies.send_due_replies(racing, T0 + timedelta(seconds=1)) == 1
    case = world.built.store.case(SHOP.shop_id, "response:inv-0015")
    assert case is not None and case.reply_state is ReplyState.SENT and case.reply_claimed_until is None
    assert [t.theme for t in case.themes] == ["product_quality"]  # the concurrent write is kept too
    assert world.send(T0 + timedelta(minutes=30))["replies"] == 0  # nothing left due: not sent again
    assert len([m for m in world.inbox() if m["To"] == "inv-0015@customer.example"]) == 1


def test_an_erased_customers_due_reply_is_dropped_and_does_not_stop_the_others(world: World) -> None:
    world.configure(slack_hook=None, reply_mode=ReplyMode.AUTOMATIC, reply_hold_minutes=5)
    world.hear(events.RESPONSE_RECORDED, answer("inv-0016", 1))
    world.hear(events.RESPONSE_RECORDED, answer("inv-0017", 1))
    world.hear(events.CUSTOMER_ERASED, {"customer_keys": ["email:inv-0016"], "orders": []})
    assert world.send(T0 + timedelta(minutes=6))["replies"] == 1
    to = [m["To"] for m in world.inbox()]
    assert "inv-0017@customer.example" in to and "inv-0016@customer.example" not in to
    erased = world.built.store.case(SHOP.shop_id, "response:inv-0016")
    assert erased is not None and erased.reply_state is ReplyState.NONE and erased.email is None


def test_old_reviews_of_a_first_pull_are_kept_without_alerts_cases_or_surges(world: World) -> None:
    world.configure()
    theme = [{"theme": "delivery_shipping", "sentiment": "negative", "score": -0.7}]
    for i in range(8):
        old = scored_mention(f"trustpilot:old{i}", 1.0, themes=theme) | {
            "published_at": (T0 - timedelta(days=200 + i)).isoformat()
        }
        world.hear(events.FEEDBACK_SCORED, old)
    world.send(T0 + timedelta(minutes=2))
    assert world.slack_messages() == [] and world.built.store.cases(SHOP.shop_id) == []
    assert len(world.built.store.mentions_since(SHOP.shop_id, T0 - timedelta(days=1))) == 8  # for the digest
    fresh = scored_mention("trustpilot:new", 1.0) | {"published_at": (T0 - timedelta(hours=3)).isoformat()}
    world.hear(events.FEEDBACK_SCORED, fresh)
    world.send(T0 + timedelta(minutes=3))
    assert len(world.slack_messages()) == 1


def test_two_orders_of_one_customer_written_at_once_both_stay(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.notifier.domain.ports import OrderLine

    store = world.built.store
    read = store._get
    raced: list[str] = []

    def read_then_race(shop_id: str, sk: str) -> dict[str, Any] | None:
        item = read(shop_id, sk)
        if sk == "CUST#email:race" and not raced:
            raced.append(sk)  # another consumer writes the customer's other order right now
            store.add_order(shop_id, "email:race", OrderLine("o2", T0, 20.0), {})
        return item

    monkeypatch.setattr(store, "_get", read_then_race)
    store.add_order(SHOP.shop_id, "email:race", OrderLine("o1", T0 - timedelta(days=30), 10.0), {})
    [customer] = [c for c in store.customers(SHOP.shop_id) if c.customer_key == "email:race"]
    assert sorted(o.order_id for o in customer.orders) == ["o1", "o2"]


def test_the_preview_shows_the_week_so_far_with_its_charts_inline(world: World) -> None:
    from services.notifier.digests import preview

    for i, score in enumerate((10, 9, 2)):
        world.hear(events.RESPONSE_RECORDED, answer(f"inv-5{i:03d}", score))
    html = preview(world.built, SHOP, T0 + timedelta(hours=1))  # today's answers, before any Monday
    assert "cid:" not in html  # a file on its own: no attachments to point at
    assert "3 customers answered surveys" in html  # this week's answers, not last week's (none)
    assert ">33<" in html.replace(" ", "")  # NPS (2 promoters - 1 detractor) / 3 = 33


def test_a_star_only_review_is_kept_with_its_rating_and_a_low_one_alerts(world: World) -> None:
    """Issue 17, item 12: stars without words come through unread (flag no_text) and still count."""
    world.configure()
    for mention_id, rating in (("judgeme:s1", 1.0), ("judgeme:s5", 5.0)):
        unread = scored_mention(mention_id, rating) | {"sentiment": None, "flags": ["no_text"], "excerpt": ""}
        world.hear(events.FEEDBACK_SCORED, unread)
    kept = world.built.store.mentions_since(SHOP.shop_id, T0 - timedelta(days=1))
    assert sorted((m.mention_id, m.rating, m.sentiment) for m in kept) == [
        ("judgeme:s1", 1.0, None),
        ("judgeme:s5", 5.0, None),
    ]
    world.send(T0 + timedelta(minutes=2))
    [message] = world.slack_messages()
    assert "1★" in json.dumps(message["blocks"], ensure_ascii=False)
    assert [c.subject_id for c in world.built.store.cases(SHOP.shop_id)] == ["judgeme:s1"]


def test_a_review_whose_source_takes_no_replies_is_never_reported_replied_until_the_owner_posts_it(
    world: World,
) -> None:
    """Issue 17 (3): an imported review (no reply API) said "Handed to the review site", and the case
    counted as replied, while the reviews service recorded "unsupported"."""
    world.configure(slack_hook=None)
    world.bus()
    imported = scored_mention("csv:judgeme:r2", 1.0) | {
        "source": "judgeme", "url": "https://judge.me/reviews/r2", "takes_replies": False,
    }  # fmt: skip
    world.hear(events.FEEDBACK_SCORED, imported)
    link = world.built.approve_link(SHOP.shop_id, "mention:csv:judgeme:r2")
    assert link is not None
    page = world.page(link)["body"]
    assert "Judgeme takes no replies through cxloop" in page and 'href="https://judge.me/reviews/r2"' in page
    assert 'value="posted"' in page and 'value="send"' not in page
    assert "That is not the experience we want" in page  # the text to copy

    refused = world.page(link, "POST", {"action": "send", "text": "Sorry!"})
    assert refused["statusCode"] == 409 and "takes no replies through cxloop" in refused["body"]
    assert "Handed to the review site" not in refused["body"]
    assert [e for e in world.bus() if e["detail-type"] == events.REVIEW_REPLY_REQUESTED] == []
    case = world.built.store.case(SHOP.shop_id, "mention:csv:judgeme:r2")
    assert case is not None and case.status is CaseStatus.OPEN and case.first_reply_at is None

    done = world.page(link, "POST", {"action": "posted", "text": "Sorry about the socks, Ana."})
    assert done["statusCode"] == 200 and "Marked as posted" in done["body"]
    case = world.built.store.case(SHOP.shop_id, "mention:csv:judgeme:r2")
    assert case is not None and case.status is CaseStatus.REPLIED and case.reply_state is ReplyState.POSTED
    assert case.first_reply_at is not None  # timed only now
    assert case.reply_text == "Sorry about the socks, Ana." and case.history[-1].what == "reply_posted"
    assert world.page(link, "POST", {"action": "posted"})["statusCode"] == 409  # once
