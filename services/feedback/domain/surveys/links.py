"""The signed links of a survey e-mail: a score to record, and the unsubscribe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.feedback.domain.surveys.invitations import Invitation
from shared import links as tokens


@dataclass(frozen=True)
class Links:
    """Builds the signed links of an e-mail. ``keys[0]`` signs."""

    public_url: str
    keys: Sequence[bytes]

    def answer(self, inv: Invitation, score: int, expires_at: datetime) -> str:
        token = tokens.issue(self.keys[0], tokens.Purpose.ANSWER, inv.shop_id, inv.invite_id, expires_at)
        return f"{self.public_url}/r/{token}?score={score}"

    def unsubscribe(self, inv: Invitation, expires_at: datetime) -> str:
        token = tokens.issue(self.keys[0], tokens.Purpose.UNSUBSCRIBE, inv.shop_id, inv.invite_id, expires_at)
        return f"{self.public_url}/u/{token}"
