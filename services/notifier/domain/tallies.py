"""What one answer or mention adds to its day's totals, and what the feed filters on.

The dashboard's overview, trends and themes read one small item per day (``DAY#<date>``) instead of
the answers themselves, so a year of a busy shop costs a few hundred reads, never a scan. Each stored
answer or mention remembers its own contribution (a :class:`Tally`); when it changes (a new revision, a
reading), the store takes the old contribution off and puts the new one on in one transaction, so the
totals stay exact under duplicates, reorderings and retries.

Counter names (numbers in the day's item):
- ``a_<type>_<score>``: answers of a survey type with that score (a histogram: every metric and its
  interval is computed from it exactly); ``c_<type>``: of them, with a comment;
- ``s_<label>``: answers read as positive/neutral/negative;
- ``t_<theme>``, ``tn_<theme>``, ``tp_<theme>``: answers naming a theme, negatively, positively;
- ``m_<source>``, ``r_<source>_<stars>``, ``ms_<label>``, ``mt_<theme>``, ``mtn_<theme>``,
  ``mtp_<theme>``: the same for reviews and mentions;
- ``xa_<type>_<score>_<theme>``: answers naming a theme negatively, per survey type and score, and
  ``xr_<stars>_<theme>``: rated reviews naming it negatively, per stars (what a theme costs the score,
  shared/impact.py, is computed from these and the histograms above);
- ``k_...``: the cases' service figures (domain/service_kpis.py).
Days are UTC dates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.model import Mention, SurveyAnswer
from shared.sentiment import ThemeScore

SURVEY_CHANNEL = "email"  # every survey answer so far comes from the e-mailed survey
RATING_SCALE = 5.0


class Tally(BaseModel):
    """One record's share of its day's totals."""

    model_config = ConfigDict(frozen=True)

    day: str = ""  # YYYY-MM-DD; "" when the record adds nothing yet (a reading before its answer)
    counts: dict[str, int] = Field(default_factory=dict)


class FeedFields(BaseModel):
    """What the feed filters on, kept beside the record as plain attributes."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str  # response | mention
    channel: str
    survey_type: str | None = None
    score: int | None = None
    rating: float | None = None
    sentiment: str | None = None
    themes: tuple[str, ...] = ()
    has_text: bool = False


def day_of(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def _themes(prefix: str, themes: Iterable[ThemeScore]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for theme in {t.theme: t for t in themes}.values():  # a theme counts once per text
        counts[f"{prefix}t_{theme.theme}"] += 1
        if theme.sentiment == "negative":
            counts[f"{prefix}tn_{theme.theme}"] += 1
        elif theme.sentiment == "positive":
            counts[f"{prefix}tp_{theme.theme}"] += 1
    return counts


def negative_themes(themes: Iterable[ThemeScore]) -> list[str]:
    """The themes a text names negatively, each once (its last reading of a theme counts, as in the
    ``tn_`` counters)."""
    return sorted(t.theme for t in {t.theme: t for t in themes}.values() if t.sentiment == "negative")


def answer_tally(answer: SurveyAnswer) -> Tally:
    counts: Counter[str] = Counter({f"a_{answer.survey_type}_{answer.score}": 1})
    if answer.comment:
        counts[f"c_{answer.survey_type}"] += 1
    if answer.sentiment:
        counts[f"s_{answer.sentiment.label}"] += 1
    counts.update(_themes("", answer.themes))
    for theme in negative_themes(answer.themes):
        counts[f"xa_{answer.survey_type}_{answer.score}_{theme}"] += 1
    return Tally(day=day_of(answer.answered_at), counts=dict(counts))


def stars(rating: float) -> int:
    """A rating on 1..5 (a 10-point rating is halved), for the per-star counts."""
    five = rating if rating <= RATING_SCALE else rating / 2
    return min(5, max(1, math.ceil(five - 1e-9)))


def mention_at(mention: Mention) -> datetime:
    """In UTC: a source's own offset would sort it among others by its local clock."""
    return (mention.published_at or mention.scored_at).astimezone(UTC)


def mention_tally(mention: Mention) -> Tally:
    counts: Counter[str] = Counter({f"m_{mention.source}": 1})
    if mention.rating is not None:
        counts[f"r_{mention.source}_{stars(mention.rating)}"] += 1
    if mention.sentiment:
        counts[f"ms_{mention.sentiment.label}"] += 1
    counts.update(_themes("m", mention.themes))
    if mention.rating is not None:
        for theme in negative_themes(mention.themes):
            counts[f"xr_{stars(mention.rating)}_{theme}"] += 1
    return Tally(day=day_of(mention_at(mention)), counts=dict(counts))


def answer_fields(answer: SurveyAnswer) -> FeedFields:
    return FeedFields(
        at=answer.answered_at.astimezone(UTC),
        kind="response",
        channel=SURVEY_CHANNEL,
        survey_type=answer.survey_type,
        score=answer.score,
        sentiment=answer.sentiment.label if answer.sentiment else None,
        themes=tuple(sorted({t.theme for t in answer.themes})),
        has_text=bool(answer.comment),
    )


def mention_fields(mention: Mention) -> FeedFields:
    return FeedFields(
        at=mention_at(mention),
        kind="mention",
        channel=mention.source,
        rating=mention.rating,
        sentiment=mention.sentiment.label if mention.sentiment else None,
        themes=tuple(sorted({t.theme for t in mention.themes})),
        has_text=bool(mention.excerpt),
    )


def changes(old: Tally, new: Tally) -> dict[str, dict[str, int]]:
    """The additions per day that turn ``old`` into ``new`` (zeros left out)."""
    by_day: dict[str, Counter[str]] = {}
    if old.day:
        by_day.setdefault(old.day, Counter()).subtract(old.counts)
    if new.day:
        by_day.setdefault(new.day, Counter()).update(new.counts)
    return {
        day: {k: v for k, v in sorted(counts.items()) if v}
        for day, counts in by_day.items()
        if any(counts.values())
    }


class DayTotals(BaseModel):
    """One day's counters as read back."""

    model_config = ConfigDict(frozen=True)

    day: date
    counts: dict[str, int] = Field(default_factory=dict)


def summed(days: Iterable[DayTotals]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for d in days:
        total.update(d.counts)
    return dict(total)


def with_prefix(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    """The counters named ``<prefix><rest>``, by rest (zeros left out)."""
    return {k.removeprefix(prefix): v for k, v in counts.items() if k.startswith(prefix) and v}


def histogram(counts: Mapping[str, int], survey_type: str) -> dict[int, int]:
    """Answers of a survey type per score, from ``a_<type>_<score>`` counters."""
    return {int(k): v for k, v in with_prefix(counts, f"a_{survey_type}_").items() if k.isdigit() and v > 0}


def theme_histograms(counts: Mapping[str, int], survey_type: str) -> dict[str, dict[int, int]]:
    """Per theme, the answers of a survey type naming it negatively, per score (``xa_`` counters)."""
    found: dict[str, dict[int, int]] = {}
    for rest, n in with_prefix(counts, f"xa_{survey_type}_").items():
        score, _, theme = rest.partition("_")
        if score.isdigit() and theme and n > 0:
            found.setdefault(theme, {})[int(score)] = n
    return found


def stars_histogram(counts: Mapping[str, int]) -> dict[int, int]:
    """Rated reviews per stars, all sources (``r_<source>_<stars>``)."""
    found: Counter[int] = Counter()
    for rest, n in with_prefix(counts, "r_").items():
        star = rest.rsplit("_", 1)[-1]
        if star.isdigit() and n > 0:
            found[int(star)] += n
    return dict(found)


def theme_star_histograms(counts: Mapping[str, int]) -> dict[str, dict[int, int]]:
    """Per theme, the rated reviews naming it negatively, per stars (``xr_`` counters)."""
    found: dict[str, dict[int, int]] = {}
    for rest, n in with_prefix(counts, "xr_").items():
        star, _, theme = rest.partition("_")
        if star.isdigit() and theme and n > 0:
            found.setdefault(theme, {})[int(star)] = n
    return found
