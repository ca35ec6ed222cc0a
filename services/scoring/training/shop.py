"""A shop's own answers as labelled data: the score a customer gave says how their comment reads.

Only the ends of each scale are used (a 7 on NPS says little about the words): NPS 0-2 negative and
9-10 positive, CSAT 1 negative and 5 positive, CES 6-7 negative (a great deal of effort) and 1 positive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from services.scoring.training.data import Example

# survey type → (negative scores, positive scores)
ENDS: dict[str, tuple[frozenset[int], frozenset[int]]] = {
    "nps": (frozenset({0, 1, 2}), frozenset({9, 10})),
    "csat": (frozenset({1}), frozenset({5})),
    "ces": (frozenset({6, 7}), frozenset({1})),
}
MIN_CHARS = 3


class AnsweredInvitation(Protocol):
    """What an answered invitation carries (services/feedback's Invitation has these)."""

    @property
    def invite_id(self) -> str: ...
    @property
    def score(self) -> int | None: ...
    @property
    def comment(self) -> str | None: ...
    @property
    def survey_type(self) -> object: ...


def label_for(survey_type: str, score: int) -> str | None:
    negative, positive = ENDS.get(survey_type, (frozenset(), frozenset()))
    if score in negative:
        return "negative"
    if score in positive:
        return "positive"
    return None


def shop_examples(shop_id: str, answers: Iterable[AnsweredInvitation]) -> list[Example]:
    examples = []
    for answer in answers:
        comment = (answer.comment or "").strip()
        if answer.score is None or len(comment) < MIN_CHARS:
            continue
        kind = getattr(answer.survey_type, "value", answer.survey_type)
        label = label_for(str(kind), answer.score)
        if label is not None:
            examples.append(
                Example(source=f"shop:{shop_id}", id=answer.invite_id, text=comment, sentiment=label)
            )
    return examples
