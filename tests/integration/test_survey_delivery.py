"""A survey from the order webhook to the inbox and back: moto in-process (the topology provisioned), the
webhook intake and consumer plan the invitation, the dispatcher handler sends it over SMTP to a real
aiosmtpd server on loopback, and the links in the received message are followed through the answers
handler, the way API Gateway would call it."""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cxloop.local.gateway import api_event
from cxloop.local.runtime import Functions
from cxloop.resources import provision_link_keys
from services.feedback import bootstrap
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
from services.feedback.domain.orders.normalise import email_key
from services.feedback.domain.surveys.invitations import Reason, Stage, Status
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme
from shared import topology
from shared.settings import SurveySettings, load
from shared.tenancy import Platform
from tests.integration.conftest import SHOP_A, Stack

PUBLIC_URL = "https://feedback.brand-a.example"
SENDER = "surveys@brand-a.example"
REPLY_TO = "help@brand-a.example"
CUSTOMER = "bob.norman@hostmail.com"  # the fixture order's address
PROGRAMME = SurveyProgramme(
    brand=Brand(name="Brand A", sender=SENDER, reply_to=REPLY_TO),
    rules=Rules(quiet_hours=None),  # the send time must not depend on the hour the test runs at
)
TOKEN = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"


# --- a real SMTP server -------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping each message's envelope and raw bytes as received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.received.append(
                (str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content or b"")
            )
        return "250 2.0.0 Message accepted"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            raws = [raw for *_, raw in self.received]
        return [message_from_bytes(raw, policy=policy.default) for raw in raws]  # type: ignore[misc]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# --- the stack with surveys wired ---------------------------------------------------------------------


@dataclass
class Surveys:
    stack: Stack
    inbox: Inbox
    store: DynamoSurveyStore

    def dispatch(self) -> dict[str, Any]:
        report: dict[str, Any] = Functions().invoke(topology.function("feedback-dispatcher"), {"limit": 50})
        return report

    def call(self, method: str, url: str, body: str | None = None) -> dict[str, Any]:
        """Follow a link (or submit a form) through the answers handler, as API Gateway would."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, url
        kind, token = parts.path.strip("/").split("/")
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=method,
            data=body,
            content_type="application/x-www-form-urlencoded" if body is not None else None,
        )
        route = topology.Route(method, f"/{kind}/{{token}}")
        event = api_event(Request(builder.get_environ()), route, {"token": token})
        result: dict[str, Any] = Functions().invoke(topology.function("feedback-answers"), event)
        return result


@pytest.fixture
def surveys(stack: Stack, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[Surveys]:
    handler, port = inbox
    for name, value in {
        "CXLOOP_PUBLIC_URL": PUBLIC_URL,
        "CXLOOP_MAIL_TRANSPORT": "smtp",
        "CXLOOP_SMTP_HOST": "127.0.0.1",
        "CXLOOP_SMTP_PORT": str(port),
    }.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session(region_name="us-east-1")
    db = session.client("dynamodb")
    provision_link_keys(session.client("secretsmanager"), stack.resources.prefix)
    DynamoProgrammeStore(db, stack.resources.tables["shops"]).put(SHOP_A.shop_id, PROGRAMME)
    # What each function's container builds on its cold start: the real wiring, SmtpMailer included.
    built = bootstrap.build_surveys(load(SurveySettings), with_mailer=True)
    bootstrap.dispatch.use(built)
    bootstrap.surveys.use(built)
    yield Surveys(stack, handler, DynamoSurveyStore(db, stack.resources.tables["feedback"]))
    bootstrap.dispatch.use(None)
    bootstrap.surveys.use(None)


def _delivered_order(webhook_fixtures: Path, delivered: datetime) -> dict[str, Any]:
    """The Shopify fixture order, fulfilled and delivered at ``delivered`` (the fixture's own fulfilment
    failed in 2014: no survey would be planned for it)."""
    order = copy.deepcopy(json.loads((webhook_fixtures / "shopify_order.json").read_text())["order"])
    stamp = delivered.isoformat()
    order["updated_at"] = stamp
    order["fulfillments"][0].update(
        status="success",
        shipment_status="delivered",
        created_at=(delivered - timedelta(days=1)).isoformat(),
        updated_at=stamp,
    )
    return order


# --- reading the message ------------------------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _only(message: EmailMessage, name: str) -> str:
    values = message.get_all(name) or []
    assert len(values) == 1, (name, values)
    return str(values[0])


def _score(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["score"][0])


def _header(result: dict[str, Any], name: str) -> str | None:
    found = [v for k, v in (result.get("headers") or {}).items() if k.lower() == name.lower()]
    assert len(found) <= 1, (name, found)
    return found[0] if found else None


def _assert_page(result: dict[str, Any]) -> None:
    assert result["statusCode"] == 200, result
    assert (_header(result, "content-type") or "").startswith("text/html")
    assert _header(result, "referrer-policy") == "no-referrer"
    csp = _header(result, "content-security-policy") or ""
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert _header(result, "location") is None


# --- the test -----------------------------------------------------------------------------------------


def test_a_survey_goes_out_over_smtp_and_its_links_work(surveys: Surveys, webhook_fixtures: Path) -> None:
    stack, store = surveys.stack, surveys.store
    delivered = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(days=4)

    # The order arrives through the webhook intake and the consumer, which plans its invitation.
    response = stack.signed(
        Platform.SHOPIFY, SHOP_A, "orders/updated", _delivered_order(webhook_fixtures, delivered)
    )
    assert response["statusCode"] == 200, response
    assert stack.drain() == 1
    [planned] = store.invitations(SHOP_A.shop_id)
    assert planned.status is Status.PLANNED and planned.email == CUSTOMER
    assert planned.due_at == delivered + timedelta(days=PROGRAMME.rules.days_after_delivery)

    # The dispatcher handler sends it over SMTP.
    assert surveys.dispatch()["sent"] == 1
    [(mail_from, rcpt_tos, raw)] = surveys.inbox.received
    assert (mail_from, rcpt_tos) == (SENDER, [CUSTOMER])
    [message] = surveys.inbox.messages()
    sent = store.invitation(SHOP_A.shop_id, planned.invite_id)
    assert sent is not None and sent.status is Status.SENT and sent.stage is Stage.REMINDER

    assert _only(message, "From") == f"Brand A <{SENDER}>"
    assert _only(message, "To") == CUSTOMER
    assert _only(message, "Reply-To") == REPLY_TO
    assert _only(message, "Subject") == "Quick question about your order #1001"
    assert _only(message, "Message-ID") == f"<{planned.invite_id}.invite@brand-a.example>" == sent.message_id
    unsubscribe_header = _only(message, "List-Unsubscribe")
    match = re.fullmatch(rf"<({re.escape(PUBLIC_URL)}/u/{TOKEN})>", unsubscribe_header)
    assert match, unsubscribe_header
    unsubscribe_url = match.group(1)
    assert _only(message, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert b"\r\nList-Unsubscribe: <" + unsubscribe_url.encode() + b">\r\n" in raw, (
        "the URL as sent, unfolded"
    )

    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    text, html = text_part.get_content(), html_part.get_content()
    parser = Links()
    parser.feed(html)
    answer_re = rf"{re.escape(PUBLIC_URL)}/r/{TOKEN}\?score=\d+"
    html_scores = [h for h in parser.hrefs if re.fullmatch(answer_re, h)]
    text_scores = re.findall(answer_re, text)
    assert [_score(u) for u in html_scores] == list(range(0, 11)), "one link per NPS score, in order"
    assert html_scores == text_scores
    assert set(parser.hrefs) == {*html_scores, unsubscribe_url}
    assert re.findall(rf"{re.escape(PUBLIC_URL)}/u/{TOKEN}", text) == [unsubscribe_url]

    # A score link: recorded, answered page with the security headers, announced on the bus.
    nine = next(u for u in html_scores if _score(u) == 9)
    page = surveys.call("GET", nine)
    _assert_page(page)
    answered = store.invitation(SHOP_A.shop_id, planned.invite_id)
    assert answered is not None
    assert (answered.score, answered.revision, answered.due_at) == (9, 1, None), "answered: no reminder"
    assert answered.published_revision == 1
    recorded = [e for e in stack.bus_events() if e.get("detail-type") == "ResponseRecorded"]
    assert [(e["detail"]["data"]["score"], e["detail"]["data"]["invite_id"]) for e in recorded] == [
        (9, planned.invite_id)
    ]

    # The comment form.
    page = surveys.call("POST", nine.split("?")[0], "comment=Fast+delivery%2C+thanks%21")
    _assert_page(page)
    commented = store.invitation(SHOP_A.shop_id, planned.invite_id)
    assert commented is not None and commented.comment == "Fast delivery, thanks!" and commented.revision == 2

    # Unsubscribe: a GET (a link scanner, or the person reading the page) changes nothing...
    contact_key = email_key(CUSTOMER)
    for _ in range(2):
        page = surveys.call("GET", unsubscribe_url)
        _assert_page(page)
        assert f'action="{unsubscribe_url}"' in page["body"], "the page posts back to the same URL"
    contact = store.contact(SHOP_A.shop_id, contact_key)
    assert contact is not None and contact.suppressed is None, "a GET must never unsubscribe"

    # ...the RFC 8058 one-click POST does, with a 200 and no redirect.
    page = surveys.call("POST", unsubscribe_url, "List-Unsubscribe=One-Click")
    _assert_page(page)
    contact = store.contact(SHOP_A.shop_id, contact_key)
    assert contact is not None and contact.suppressed is Reason.UNSUBSCRIBED
    assert [(e.invite_id, e.reason) for e in store.suppressions(SHOP_A.shop_id)] == [
        (planned.invite_id, Reason.UNSUBSCRIBED)
    ]

    # Nothing more goes out: answered (no reminder) and unsubscribed.
    assert surveys.dispatch()["sent"] == 0
    assert len(surveys.inbox.received) == 1

    # The same path answers 404 for a token it did not sign (so the 200s above mean something).
    forged = re.sub(r"/r/[^.]+\.[^?]+", "/r/cnxzaG9wLWF8eHh4fDk5OTk5OTk5OTk.AAAAAAAAAAAAAAAAAAAAAA", nine)
    assert forged != nine and surveys.call("GET", forged)["statusCode"] == 404
    tampered = unsubscribe_url.rpartition(".")[0] + "." + "A" * 22  # the same claims, a MAC of zeros
    assert surveys.call("POST", tampered, "List-Unsubscribe=One-Click")["statusCode"] == 404
