"""The Mailer port over Amazon SES v2 ``SendEmail`` with ``Content.Simple``: SES builds the MIME.

Subject, text and HTML go as UTF-8 (a non-ASCII display name in an address as an RFC 2047 encoded-word);
each of ``email.headers`` (List-Unsubscribe, List-Unsubscribe-Post) goes once in ``Simple.Headers``;
``email.tags`` go as ``EmailTags`` (they come back on bounce, complaint and delivery events); the
configuration set when one is given. Each of ``email.inline`` goes in ``Simple.Attachments`` with
``ContentDisposition`` INLINE, its ``ContentId`` (what the HTML's ``cid:`` URLs name), ``FileName``,
``ContentType`` and ``ContentTransferEncoding`` BASE64 (SES's default, SEVEN_BIT, does not fit binary PNG
bytes); ``RawContent`` is the bytes themselves, botocore base64-encodes them for the JSON request. SES then
builds the MIME (https://docs.aws.amazon.com/ses/latest/dg/attachments.html).

Our Message-ID is **not** sent. The SES developer guide (https://docs.aws.amazon.com/ses/latest/dg/
header-fields.html): "If you provide a Message-ID header, Amazon SES overrides the header with its own
value"; and with Simple or Template content "you cannot set custom header content for headers that are set
by SES", a list that begins "BCC, CC, Content-Disposition, Content-Type, Date, From, Message-...". So the
names in RESERVED_HEADERS are dropped from ``email.headers``, and ``send`` returns the id SES answers with
(``MessageId``), the one its notifications carry. A retried send is a new message for SES: dedupe of
retries is the caller's (tags identify the invitation on the notifications).

Tag names and values: the SES v2 API reference (MessageTag) allows only ASCII letters, digits, ``_`` and
``-``, at most 256 characters; anything else becomes ``_`` (so ``shop-a.example`` is ``shop-a_example``).

Errors (botocore ClientError codes; botocore itself has already retried throttles per its config):
- MailDeferred: TooManyRequestsException / Throttling (the per-second sending rate), LimitExceededException
  (a daily quota is deferred an hour), ServiceUnavailable / InternalFailure, any 5xx, network errors
  (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError...), and codes we do not know (an unknown
  error is no reason to drop a customer's e-mail; the dispatcher's attempts are bounded).
- SendingPausedException: MailDeferred with ``retry_after_s=900``. A pause (by us, or by SES while it
  reviews the account's bounce or complaint rate) is lifted without the message changing, but not within
  seconds; AccountSuspendedException ("permanently restricted") is MailRejected.
- MailRejected: MessageRejected, MailFromDomainNotVerifiedException, AccountSuspendedException,
  BadRequestException, NotFoundException, and a request botocore refuses to send (ParamValidationError).
"""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from shared.mail.message import (
    RESERVED_HEADERS,
    InlineImage,
    MailDeferred,
    MailError,
    MailRejected,
    OutgoingEmail,
)

UTF8 = "UTF-8"
PAUSED_RETRY_S = 900.0
DAILY_QUOTA_RETRY_S = 3600.0
TAG_MAX = 256
UNSAFE_TAG_CHARS = re.compile(r"[^A-Za-z0-9_-]")


TRANSIENT = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
        "RequestTimeout",
    }
)
PERMANENT = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "BadRequestException",
        "NotFoundException",
        # moto (and SES v1) name a malformed address so
        "InvalidParameterValue",
    }
)


def tag_token(value: str) -> str:
    return UNSAFE_TAG_CHARS.sub("_", value)[:TAG_MAX] or "_"


def email_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """SES-safe tags; the first of two names that sanitise alike wins (SES refuses a name twice)."""
    safe: dict[str, str] = {}
    for name, value in tags.items():
        safe.setdefault(tag_token(name), tag_token(value))
    return [{"Name": name, "Value": value} for name, value in safe.items()]


def address(value: str) -> str:
    """SES takes no raw UTF-8 in addresses: a non-ASCII display name goes as an RFC 2047 encoded-word."""
    if value.isascii():
        return value
    return formataddr(parseaddr(value), charset="utf-8")


def attachment(image: InlineImage) -> dict[str, Any]:
    """An SES v2 ``Attachment`` the HTML shows in place (``cid:``), not one offered for download."""
    return {
        "RawContent": image.data,
        "FileName": image.filename,
        "ContentType": image.content_type,
        "ContentDisposition": "INLINE",
        "ContentId": image.content_id,
        "ContentTransferEncoding": "BASE64",
    }


def request(email: OutgoingEmail, configuration_set: str | None = None) -> dict[str, Any]:
    """The ``send_email`` parameters for ``email``."""
    simple: dict[str, Any] = {
        "Subject": {"Data": email.subject, "Charset": UTF8},
        "Body": {
            "Text": {"Data": email.text, "Charset": UTF8},
            "Html": {"Data": email.html, "Charset": UTF8},
        },
    }
    headers = {name.lower(): (name, value) for name, value in email.headers.items()}  # once per name
    listed = [
        {"Name": name, "Value": value}
        for key, (name, value) in headers.items()
        if key not in RESERVED_HEADERS
    ]
    if listed:
        simple["Headers"] = listed
    if email.inline:
        simple["Attachments"] = [attachment(image) for image in email.inline]
    params: dict[str, Any] = {
        "FromEmailAddress": address(email.sender),
        "Destination": {"ToAddresses": [address(email.to)]},
        "Content": {"Simple": simple},
    }
    if email.reply_to:
        params["ReplyToAddresses"] = [address(email.reply_to)]
    if email.tags:
        params["EmailTags"] = email_tags(email.tags)
    if configuration_set:
        params["ConfigurationSetName"] = configuration_set
    return params


def classify(exc: ClientError) -> MailError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    text = f"SES {code}: {error.get('Message', '')}".rstrip(": ")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code == "SendingPausedException":
        return MailDeferred(text, retry_after_s=PAUSED_RETRY_S)
    if code == "LimitExceededException" and "daily" in text.lower():
        return MailDeferred(text, retry_after_s=DAILY_QUOTA_RETRY_S)
    if code in PERMANENT and status < 500:
        return MailRejected(text)
    if code in TRANSIENT:
        return MailDeferred(text)
    return MailDeferred(f"{text} (HTTP {status}, unknown: retried)")


class SesMailer:
    def __init__(self, sesv2: Any, configuration_set: str | None = None) -> None:
        self._ses = sesv2
        self._configuration_set = configuration_set

    def send(self, email: OutgoingEmail) -> str:
        try:
            response = self._ses.send_email(**request(email, self._configuration_set))
        except ClientError as exc:
            raise classify(exc) from exc
        except ParamValidationError as exc:
            raise MailRejected(f"SES would refuse this request: {exc}") from exc
        except BotoCoreError as exc:  # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ...
            raise MailDeferred(f"{type(exc).__name__}: {exc}") from exc
        return str(response["MessageId"])

    def close(self) -> None:
        """Nothing to release: the botocore client pools its own connections."""
