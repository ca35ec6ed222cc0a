"""From events to readings: which text of an event is scored, and what FeedbackScored says about it.

Pure: the model is a function passed in (``Score``), the shop's taxonomy comes from a port. A batch is
scored in one model call per shop, since the model is fastest on many texts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.scoring.domain.ports import TaxonomyStore
from services.scoring.domain.taxonomy import DEFAULT, Taxonomy
from shared import events
from shared.errors import BadRequest
from shared.sentiment import Scored

EXCERPT_CHARS = 280
Score = Callable[[Sequence[tuple[str, str]], Taxonomy], list[Scored]]


@dataclass(frozen=True)
class Subject:
    """One thing to score: the event it came from and the text in it."""

    shop_id: str
    correlation_id: str
    subject: str  # response / mention
    subject_id: str
    revision: int
    key: str
    text: str
    context: dict[str, Any]


def subject_of(detail_type: str, envelope: events.Envelope) -> Subject | None:
    """None when the event carries nothing to read (a score without a comment)."""
    try:
        if detail_type == events.RESPONSE_RECORDED:
            return _response(envelope)
        if detail_type == events.MENTION_INGESTED:
            return _mention(envelope)
    except ValidationError as e:
        raise BadRequest(f"{detail_type} data is malformed: {e.errors()[0]['msg']}") from e
    raise BadRequest(f"not an event the scoring service reads: {detail_type!r}")


def _response(envelope: events.Envelope) -> Subject | None:
    r = events.ResponseRecorded.model_validate(envelope.data)
    context = {"survey_type": r.survey_type, "score": r.score, "order_id": r.order_id}
    return _subject(envelope, "response", r.invite_id, r.revision, (r.comment, r.follow_up_answer), context)


def _mention(envelope: events.Envelope) -> Subject | None:
    """A review with stars but no words is still a review: it goes on unread (flag ``no_text``), so its
    rating is counted downstream; a mention with neither has nothing to say."""
    m = events.MentionIngested.model_validate(envelope.data)
    context = {"source": m.source, "rating": m.rating, "url": m.url, "published_at": m.published_at,
               "takes_replies": m.takes_replies}  # fmt: skip
    parts = (m.title, m.text)
    return _subject(envelope, "mention", m.mention_id, m.revision, parts, context, rated=m.rating is not None)


def _subject(
    envelope: events.Envelope,
    kind: str,
    subject_id: str,
    revision: int,
    parts: tuple[str | None, ...],
    context: dict[str, Any],
    rated: bool = False,
) -> Subject | None:
    """The event's texts joined one per line; None when there are none (and no rating to pass on)."""
    text = "\n".join(t.strip() for t in parts if t and t.strip())
    if not text and not rated:
        return None
    key = f"{subject_id}#{revision}"
    return Subject(envelope.shop_id, envelope.correlation_id, kind, subject_id, revision, key, text, context)


def score_all(subjects: Sequence[Subject], score: Score, taxonomies: TaxonomyStore) -> dict[str, Scored]:
    """Readings by subject key: one model call per shop, with that shop's taxonomy; a subject without
    words (a star-only review) is not read, and says so."""
    by_shop: dict[str, list[Subject]] = {}
    readings: dict[str, Scored] = {}
    for s in subjects:
        if s.text:
            by_shop.setdefault(s.shop_id, []).append(s)
        else:
            readings[s.key] = Scored(id=s.key, sentiment=None, language="und", flags=["no_text"], taxonomy="")
    for shop_id, group in by_shop.items():
        taxonomy = taxonomies.get(shop_id) or DEFAULT
        for reading in score([(s.key, s.text) for s in group], taxonomy):
            readings[reading.id] = reading
    return readings


def scored_event(subject: Subject, reading: Scored, now: datetime) -> events.FeedbackScored:
    return events.FeedbackScored(
        subject=subject.subject,
        subject_id=subject.subject_id,
        revision=subject.revision,
        key=subject.key,
        scored_at=now,
        excerpt=subject.text[:EXCERPT_CHARS],
        **reading.model_dump(exclude={"id"}),
        **subject.context,
    )
