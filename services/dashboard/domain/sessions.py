"""Dashboard sessions and their CSRF tokens, both signed with the stack's link keys.

The session cookie names the shop and the API key that logged in (never the key itself), and expires;
every request also checks that key is still active, so revoking it ends its sessions at once. A form's
CSRF token is bound to the session it was issued for (a digest of the cookie), so a token from another
session, or a cross-site form without one, is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.links import Purpose, issue, read

SESSION_COOKIE = "cx_session"
SESSION_HOURS = 12


@dataclass(frozen=True)
class Session:
    shop_id: str
    key_id: str
    token: str


def start(keys: Sequence[bytes], shop_id: str, key_id: str, now: datetime) -> Session:
    expires = now + timedelta(hours=SESSION_HOURS)
    return Session(shop_id, key_id, issue(keys[0], Purpose.SESSION, shop_id, key_id, expires))


def resume(keys: Sequence[bytes], token: str | None, now: datetime) -> Session | None:
    claims = read(keys, token or "", Purpose.SESSION, now)
    return Session(claims.shop_id, claims.invite_id, token or "") if claims else None


def _bound(session: Session) -> str:
    return hashlib.sha256(session.token.encode()).hexdigest()[:24]


def csrf_token(keys: Sequence[bytes], session: Session, now: datetime) -> str:
    expires = now + timedelta(hours=SESSION_HOURS)
    return issue(keys[0], Purpose.CSRF, session.shop_id, _bound(session), expires)


def csrf_ok(keys: Sequence[bytes], session: Session, token: str | None, now: datetime) -> bool:
    claims = read(keys, token or "", Purpose.CSRF, now)
    return claims is not None and claims.shop_id == session.shop_id and claims.invite_id == _bound(session)
