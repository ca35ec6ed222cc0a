"""The scoring service's readings of answers, kept on the invitation they belong to (shared/readings.py
has the rule: the newest revision wins, under the invitation's optimistic version)."""

from __future__ import annotations

from enum import StrEnum

from services.feedback.domain.ports import SurveyStore, Written
from shared.events import FeedbackScored
from shared.readings import keep_newest


class Kept(StrEnum):
    STORED = "stored"
    STALE = "stale"  # the invitation holds a reading of the same or a newer revision
    UNKNOWN = "unknown"  # no such invitation (erased since, or another shop's)
    NOT_A_RESPONSE = "not_a_response"


def keep_reading(surveys: SurveyStore, shop_id: str, scored: FeedbackScored) -> Kept:
    if scored.subject != "response":
        return Kept.NOT_A_RESPONSE
    kept = keep_newest(
        lambda: surveys.invitation(shop_id, scored.subject_id),
        lambda updated, version: surveys.write(updated, version) is Written.OK,
        scored.reading(),
        f"invitation {scored.subject_id}",
    )
    return Kept(kept.value)
