"""The Mailer port over SMTP (a relay, a local sink, any provider's SMTP endpoint), with the standard library.

One message is multipart/alternative (text/plain, then text/html; both UTF-8, quoted-printable so that any
relay, 8BITMIME or not, takes them and no line exceeds 998 octets). With ``email.inline`` images the HTML
alternative is a multipart/related (RFC 2387, ``type="text/html"``): the text/html part, then each image,
base64, with ``Content-ID: <content_id>`` (what the HTML's ``cid:`` URLs name, RFC 2392) and
``Content-Disposition: inline; filename=...``. So: alternative[plain, related[html, image...]], the layout
Gmail, Outlook and Apple Mail show inline rather than as attachments. Headers: From, To, Reply-To (when
set), Subject, Date, Message-ID (ours, verbatim: the same for a retried send, so receivers can drop a copy),
MIME-Version (on the top level only) and each of ``email.headers`` (List-Unsubscribe,
List-Unsubscribe-Post) exactly once.

Values of Message-ID and of ``email.headers`` are written as given, never RFC 2047-encoded: the stdlib folder
encodes a word longer than a line (a signed unsubscribe URL is one), and an encoded ``List-Unsubscribe`` is
not a URI list any more. They stay on one line (folded only after a comma) while they fit in 998 octets.

``email.tags`` are not sent: they are SES's bounce/complaint correlation (EmailTags); an SMTP relay has no
such notification, and X- headers would only show receivers our internals. DKIM signing is the relay's job.

One connection is kept across sends (a dispatcher run sends many) and QUIT by ``close()``. A connection the
server has dropped (idle timeout: a disconnect or a 421 reply) is replaced once, transparently; if the
server dropped it after taking the data, the copy carries the same Message-ID.

Errors: 5xx replies to MAIL/RCPT/DATA are MailRejected; 4xx replies, a second disconnect and network errors
are MailDeferred. Failures while connecting (refused, TLS, EHLO, AUTH: even a 535 for a wrong password) are
MailDeferred: they are about our configuration, not the message, which must not be dropped for them.
"""

from __future__ import annotations

import smtplib
import ssl
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from typing import Any, Literal

from shared.clock import utcnow
from shared.mail.message import (
    RESERVED_HEADERS,
    InlineImage,
    MailDeferred,
    MailError,
    MailRejected,
    OutgoingEmail,
)

Security = Literal["none", "starttls", "tls"]

MAX_LINE = 998  # RFC 5322 §2.1.1, without the CRLF
SERVICE_CLOSING = 421  # RFC 5321 §3.8: the server closes the channel after this reply


class VerbatimHeader(UnstructuredHeader, BaseHeader):
    """A header whose ASCII value is written as given: URIs and msg-ids must reach receivers untouched."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value, kwds)
        if value.isascii():
            kwds["decoded"] = value

    def fold(self, *, policy: email_policy.Policy[Any]) -> str:
        value = str(self)
        line = f"{self.name}: {value}"
        if not value.isascii() or max(len(part) for part in line.split(", ")) + 2 > MAX_LINE:
            return str(super().fold(policy=policy))
        if policy.max_line_length and len(line) > policy.max_line_length:
            # Folding white space after a list comma; unfolding restores the ", " exactly.
            line = line.replace(", ", "," + policy.linesep + " ")
        return line + policy.linesep


class SubjectHeader(UnstructuredHeader, BaseHeader):
    """The stdlib's folding, except that the value starts on the header's own line.

    When a subject does not fit on the first line but its first words would fit on a line of their own,
    the stdlib folds right after ``Subject:`` (legal folding white space), and receivers unfold it into a
    value with a leading space (" [Blue Kiln] ..."). The first fold is taken back, so the first line may
    run past 78 characters (a SHOULD of RFC 5322, never its 998-octet limit: a subject is one line).
    """

    max_count = 1  # as the stdlib's UniqueUnstructuredHeader: one Subject

    def fold(self, *, policy: email_policy.Policy[Any]) -> str:
        folded = str(super().fold(policy=policy))
        empty_first = f"{self.name}:{policy.linesep} "
        if folded.startswith(empty_first):
            return f"{self.name}: " + folded[len(empty_first) :]
        return folded


def _policy() -> email_policy.EmailPolicy[EmailMessage]:
    registry = HeaderRegistry(default_class=VerbatimHeader)  # unmapped names: List-*, X-*
    registry.map_to_type("message-id", VerbatimHeader)
    registry.map_to_type("subject", SubjectHeader)
    return email_policy.SMTP.clone(header_factory=registry)


POLICY = _policy()


def compose(email: OutgoingEmail) -> EmailMessage:
    """The MIME message for ``email``; MailRejected if a field cannot go into a header (CR/LF in it)."""
    message = EmailMessage(policy=POLICY)
    try:
        message["From"] = email.sender
        message["To"] = email.to
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = email.message_id
        for name, value in email.headers.items():
            if name.lower() not in RESERVED_HEADERS:
                del message[name]
                message[name] = value
    except ValueError as exc:
        raise MailRejected(f"cannot build the message: {exc}") from exc
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if email.inline:
        _plain, html = message.iter_parts()
        _relate(html, email.inline)
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # the stdlib puts one on each part too; it belongs on the top level only
    return message


def _relate(html: MIMEPart, images: tuple[InlineImage, ...]) -> None:
    """Turn the text/html part into multipart/related[text/html, image...]."""
    for image in images:
        maintype, subtype = image.content_type.split("/", 1)
        html.add_related(
            image.data,
            maintype,
            subtype,
            cid=f"<{image.content_id}>",
            disposition="inline",
            filename=image.filename,
        )
    html.set_param("type", "text/html")  # RFC 2387: the root part's type is a required parameter


def envelope(email: OutgoingEmail) -> tuple[str, str]:
    sender, recipient = parseaddr(email.sender)[1], parseaddr(email.to)[1]
    if "@" not in sender or "@" not in recipient:
        raise MailRejected(f"no usable envelope address in sender {email.sender!r} or recipient {email.to!r}")
    return sender, recipient


def _by_code(code: int, text: bytes | str, what: str) -> MailError:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    message = f"{what}: {code} {reply}"
    if 500 <= code < 600:
        return MailRejected(message)
    return MailDeferred(message)


def classify(exc: smtplib.SMTPException) -> MailError:
    """MailRejected for a 5xx reply about the message, MailDeferred for anything else."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (450, b"recipient refused"))
        return _by_code(code, text, "recipient refused")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, exc.smtp_error, type(exc).__name__)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailRejected(f"the server cannot take this message: {exc}")  # e.g. SMTPUTF8 addresses
    return MailDeferred(f"{type(exc).__name__}: {exc}")


def _closing(exc: smtplib.SMTPException) -> bool:
    """The server has gone: disconnected, or said 421 (smtplib then closes its end)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == SERVICE_CLOSING for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == SERVICE_CLOSING


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        security: Security = "none",
        timeout_s: float = 10,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {security!r}")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._security = security
        self._timeout_s = timeout_s
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    def send(self, email: OutgoingEmail) -> str:
        message = compose(email)
        sender, recipient = envelope(email)
        try:
            try:
                self._transmit(message, sender, recipient)
            except smtplib.SMTPException as exc:
                if not _closing(exc):
                    raise
                self._discard()  # a kept connection the server dropped: one more, fresh
                self._transmit(message, sender, recipient)
        except smtplib.SMTPException as exc:
            if _closing(exc):
                self._discard()
            raise classify(exc) from exc
        except OSError as exc:  # the socket failed outside smtplib's own wrapping (TLS, timeouts)
            self._discard()
            raise MailDeferred(f"{type(exc).__name__}: {exc}") from exc
        return email.message_id

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _transmit(self, message: EmailMessage, sender: str, recipient: str) -> None:
        smtp = self._smtp or self._connect()
        smtp.send_message(message, from_addr=sender, to_addrs=[recipient])

    def _connect(self) -> smtplib.SMTP:
        """A ready connection (EHLO, TLS, AUTH done); MailDeferred if there is none to have."""
        context = ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self._security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self._host, self._port, self._local_hostname, timeout=self._timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, self._local_hostname, timeout=self._timeout_s)
            smtp.ehlo()
            if self._security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self._username is not None:
                smtp.login(self._username, self._password or "")
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
            raise MailDeferred(
                f"cannot connect to {self._host}:{self._port}: {type(exc).__name__}: {exc}"
            ) from exc
        self._smtp = smtp
        return smtp

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()
