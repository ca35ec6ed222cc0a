"""Reviews pushed to us: the generic signed review webhook (any platform) and Trustpilot's webhooks.

Both are verified before anything is read: the generic one with Standard Webhooks signatures against
the shop's webhook secret (the previous secret is accepted during a rotation), Trustpilot's with the
token in its URL (Trustpilot signs nothing). Unknown shops and wrong signatures get the same 401.
The items then take the pulled reviews' path: stored, then announced.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.reviews.connectors.trustpilot import parse_webhook
from services.reviews.connectors.webhook_payload import parse_review_webhook
from services.reviews.domain.errors import Malformed
from services.reviews.domain.ingest import Ingested, MentionPublisher, ReviewStore, ingest
from services.reviews.domain.pulling import Credentials
from shared import signatures
from shared.errors import BadRequest, PayloadTooLarge, Unauthorized

MAX_BODY = 1024 * 1024
GENERIC = "webhook"
TRUSTPILOT = "trustpilot"


@dataclass(frozen=True)
class Pushed:
    shop_id: str
    source: str  # webhook / trustpilot
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes


def accept_pushed(
    push: Pushed, credentials: Credentials, store: ReviewStore, publisher: MentionPublisher, now: datetime
) -> Ingested:
    if len(push.body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes")
    if push.source not in (GENERIC, TRUSTPILOT):
        raise BadRequest(f"no review webhook for {push.source!r} (use 'webhook' or 'trustpilot')")
    _verify(push, credentials.get(push.shop_id, push.source) or {}, now)
    try:
        if push.source == TRUSTPILOT:
            items = [item for _, item in parse_webhook(push.body)]
        else:
            items = parse_review_webhook(push.body)
    except Malformed as e:
        raise BadRequest(str(e)) from e
    return ingest(store, publisher, push.shop_id, items, now)


def _verify(push: Pushed, secrets: Mapping[str, str], now: datetime) -> None:
    if push.source == TRUSTPILOT:
        expected = secrets.get("webhook_token", "")
        given = push.query.get("token", "")
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            raise Unauthorized("invalid or missing token")
        return
    keys = [k for k in (secrets.get("secret"), secrets.get("previous")) if k]
    try:
        valid = bool(keys) and signatures.verify_standard(keys, push.body, push.headers, now=now.timestamp())
    except signatures.TimestampOutOfRange as e:
        raise Unauthorized(str(e)) from e
    if not valid:
        raise Unauthorized("invalid or missing signature")
