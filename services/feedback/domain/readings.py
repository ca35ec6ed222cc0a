"""The scoring service's readings of answers, kept on the invitation they belong to.

A reading is for one revision of the answer. Only a reading at least as new as the one held is
stored (a redelivered or late one for an older revision changes nothing), under the invitation's
optimistic version like every other write.
"""

from __future__ import annotations

from enum import StrEnum

from services.feedback.domain.ports import SurveyStore, Written
from shared.events import FeedbackScored

ATTEMPTS = 5


class Kept(StrEnum):
    STORED = "stored"
    STALE = "stale"  # the invitation holds a reading of the same or a newer revision
    UNKNOWN = "unknown"  # no such invitation (erased since, or another shop's)
    NOT_A_RESPONSE = "not_a_response"


def keep_reading(surveys: SurveyStore, shop_id: str, scored: FeedbackScored) -> Kept:
    if scored.subject != "response":
        return Kept.NOT_A_RESPONSE
    reading = scored.reading()
    for _ in range(ATTEMPTS):
        current = surveys.invitation(shop_id, scored.subject_id)
        if current is None:
            return Kept.UNKNOWN
        if current.reading is not None and current.reading.revision >= scored.revision:
            return Kept.STALE
        updated = current.model_copy(update={"reading": reading, "version": current.version + 1})
        if surveys.write(updated, current.version) is Written.OK:
            return Kept.STORED
    raise RuntimeError(f"invitation {scored.subject_id}: {ATTEMPTS} conflicting writes in a row")
