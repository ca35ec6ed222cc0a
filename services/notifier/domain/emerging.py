"""Emerging topics (decision 124): two-word phrases that rise this week against the shop's own history
and that no theme caught, with examples ("new: missing buttons, 7 mentions, 0 last month").

Only texts the scoring service read and found no theme in are counted: those are what the taxonomy
misses. A text counts a phrase once. A phrase is emerging when this week has at least ``MIN_NOW`` texts
with it and that many would happen by chance (Poisson, at its rate over the weeks before, at least a
quarter of a text a week) with probability below 1 % divided by the number of phrases the week has:
every phrase is a test, and the week as a whole should raise a false alarm less than once in a hundred.

Past weeks are counted once, when they are over, and kept as one small item a week (the daily job
writes the weeks it lacks); the week so far is counted from its own texts. Pure: texts in, topics out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.model import Mention, SurveyAnswer
from services.notifier.domain.tallies import mention_at

if TYPE_CHECKING:
    from services.notifier.domain.ports import NotifierStore

HISTORY_WEEKS = 4
MIN_NOW = 3
SURPRISE = 0.01
RATE_FLOOR = 0.25
TOP = 10
EXAMPLES = 3
EXAMPLE_CHARS = 160
MAX_PHRASES = 10_000  # kept of a week (well under DynamoDB's 400 KB an item)

_CLAUSE = re.compile(r"[.,;:!?()\[\]\n\"]+")
_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")
_STOPWORDS = """
a about after again all also am an and any are as at be because been before being but by can
could did do does doing don't for from get got had has have having he her here him his how i i'm
if in into is it it's its just me more most my no not now of off on once only or other our out
over own really same she so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who why will with would
you your yours much many still even ever never one two
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def phrases(text: str) -> set[str]:
    """The two-word phrases of a text: adjacent words of one clause, neither a stopword, lower case."""
    found: set[str] = set()
    for clause in _CLAUSE.split(text.lower()):
        pairs = itertools.pairwise(_WORD.findall(clause))
        found.update(f"{a} {b}" for a, b in pairs if a not in STOPWORDS and b not in STOPWORDS)
    return found


@dataclass(frozen=True)
class Said:
    """One answer's comment or review's excerpt, and whether the scoring found any theme in it."""

    key: str
    at: datetime
    text: str
    themed: bool


def counts(said: Iterable[Said]) -> Counter[str]:
    """Texts per phrase, among those no theme caught."""
    found: Counter[str] = Counter()
    for s in said:
        if not s.themed and s.text:
            found.update(phrases(s.text))
    return found


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True)

    phrase: str
    mentions: int = Field(description="texts with the phrase this week, none of them with a theme")
    before: int = Field(description="the same over the weeks before (history_weeks of them)")
    history_weeks: int
    examples: list[str] = Field(default_factory=list)

    @property
    def new(self) -> bool:
        return self.before == 0

    def text(self) -> str:
        """'new: missing buttons, 7 mentions, 0 last month'."""
        span = (
            "last month" if self.history_weeks == HISTORY_WEEKS else f"the {self.history_weeks} weeks before"
        )
        lead = "new: " if self.new else "rising: "
        return f"{lead}{self.phrase}, {self.mentions} mentions, {self.before} {span}"


class Emerging(BaseModel):
    """A shop's emerging topics as the daily job found them."""

    computed_at: datetime
    week_start: date
    texts: int = Field(description="texts of the week so far that no theme caught")
    topics: list[Topic] = Field(default_factory=list)


def _tail(k: int, rate: float) -> float:
    """P(X ≥ k) for X ~ Poisson(rate)."""
    term, below = math.exp(-rate), 0.0
    for i in range(k):
        below += term
        term *= rate / (i + 1)
    return max(0.0, 1.0 - below)


def rising(now: Mapping[str, int], history: Sequence[Mapping[str, int]]) -> list[tuple[str, int, int]]:
    """(phrase, this week, the weeks before) of the phrases that rose beyond chance, most surprising first."""
    weeks = max(1, len(history))
    bar = SURPRISE / max(1, len(now))  # every phrase of the week is a test: 1 % for them all (Bonferroni)
    found = []
    for phrase, k in now.items():
        if k < MIN_NOW:
            continue
        before = sum(h.get(phrase, 0) for h in history)
        p = _tail(k, max(RATE_FLOOR, before / weeks))
        if p < bar:
            found.append((p, -k, phrase, before))
    return [(phrase, -neg_k, before) for _, neg_k, phrase, before in sorted(found)]


def _example(text: str, phrase: str) -> str:
    """The text around the phrase, on one line, at most EXAMPLE_CHARS."""
    line = " ".join(text.split())
    at = line.lower().find(phrase.split(maxsplit=1)[0])
    start = max(0, at - EXAMPLE_CHARS // 3) if at >= 0 else 0
    cut = line[start : start + EXAMPLE_CHARS]
    return ("…" if start else "") + cut + ("…" if start + EXAMPLE_CHARS < len(line) else "")


def emerging(
    week: Sequence[Said], history: Sequence[Mapping[str, int]], week_start: date, now: datetime
) -> Emerging:
    """The week so far against the complete weeks before it (oldest first)."""
    now_counts = counts(week)
    topics = []
    for phrase, k, before in rising(now_counts, history)[:TOP]:
        texts = [s.text for s in sorted(week, key=lambda s: s.at, reverse=True) if not s.themed]
        examples = [_example(t, phrase) for t in texts if phrase in phrases(t)][:EXAMPLES]
        topics.append(
            Topic(phrase=phrase, mentions=k, before=before, history_weeks=len(history), examples=examples)
        )
    return Emerging(
        computed_at=now,
        week_start=week_start,
        texts=sum(1 for s in week if not s.themed and s.text),
        topics=topics,
    )


# ----------------------------------------------------------------------------------------- the refresh


def monday(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


def said_of(answers: Iterable[SurveyAnswer], mentions: Iterable[Mention]) -> list[Said]:
    """The texts the scoring service has read (a text not read yet is neither themed nor not)."""
    found = [
        Said(f"a:{a.invite_id}", a.answered_at, a.comment or "", bool(a.themes))
        for a in answers
        if a.comment and a.sentiment is not None
    ]
    found += [
        Said(f"m:{m.mention_id}", mention_at(m), m.excerpt, bool(m.themes))
        for m in mentions
        if m.excerpt and m.sentiment is not None
    ]
    return found


def refresh(store: NotifierStore, shop_id: str, now: datetime, keep: bool = True) -> Emerging:
    """Count the complete weeks of the last ``HISTORY_WEEKS`` that have no count yet (once each), then
    the week of ``now`` so far against them; kept for the dashboard unless ``keep`` is False (the
    digest asks for the week it reports on)."""
    this_week = monday(now.date())
    weeks = [date.fromordinal(this_week.toordinal() - 7 * i) for i in range(HISTORY_WEEKS, 0, -1)]
    stored = store.phrase_weeks(shop_id, weeks[0].isoformat(), weeks[-1].isoformat())
    missing = [w for w in weeks if w.isoformat() not in stored]
    since = datetime.combine(missing[0] if missing else this_week, datetime.min.time(), tzinfo=UTC)
    said = said_of(store.answers_since(shop_id, since), store.mentions_since(shop_id, since))
    for week in missing:
        inside = [s for s in said if monday(s.at.astimezone(UTC).date()) == week]
        found = counts(inside)
        store.put_phrase_week(shop_id, week.isoformat(), dict(found.most_common(MAX_PHRASES)))
        stored[week.isoformat()] = dict(found)
    current = [s for s in said if monday(s.at.astimezone(UTC).date()) == this_week and s.at <= now]
    result = emerging(current, [stored[w.isoformat()] for w in weeks], this_week, now)
    if keep:
        store.put_emerging(shop_id, result)
    return result
