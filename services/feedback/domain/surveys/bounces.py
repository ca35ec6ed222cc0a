"""SES bounce and complaint notifications → suppressed addresses.

Two shapes arrive on the mail-events queue: the EventBridge event SES publishes on the default bus
(``detail-type: Email Bounced``), and the same event publishing record wrapped in an SNS notification.
Both carry the message's tags, which name the shop and invitation (set by the dispatcher). Only
permanent bounces and complaints suppress; transient bounces (mailbox full) do not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.feedback.domain.orders.normalise import email_key, to_utc
from services.feedback.domain.ports import EventPublisher, SurveyStore
from services.feedback.domain.surveys.answers import announce_suppressed, suppress_address
from services.feedback.domain.surveys.invitations import Reason
from shared.errors import BadRequest


@dataclass(frozen=True)
class MailFeedback:
    shop_id: str
    invite_id: str | None
    email: str
    reason: Reason
    at: datetime | None


def _record(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The SES event record inside either wrapper."""
    if body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        return _record(json.loads(body["Message"]))
    detail = body.get("detail")
    if body.get("source") == "aws.ses" and isinstance(detail, dict):
        return detail
    return body


def _tag(mail: Mapping[str, Any], name: str) -> str | None:
    values = (mail.get("tags") or {}).get(name) or []
    return str(values[0]) if values else None


def _recipients(record: Mapping[str, Any], kind: str) -> tuple[Reason | None, list[str], Any]:
    if kind == "Bounce":
        bounce = record.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None, [], None
        found = [r.get("emailAddress") for r in bounce.get("bouncedRecipients") or []]
        return Reason.BOUNCED, [f for f in found if f], bounce.get("timestamp")
    complaint = record.get("complaint") or {}
    found = [r.get("emailAddress") for r in complaint.get("complainedRecipients") or []]
    return Reason.COMPLAINED, [f for f in found if f], complaint.get("timestamp")


def parse(body: Mapping[str, Any]) -> list[MailFeedback]:
    """What to suppress; [] for notifications that suppress nothing (deliveries, transient bounces)."""
    try:
        record = _record(body)
    except (json.JSONDecodeError, TypeError) as e:
        raise BadRequest(f"unreadable SNS message: {e}") from e
    kind = record.get("eventType") or record.get("notificationType")
    if kind not in ("Bounce", "Complaint"):
        return []
    mail = record.get("mail") or {}
    shop_id = _tag(mail, "shop")
    if not shop_id:
        raise BadRequest(f"{kind} notification without the 'shop' tag: cannot tell whose it is")
    reason, addresses, when = _recipients(record, kind)
    if reason is None:
        return []
    at = to_utc(when, "timestamp") if when else None
    return [MailFeedback(shop_id, _tag(mail, "invite"), a, reason, at) for a in addresses]


def act(
    surveys: SurveyStore, feedback: list[MailFeedback], now: datetime, publisher: EventPublisher | None = None
) -> int:
    for item in feedback:
        invite = surveys.invitation(item.shop_id, item.invite_id) if item.invite_id else None
        suppress_address(surveys, item.shop_id, email_key(item.email), item.reason, invite, item.at or now)
        if publisher is not None:
            announce_suppressed(publisher, item.shop_id, item.email, item.reason.value)
    return len(feedback)
