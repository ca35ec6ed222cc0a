"""Survey invitations: one per order, from planned to sent to answered, and every reason not to send.

An invitation's id is derived from the shop and the order, so planning the same order twice (Shopify
sends duplicates; a late fulfilment re-plans) always lands on the same record.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.domain.surveys.programme import SurveyType
from shared.sentiment import Reading


class Status(StrEnum):
    PLANNED = "planned"  # waiting for its send time
    SENDING = "sending"  # claimed by a dispatcher (a lease: it comes back if the dispatcher dies)
    SENT = "sent"  # the first e-mail went out (a reminder may still be due)
    CANCELLED = "cancelled"  # the order was cancelled or refunded before the send
    SUPPRESSED = "suppressed"  # a rule said no: see ``reason``
    FAILED = "failed"  # the provider refused it for good


class Reason(StrEnum):
    """Why a survey was not sent: the suppression log's vocabulary."""

    THROTTLED = "throttled"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    SAMPLED_OUT = "sampled_out"
    NO_EMAIL = "no_email"
    TOO_LATE = "too_late"  # the delivery was older than max_lateness_days when it reached us
    DISABLED = "disabled"  # the shop switched its programme off before the send
    FAILED = "failed"  # the mail provider refused the message permanently
    TEST_ORDER = "test_order"  # the platform marks it a test (Shopify's "test": true)


class Stage(StrEnum):
    INVITE = "invite"
    REMINDER = "reminder"


def invite_id(shop_id: str, order_sk: str) -> str:
    """Deterministic and opaque: 26 base32 characters of a digest of the shop and the order."""
    digest = hashlib.sha256(f"{shop_id}|{order_sk}".encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:26]


def invitation_sk(iid: str) -> str:
    return f"SURVEY#{iid}"


class Invitation(BaseModel):
    """The stored invitation, with the answer it received."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    invite_id: str
    order_sk: str
    order_name: str = ""
    email: str | None = None
    first_name: str | None = None
    customer_key: str | None = None
    contact_key: str | None = None  # the e-mail's key: throttling and suppression are per address
    survey_type: SurveyType
    status: Status
    reason: Reason | None = None
    stage: Stage = Stage.INVITE  # what the next send is
    due_at: datetime | None = None  # set while a send is due
    planned_at: datetime | None = None
    sent_at: datetime | None = None
    reminded_at: datetime | None = None
    message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    claim: str | None = None  # the dispatcher run holding the lease
    score: int | None = None
    answered_at: datetime | None = None
    comment: str | None = None
    follow_up_answer: str | None = None
    revision: int = 0  # bumped by each recorded change of the answer
    published_revision: int = 0  # the last revision announced as ResponseRecorded
    reading: Reading | None = None  # the newest revision's reading, once scored
    # Optimistic concurrency: every write is conditional on the version it read, and bumps it.
    version: int = 0

    @property
    def due(self) -> bool:
        return self.due_at is not None


class SuppressionEntry(BaseModel):
    """One decision not to send, as the owner reads it (the address masked)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    invite_id: str
    reason: Reason
    order_name: str = ""
    email_masked: str = ""
    detail: str = Field(default="", max_length=500)


def mask(email: str | None) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``: enough for the owner to recognise, no more."""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


class Contact(BaseModel):
    """One address, per shop: when it was last surveyed and whether it must never be mailed again."""

    model_config = ConfigDict(frozen=True)

    key: str
    suppressed: Reason | None = None
    suppressed_at: datetime | None = None
    last_surveyed_at: datetime | None = None
    last_invite: str | None = None


class GuardMode(StrEnum):
    SURVEY = "survey"  # not suppressed, not surveyed since ``since`` (unless by this invitation); mark it
    REMINDER = "reminder"  # not suppressed
    RELEASE = "release"  # a send failed for good: the survey does not count against the throttle


class ContactGuard(BaseModel):
    """The contact condition (and update) that goes in the same transaction as an invitation write."""

    model_config = ConfigDict(frozen=True)

    key: str
    mode: GuardMode
    invite_id: str
    at: datetime
    since: datetime | None = None
