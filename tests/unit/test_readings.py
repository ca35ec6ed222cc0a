"""The feedback service keeps the scoring service's reading of an answer on its invitation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.invitations import Invitation, Status
from services.feedback.domain.surveys.programme import SurveyType
from services.feedback.domain.surveys.readings import Kept, keep_reading
from shared.events import FeedbackScored
from shared.sentiment import Sentiment, ThemeScore
from tests.fakes import InMemoryFeedbackStore, InMemorySurveyStore

SHOP = "shop-1"
WHEN = datetime(2026, 11, 2, 9, tzinfo=UTC)


def invitation(store: InMemorySurveyStore, revision: int = 1) -> Invitation:
    inv = Invitation(
        shop_id=SHOP, invite_id="inv-1", order_sk="ORDER#shopify#1", survey_type=SurveyType.NPS,
        status=Status.SENT, score=2, comment="Late", revision=revision, version=3,
    )  # fmt: skip
    assert store.write(inv, None) is Written.OK
    return inv


def scored(revision: int = 1, label: str = "negative", **over: Any) -> FeedbackScored:
    data: dict[str, Any] = {
        "subject": "response", "subject_id": "inv-1", "revision": revision, "key": f"inv-1#{revision}",
        "sentiment": Sentiment(label=label, score=-0.8 if label == "negative" else 0.7, confidence=0.9),  # type: ignore[arg-type]
        "themes": [ThemeScore(theme="delivery_shipping", sentiment="negative", score=-0.8)],
        "language": "en", "taxonomy": "ecommerce", "model_version": "m-1", "scored_at": WHEN,
    }  # fmt: skip
    return FeedbackScored.model_validate({**data, **over})


@pytest.fixture
def store() -> InMemorySurveyStore:
    return InMemorySurveyStore(InMemoryFeedbackStore())


def test_a_reading_is_kept_with_its_revision(store: InMemorySurveyStore) -> None:
    invitation(store)
    assert keep_reading(store, SHOP, scored()) is Kept.STORED
    kept = store.invitation(SHOP, "inv-1")
    assert kept is not None and kept.reading is not None
    assert kept.version == 4
    assert (kept.reading.revision, kept.reading.sentiment and kept.reading.sentiment.label) == (1, "negative")
    assert [t.theme for t in kept.reading.themes] == ["delivery_shipping"]
    assert kept.comment == "Late" and kept.score == 2  # the answer itself is untouched


def test_duplicates_and_older_revisions_change_nothing(store: InMemorySurveyStore) -> None:
    invitation(store, revision=2)
    assert keep_reading(store, SHOP, scored(revision=2, label="positive")) is Kept.STORED
    assert keep_reading(store, SHOP, scored(revision=2, label="negative")) is Kept.STALE
    assert keep_reading(store, SHOP, scored(revision=1, label="negative")) is Kept.STALE
    kept = store.invitation(SHOP, "inv-1")
    assert kept is not None and kept.reading is not None
    assert kept.reading.sentiment is not None and kept.reading.sentiment.label == "positive"
    assert kept.version == 4


def test_a_flagged_reading_survives_a_round_trip(store: InMemorySurveyStore) -> None:
    invitation(store)
    keep_reading(store, SHOP, scored(sentiment=None, themes=[], flags=["not_english"], language="de"))
    kept = store.invitation(SHOP, "inv-1")
    assert kept is not None and kept.reading is not None
    again = Invitation.model_validate_json(kept.model_dump_json(exclude_none=True))
    assert again.reading == kept.reading
    assert (
        again.reading is not None
        and again.reading.sentiment is None
        and again.reading.flags == ["not_english"]
    )


def test_unknown_invitations_other_shops_and_mentions_are_left_alone(store: InMemorySurveyStore) -> None:
    invitation(store)
    assert keep_reading(store, "another-shop", scored()) is Kept.UNKNOWN
    assert keep_reading(store, SHOP, scored(subject_id="nope")) is Kept.UNKNOWN
    assert keep_reading(store, SHOP, scored(subject="mention")) is Kept.NOT_A_RESPONSE
    kept = store.invitation(SHOP, "inv-1")
    assert kept is not None and kept.reading is None


def test_a_conflicting_write_is_retried(store: InMemorySurveyStore) -> None:
    invitation(store)
    real_write = store.write
    conflicts = iter([True])

    def racing_write(inv: Invitation, expected: int | None, **kw: Any) -> Written:
        if next(conflicts, False):  # another writer bumps the version first
            current = store.invitation(SHOP, "inv-1")
            assert current is not None
            real_write(current.model_copy(update={"version": current.version + 1}), current.version)
        return real_write(inv, expected, **kw)

    store.write = racing_write  # type: ignore[method-assign]
    assert keep_reading(store, SHOP, scored()) is Kept.STORED
    kept = store.invitation(SHOP, "inv-1")
    assert kept is not None and kept.reading is not None and kept.version == 5
