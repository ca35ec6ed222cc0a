"""Per-theme sentiment: each theme takes the sentiment of the clauses that mention it.

A theme found only by a classifier (no keyword) has no clause of its own and takes the whole text's.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.sentiment import Sentiment, ThemeScore, label_of


@dataclass(frozen=True)
class Probs:
    positive: float
    neutral: float
    negative: float

    @classmethod
    def mean(cls, many: list[Probs]) -> Probs:
        n = len(many)
        return cls(
            sum(p.positive for p in many) / n,
            sum(p.neutral for p in many) / n,
            sum(p.negative for p in many) / n,
        )

    def sentiment(self) -> Sentiment:
        label = label_of(self.positive, self.neutral, self.negative)
        return Sentiment(
            label=label,
            score=round(max(-1.0, min(1.0, self.positive - self.negative)), 4),
            confidence=round(max(self.positive, self.neutral, self.negative), 4),
        )


@dataclass(frozen=True)
class Found:
    theme: str
    clause: int | None  # None: found by a classifier over the whole text


def theme_scores(found: list[Found], clauses: dict[int, Probs], whole: Probs) -> list[ThemeScore]:
    """Themes in order of first mention; classifier-only themes after them."""
    order: list[str] = []
    mentions: dict[str, list[int]] = {}
    for item in sorted(found, key=lambda f: (f.clause is None, f.clause or 0)):
        if item.theme not in mentions:
            order.append(item.theme)
            mentions[item.theme] = []
        if item.clause is not None and item.clause not in mentions[item.theme]:
            mentions[item.theme].append(item.clause)
    scores = []
    for theme in order:
        probs = [clauses[c] for c in mentions[theme] if c in clauses]
        sentiment = (Probs.mean(probs) if probs else whole).sentiment()
        scores.append(ThemeScore(theme=theme, sentiment=sentiment.label, score=sentiment.score))
    return scores
