"""An e-mail ready to send, and the port that sends it (SES in AWS, SMTP anywhere)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class OutgoingEmail(BaseModel):
    model_config = ConfigDict(frozen=True)

    sender: str  # "Brand Name <surveys@brand.example>"
    to: str
    reply_to: str | None = None
    subject: str
    html: str
    text: str
    # Our own Message-ID ("<id@domain>"): the same for a retried send, so receivers can drop a copy.
    message_id: str
    # RFC 8058 and friends: List-Unsubscribe, List-Unsubscribe-Post.
    headers: dict[str, str] = Field(default_factory=dict)
    # Provider tags that come back on bounce and complaint notifications (SES EmailTags).
    tags: dict[str, str] = Field(default_factory=dict)


# Headers a mailer sets from OutgoingEmail's own fields or the MIME structure (and SES sets itself): an
# entry of ``OutgoingEmail.headers`` never repeats them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "return-path",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)


class MailError(Exception):
    """Sending failed. ``permanent`` failures are never retried; the others are, with backoff."""

    permanent = False

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class MailRejected(MailError):
    """The provider refused this message for good (bad address, unverified sender, content)."""

    permanent = True


class MailDeferred(MailError):
    """Throttled, or the provider or network failed transiently: try again later."""


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send one message; return the provider's id for it. Raises MailRejected or MailDeferred."""
        ...

    def close(self) -> None:
        """Release connections kept open between sends of one dispatcher run."""
        ...
