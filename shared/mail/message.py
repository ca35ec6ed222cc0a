"""An e-mail ready to send, and the port that sends it (SES in AWS, SMTP anywhere)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A Content-ID goes verbatim into a header (``<id>``) and into a URL (``cid:id``, RFC 2392): characters that
# need no escaping in either. SES takes at most 78 (its Attachment.ContentId).
CONTENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,77}$"


class InlineImage(BaseModel):
    """A picture the HTML shows with ``<img src="cid:{content_id}">``.

    Sent inside the message, because Gmail, Outlook and Apple Mail show neither SVG nor ``data:`` URIs
    reliably, while a PNG attached with a Content-ID they do (and without fetching anything remote).
    """

    model_config = ConfigDict(frozen=True)

    content_id: str = Field(pattern=CONTENT_ID)
    filename: str = Field(min_length=1, max_length=255, pattern=r'^[^\x00-\x1f\x7f"\\/]+$')
    content_type: str = Field(default="image/png", max_length=78, pattern=r"^image/[a-z0-9][a-z0-9.+-]*$")
    data: bytes = Field(min_length=1)

    @property
    def src(self) -> str:
        """The value of the ``src`` attribute that shows this image."""
        return f"cid:{self.content_id}"


class RenderedMail(BaseModel):
    """What a template gives: the subject and both parts, before anyone addresses it."""

    model_config = ConfigDict(frozen=True)

    subject: str
    html: str
    text: str


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
    # Images the HTML refers to by ``cid:``; the text part cannot show them.
    inline: tuple[InlineImage, ...] = ()

    @model_validator(mode="after")
    def _distinct_content_ids(self) -> OutgoingEmail:
        ids = [image.content_id for image in self.inline]
        if len(set(ids)) != len(ids):
            raise ValueError(f"inline images need distinct content ids: {ids}")
        return self


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
