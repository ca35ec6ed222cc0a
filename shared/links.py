"""Signed, expiring link tokens: score and unsubscribe links in survey e-mails, approve links in alerts.

A token names one record of one shop (an invitation, a case) and what it may do (answer, unsubscribe,
approve a reply). It carries no
personal data and is verified in constant time; anything wrong with it (tampered, truncated,
expired, another purpose, a retired key) reads as "no such token", so a guesser learns nothing.
Several keys may be valid at once: the first signs, the others still verify (key rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

MAC_BYTES = 16
MAX_TOKEN_CHARS = 200
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


class Purpose(StrEnum):
    ANSWER = "r"
    UNSUBSCRIBE = "u"
    APPROVE = "a"  # an owner's link to a case: see its reply, send or close it
    SESSION = "s"  # an owner's dashboard session (names the API key that logged in)
    CSRF = "c"  # a dashboard form's token (names the session it belongs to)


@dataclass(frozen=True)
class Claims:
    purpose: Purpose
    shop_id: str
    invite_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"cxloop-link|" + payload, hashlib.sha256).digest()[:MAC_BYTES]


def issue(key: bytes, purpose: Purpose, shop_id: str, invite_id: str, expires_at: datetime) -> str:
    payload = f"{purpose.value}|{shop_id}|{invite_id}|{int(expires_at.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def _decode(token: str) -> tuple[bytes, bytes] | None:
    """(payload, mac) of a well-formed token; one spelling per token (no spare bits, padding or
    alphabet variants), so a changed character is never the same token."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    body, _, mac = token.partition(".")
    if not _ALPHABET.match(body) or not _ALPHABET.match(mac):
        return None
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        return None
    if _b64(payload) != body or _b64(given) != mac:
        return None
    return payload, given


def _claims(payload: bytes) -> Claims | None:
    try:
        kind, shop_id, iid, expires = payload.decode().split("|")
        return Claims(Purpose(kind), shop_id, iid, datetime.fromtimestamp(int(expires), tz=UTC))
    except (ValueError, OverflowError, OSError):
        return None


def read(keys: Sequence[bytes], token: str, purpose: Purpose, now: datetime) -> Claims | None:
    """The token's claims if it is genuine, unexpired and for ``purpose``; otherwise None."""
    decoded = _decode(token)
    if decoded is None:
        return None
    payload, given = decoded
    if not any(hmac.compare_digest(_mac(key, payload), given) for key in keys):
        return None
    claims = _claims(payload)
    if claims is None or claims.purpose is not purpose or now >= claims.expires_at:
        return None
    return claims
