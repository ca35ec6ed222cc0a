"""An invitation's state changes: the next version, the suppression-log entry that explains it, and
the conditional write that loses gracefully to another writer. Planning, the dispatcher and the answer
pages all change invitations this one way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.feedback.domain.ports import SurveyStore, Written
from services.feedback.domain.surveys.invitations import Invitation, Reason, SuppressionEntry, mask

RETRIES = 3


def bump(invitation: Invitation, **changes: Any) -> Invitation:
    """The next version of an invitation (validated, so a bad transition fails here, not in storage)."""
    data = invitation.model_dump()
    data.update(changes, version=invitation.version + 1)
    return Invitation.model_validate(data)


def log_entry(invitation: Invitation, reason: Reason, at: datetime, detail: str = "") -> SuppressionEntry:
    return SuppressionEntry(
        at=at,
        invite_id=invitation.invite_id,
        reason=reason,
        order_name=invitation.order_name,
        email_masked=mask(invitation.email),
        detail=detail,
    )


def update(
    surveys: SurveyStore,
    shop_id: str,
    iid: str,
    change: Callable[[Invitation], tuple[Invitation, SuppressionEntry | None] | None],
) -> Invitation | None:
    """Read, change, write conditionally; on a conflict read again (another writer won). ``change``
    returns None when there is nothing (left) to do."""
    for _ in range(RETRIES):
        current = surveys.invitation(shop_id, iid)
        if current is None:
            return None
        decided = change(current)
        if decided is None:
            return current
        new, log = decided
        if surveys.write(new, current.version, log=log) is Written.OK:
            return new
    raise RuntimeError(f"invitation {iid} kept changing under {RETRIES} attempts")
