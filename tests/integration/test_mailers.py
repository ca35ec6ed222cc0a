"""The Mailer adapters against real protocol ends: SMTP to aiosmtpd on loopback, SES v2 to moto in-process,
and SES errors and request shape through botocore's Stubber."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import boto3
import botocore.session
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from pydantic import ValidationError

from shared.mail.factory import build_mailer
from shared.mail.message import InlineImage, MailDeferred, MailError, MailRejected, OutgoingEmail
from shared.mail.ses import SesMailer, request
from shared.mail.smtp import SmtpMailer
from tests.integration.conftest import Moto

UNSUBSCRIBE = (
    "<https://feedback.brand.example/u/eyJzaG9wIjoic2hvcC1hIiwiZW1haWwiOiJrdW5kZUBleGFtcGxlLm9yZyJ9"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi10aGF0LWlzLWxvbmdlci10aGFuLWEtbGluZQ>, "
    "<mailto:unsubscribe@brand.example?subject=unsubscribe>"
)
ONE_CLICK = "List-Unsubscribe=One-Click"
LONG_LINE = "Lorem ipsum dolor sit amet, " * 40  # > 998 octets on one line


def outgoing(n: int = 1, **changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "sender": "Brand Shop <surveys@brand.example>",
        "to": "Kundin <kundin@example.org>",
        "reply_to": "help@brand.example",
        "subject": f"Wie war Ihre Bestellung {n}? Grüße — ✓",
        "text": f"Hallo {n}, Grüße — ✓\n{LONG_LINE}\nhttps://feedback.brand.example/s/abc\n",
        "html": f"<p>Hallo {n}, Grüße — ✓</p>\n<p>{LONG_LINE}</p>\n",
        "message_id": f"<inv-{n}.0123456789abcdef@mail.brand.example>",
        "headers": {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": ONE_CLICK},
        "tags": {"invite": f"inv-{n}", "shop": "shop-a.example"},
    }
    fields.update(changes)
    return OutgoingEmail(**fields)


def png(width: int, height: int, seed: int) -> bytes:
    """A valid RGB PNG of noise: it compresses badly, so its base64 spans many lines and every byte value."""
    pixels = random.Random(seed).randbytes(3 * width * height)
    rows = b"".join(b"\x00" + pixels[3 * width * y : 3 * width * (y + 1)] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


CHARTS = (
    InlineImage(
        content_id="answers-week.0042@digest.brand.example", filename="answers.png", data=png(64, 40, 1)
    ),
    InlineImage(content_id="score-trend", filename="Trend März.png", data=png(32, 24, 2)),
)


def digest(**changes: Any) -> OutgoingEmail:
    """A weekly digest: two PNG charts the HTML shows by cid:, in the reverse order of ``inline``."""
    html = (
        "<h1>Ihre Woche — Grüße</h1>\n"
        f'<p><img src="{CHARTS[1].src}" alt="Trend" width="320"></p>\n'
        f'<p><img src="{CHARTS[0].src}" alt="Antworten" width="640"></p>\n'
    )
    return outgoing(9, **{"html": html, "inline": CHARTS, **changes})


# --- SMTP ------------------------------------------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that keeps what it receives, and can refuse or hang up on request."""

    def __init__(self, refuse: dict[str, str] | None = None, hang_up: str | None = None) -> None:
        self.refuse = refuse or {}  # SMTP verb → reply to give instead of accepting
        self.hang_up = hang_up  # after the first message: "close" the socket, or answer "421" to MAIL
        self.received: list[tuple[Any, str, list[str], bytes]] = []  # peer, MAIL FROM, RCPT TOs, content
        self.ehlos = 0
        self.quits = 0
        self._said_421 = False
        self._lock = threading.Lock()

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # the 5-argument hook must set it (aiosmtpd docs)
        with self._lock:
            self.ehlos += 1
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.hang_up == "421" and self.received and not self._said_421:
            self._said_421 = True
            return "421 4.4.2 idle too long, closing"
        if "MAIL" in self.refuse:
            return self.refuse["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if "RCPT" in self.refuse:
            return self.refuse["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if "DATA" in self.refuse:
            return self.refuse["DATA"]
        assert envelope.mail_from is not None
        with self._lock:
            first = not self.received
            self.received.append(
                (session.peer, envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or b"")
            )
        if first and self.hang_up == "close" and server.transport is not None:
            # After the 250 below has been written: like a server's idle timeout between two messages.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 2.0.0 Message accepted"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.quits += 1
        return "221 Bye"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for *_, raw in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[Recorder], int]]:
    """Start an SMTP server on loopback for a handler; returns its port."""
    controllers: list[Controller] = []

    def start(handler: Recorder) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def only(message: EmailMessage, name: str) -> str:
    values = message.get_all(name) or []
    assert len(values) == 1, (name, values)
    return str(values[0])


def test_smtp_sends_two_complete_messages_over_one_session(serve: Callable[[Recorder], int]) -> None:
    handler = Recorder()
    mailer = SmtpMailer("127.0.0.1", serve(handler), timeout_s=5, local_hostname="dispatcher.test")
    sent = [outgoing(1), outgoing(2, reply_to=None)]
    try:
        ids = [mailer.send(email) for email in sent]
    finally:
        mailer.close()

    assert ids == [email.message_id for email in sent]
    assert len(handler.received) == 2
    assert len({peer for peer, *_ in handler.received}) == 1 and handler.ehlos == 1, "one SMTP session"
    assert handler.quits == 1, "close() ends the session with QUIT"
    for (_, mail_from, rcpt_tos, raw), email, message in zip(
        handler.received, sent, handler.messages(), strict=True
    ):
        assert mail_from == "surveys@brand.example" and rcpt_tos == ["kundin@example.org"]
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        assert raw.isascii(), "7-bit clean: encoded headers, quoted-printable bodies"
        head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")  # unfolded
        assert b"\r\nList-Unsubscribe: " + UNSUBSCRIBE.encode() + b"\r\n" in head, (
            "URIs as given, not encoded"
        )
        assert b"\r\nMessage-ID: " + email.message_id.encode() + b"\r\n" in head
        assert only(message, "From") == email.sender
        assert only(message, "To") == email.to
        assert only(message, "Subject") == email.subject
        assert only(message, "Message-ID") == email.message_id
        assert only(message, "List-Unsubscribe") == UNSUBSCRIBE
        assert only(message, "List-Unsubscribe-Post") == ONE_CLICK
        assert only(message, "MIME-Version") == "1.0"
        assert only(message, "Date")
        assert message.get_all("Reply-To") == ([email.reply_to] if email.reply_to else None)
        assert not [name for name in message if name.lower().startswith("x-")], "tags stay SES-only"
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
        assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
        assert all(part.get_all("MIME-Version") is None for part in parts), "MIME-Version on top only"
        # Text travels with CRLF line ends (MIME canonical form); otherwise it must come back as sent.
        decoded = [part.get_content().replace("\r\n", "\n") for part in parts]
        assert decoded == [email.text, email.html]


def test_smtp_sends_inline_images_in_a_related_html_part_that_round_trips(
    serve: Callable[[Recorder], int],
) -> None:
    handler = Recorder()
    mailer = SmtpMailer("127.0.0.1", serve(handler), timeout_s=5)
    email = digest()
    try:
        mailer.send(email)
    finally:
        mailer.close()

    [(_, _, _, raw)] = handler.received
    [message] = handler.messages()
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert only(message, "Message-ID") == email.message_id
    assert only(message, "List-Unsubscribe") == UNSUBSCRIBE
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n") == email.text
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "text/html", "RFC 2387: the root part's type"
    html, *images = related.iter_parts()
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert html.get_content().replace("\r\n", "\n") == email.html
    assert [part.get_content_type() for part in images] == ["image/png", "image/png"]
    assert [part["Content-ID"] for part in images] == [
        "<answers-week.0042@digest.brand.example>",
        "<score-trend>",
    ]
    assert [part.get_content_disposition() for part in images] == ["inline", "inline"]
    assert [part.get_filename() for part in images] == ["answers.png", "Trend März.png"]
    assert [part["Content-Transfer-Encoding"] for part in images] == ["base64", "base64"]
    assert [part.get_content() for part in images] == [CHARTS[0].data, CHARTS[1].data], "bytes exact"
    referenced = re.findall(r'src="cid:([^"]+)"', html.get_content())
    assert referenced == ["score-trend", "answers-week.0042@digest.brand.example"]
    assert sorted(f"<{cid}>" for cid in referenced) == sorted(part["Content-ID"] for part in images)
    assert [part.get_all("MIME-Version") for part in message.walk()][1:] == [None] * 5, "on top only"


@pytest.mark.parametrize(
    ("refuse", "expected", "code"),
    [
        ({"RCPT": "550 5.1.1 no such user"}, MailRejected, "550"),
        ({"RCPT": "451 4.3.0 try later"}, MailDeferred, "451"),
        ({"MAIL": "452 4.3.1 insufficient system storage"}, MailDeferred, "452"),
        ({"DATA": "554 5.7.1 message refused"}, MailRejected, "554"),
    ],
)
def test_smtp_replies_classify(
    serve: Callable[[Recorder], int], refuse: dict[str, str], expected: type[MailError], code: str
) -> None:
    mailer = SmtpMailer("127.0.0.1", serve(Recorder(refuse=refuse)), timeout_s=5)
    try:
        with pytest.raises(MailError) as caught:
            mailer.send(outgoing())
    finally:
        mailer.close()
    assert type(caught.value) is expected
    assert code in caught.value.message and refuse[next(iter(refuse))][4:] in caught.value.message


def test_smtp_closed_port_is_deferred() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout_s=2)
    with pytest.raises(MailDeferred, match="cannot connect"):
        mailer.send(outgoing())
    mailer.close()


@pytest.mark.parametrize("hang_up", ["close", "421"])
def test_smtp_reconnects_once_when_the_server_dropped_the_session(
    serve: Callable[[Recorder], int], hang_up: str
) -> None:
    handler = Recorder(hang_up=hang_up)
    mailer = SmtpMailer("127.0.0.1", serve(handler), timeout_s=5)
    try:
        assert mailer.send(outgoing(1)) == outgoing(1).message_id
        assert mailer.send(outgoing(2)) == outgoing(2).message_id
    finally:
        mailer.close()
    assert [only(m, "Message-ID") for m in handler.messages()] == [
        outgoing(1).message_id,
        outgoing(2).message_id,
    ]
    assert len({peer for peer, *_ in handler.received}) == 2 and handler.ehlos == 2


def test_smtp_gives_up_after_one_reconnect(serve: Callable[[Recorder], int]) -> None:
    handler = Recorder(refuse={"MAIL": "421 4.3.2 shutting down"})
    mailer = SmtpMailer("127.0.0.1", serve(handler), timeout_s=5)
    with pytest.raises(MailDeferred, match="421"):
        mailer.send(outgoing())
    mailer.close()
    assert handler.ehlos == 2, "the first connection and exactly one more"


# --- SES v2 ----------------------------------------------------------------------------------------------


@pytest.fixture
def sesv2(aws: Moto) -> Any:
    return boto3.client("sesv2", region_name="us-east-1")


def test_ses_sends_through_moto_and_returns_the_ses_message_id(sesv2: Any) -> None:
    sesv2.create_email_identity(EmailIdentity="brand.example")
    email = outgoing()
    mailer = SesMailer(sesv2)

    ses_id = mailer.send(email)
    mailer.close()

    [stored] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert ses_id == stored.id and ses_id != email.message_id
    assert parseaddr(stored.source)[1] == "surveys@brand.example"
    assert stored.subject == email.subject
    assert stored.body == email.html  # moto keeps the HTML part only
    assert stored.destinations == {"ToAddresses": [email.to]}


def test_ses_unverified_sender_is_rejected(sesv2: Any) -> None:
    sesv2.create_email_identity(EmailIdentity="other.example")
    with pytest.raises(MailRejected, match="MessageRejected"):
        SesMailer(sesv2).send(outgoing())
    assert ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages == []


def test_ses_sends_inline_images_through_moto_as_inline_attachments(sesv2: Any) -> None:
    """The body botocore puts on the wire (moto accepts it, and keeps no attachments to look at)."""
    sesv2.create_email_identity(EmailIdentity="brand.example")
    sent: list[dict[str, Any]] = []
    sesv2.meta.events.register(
        "before-sign.sesv2.SendEmail", lambda request, **_: sent.append(json.loads(request.body))
    )
    email = digest()

    ses_id = SesMailer(sesv2).send(email)

    [stored] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert ses_id == stored.id and stored.body == email.html
    [body] = sent
    attachments = body["Content"]["Simple"]["Attachments"]
    for item in attachments:
        item["RawContent"] = base64.b64decode(item["RawContent"])
    assert attachments == [
        {
            "RawContent": CHARTS[0].data,
            "FileName": "answers.png",
            "ContentType": "image/png",
            "ContentDisposition": "INLINE",
            "ContentId": "answers-week.0042@digest.brand.example",
            "ContentTransferEncoding": "BASE64",
        },
        {
            "RawContent": CHARTS[1].data,
            "FileName": "Trend März.png",
            "ContentType": "image/png",
            "ContentDisposition": "INLINE",
            "ContentId": "score-trend",
            "ContentTransferEncoding": "BASE64",
        },
    ]
    assert body["Content"]["Simple"]["Body"]["Html"]["Data"] == email.html


def test_ses_request_without_inline_images_has_no_attachments() -> None:
    assert "Attachments" not in request(outgoing())["Content"]["Simple"]
    assert len(request(digest())["Content"]["Simple"]["Attachments"]) == 2


def test_two_inline_images_with_one_content_id_are_refused() -> None:
    """The HTML could show only one of them."""
    with pytest.raises(ValidationError, match="distinct content ids"):
        digest(inline=(CHARTS[0], CHARTS[1].model_copy(update={"content_id": CHARTS[0].content_id})))


@pytest.mark.parametrize(
    "fields",
    [
        {"content_id": "a b"},
        {"content_id": "<chart>"},
        {"content_id": "x" * 79},
        {"filename": "chart\r\n.png"},
        {"content_type": "image/svg+xml; charset=x"},
        {"content_type": "text/html"},
        {"data": b""},
    ],
)
def test_an_inline_image_that_cannot_go_into_a_header_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        InlineImage(**{"content_id": "chart", "filename": "chart.png", "data": b"\x89PNG", **fields})


def test_the_factory_builds_smtp_without_an_aws_client(serve: Callable[[Recorder], int]) -> None:
    def no_client() -> Any:
        raise AssertionError("an SMTP mailer must build no AWS client")

    handler = Recorder()
    mailer = build_mailer("smtp", smtp_host="127.0.0.1", smtp_port=serve(handler), sesv2=no_client)
    try:
        assert mailer.send(outgoing()) == outgoing().message_id
    finally:
        mailer.close()
    assert isinstance(mailer, SmtpMailer) and len(handler.received) == 1


def test_the_factory_builds_ses_on_the_client_given(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    email = outgoing()
    expected = request(email, "cxloop-digest")
    stubber.add_response("send_email", {"MessageId": "0100-digest"}, expected_params=expected)

    mailer = build_mailer("ses", ses_configuration_set="cxloop-digest", sesv2=lambda: client)

    assert isinstance(mailer, SesMailer) and mailer.send(email) == "0100-digest"
    assert expected["ConfigurationSetName"] == "cxloop-digest"
    with pytest.raises(ValueError, match="sesv2 client factory"):
        build_mailer("ses")


@pytest.fixture(scope="module")
def sesv2_client() -> Any:
    return botocore.session.get_session().create_client("sesv2", region_name="us-east-1")


@pytest.fixture
def stubbed(sesv2_client: Any) -> Iterator[tuple[Any, Stubber]]:
    client = sesv2_client
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_ses_request_has_each_header_once_no_message_id_and_safe_tags(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    email = outgoing(
        7,
        sender="Brüder Shop <surveys@brand.example>",
        headers={
            "List-Unsubscribe": UNSUBSCRIBE,
            "List-Unsubscribe-Post": ONE_CLICK,
            "Message-ID": "<not-for-ses@brand.example>",
        },
        tags={"invite": "inv.7@brand", "shop id": "shop-a.example", "ok_name-1": "Value_1-a"},
    )
    expected = {
        "FromEmailAddress": "=?utf-8?q?Br=C3=BCder_Shop?= <surveys@brand.example>",
        "Destination": {"ToAddresses": ["Kundin <kundin@example.org>"]},
        "ReplyToAddresses": ["help@brand.example"],
        "Content": {
            "Simple": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
                "Headers": [
                    {"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE},
                    {"Name": "List-Unsubscribe-Post", "Value": ONE_CLICK},
                ],
            }
        },
        "EmailTags": [
            {"Name": "invite", "Value": "inv_7_brand"},
            {"Name": "shop_id", "Value": "shop-a_example"},
            {"Name": "ok_name-1", "Value": "Value_1-a"},
        ],
        "ConfigurationSetName": "cxloop-surveys",
    }
    stubber.add_response("send_email", {"MessageId": "0100-ses-id"}, expected_params=expected)

    assert SesMailer(client, configuration_set="cxloop-surveys").send(email) == "0100-ses-id"


@pytest.mark.parametrize(
    ("code", "status", "expected", "retry_after_s"),
    [
        ("TooManyRequestsException", 429, MailDeferred, None),
        ("LimitExceededException", 400, MailDeferred, None),
        ("Throttling", 400, MailDeferred, None),
        ("ServiceUnavailable", 503, MailDeferred, None),
        ("InternalFailure", 500, MailDeferred, None),
        ("NewlyInventedException", 400, MailDeferred, None),
        ("MessageRejected", 503, MailDeferred, None),
        ("SendingPausedException", 400, MailDeferred, 900),
        ("MessageRejected", 400, MailRejected, None),
        ("MailFromDomainNotVerifiedException", 400, MailRejected, None),
        ("AccountSuspendedException", 400, MailRejected, None),
        ("BadRequestException", 400, MailRejected, None),
        ("NotFoundException", 404, MailRejected, None),
    ],
)
def test_ses_errors_classify(
    stubbed: tuple[Any, Stubber],
    code: str,
    status: int,
    expected: type[MailError],
    retry_after_s: float | None,
) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "send_email", service_error_code=code, service_message="nope", http_status_code=status
    )
    with pytest.raises(MailError) as caught:
        SesMailer(client).send(outgoing())
    assert type(caught.value) is expected
    assert code in caught.value.message
    assert caught.value.retry_after_s == retry_after_s


class Unreachable:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_email(self, **_: Any) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"),
    ],
)
def test_ses_network_errors_are_deferred(error: Exception) -> None:
    with pytest.raises(MailDeferred, match=type(error).__name__):
        SesMailer(Unreachable(error)).send(outgoing())


def test_ses_daily_quota_waits_an_hour(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "send_email",
        service_error_code="LimitExceededException",
        service_message="Daily message quota exceeded.",
        http_status_code=400,
    )
    with pytest.raises(MailDeferred) as caught:
        SesMailer(client).send(outgoing())
    assert caught.value.retry_after_s == 3600
