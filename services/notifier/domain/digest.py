"""The weekly digest's figures: scores with their uncertainty, themes, comments, reviews, cases, risk.

The period is the 7 days before ``period_end``; every change is against the 7 days before that. A
score comes with its n and a 95 % interval so a shop with 12 answers is not alarmed by a move of 8
points that is only noise. Pure Python (no numpy): it runs in the notifier's Lambda.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.digest_retention import RetentionDigest
from services.notifier.domain.drivers import Drivers
from services.notifier.domain.emerging import Emerging
from services.notifier.domain.model import Case, Mention, SurveyAnswer
from services.notifier.domain.service_kpis import ServiceKpis
from shared import metrics
from shared.metrics import Metric
from shared.sentiment import Label, Sentiment, ThemeScore
from shared.themes import theme_label

PERIOD = timedelta(days=7)
TREND_WEEKS = 8
Z95 = 1.96
SURVEY_TYPES = ("nps", "csat", "ces")
SURVEY_LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
TOP_THEMES = 5
NEGATIVE_COMMENTS = 3
POSITIVE_COMMENTS = 2
COMMENT_CHARS = 220
MAX_OVERDUE = 10
TOP_AT_RISK = 5
STARS = 5

SOURCE_LABELS = {
    "google": "Google",
    "trustpilot": "Trustpilot",
    "app_store": "App Store",
    "yelp": "Yelp",
    "reddit": "Reddit",
    "csv": "Imported",
    "webhook": "Shop reviews",
}


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source) or source.replace("_", " ").capitalize()


def shorten(text: str, limit: int = COMMENT_CHARS) -> str:
    """One line, at most ``limit`` characters, cut at a word boundary with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] if " " in line[: limit - 1] else line[: limit - 1]
    return cut.rstrip(" ,.;:-") + "…"


# ------------------------------------------------------------------------------------------- statistics


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


class Estimate(BaseModel):
    """A score, how many answers it rests on, its 95 % interval and standard error (None for n = 1 CES)."""

    model_config = ConfigDict(frozen=True)

    value: float
    n: int
    interval: Interval | None
    standard_error: float | None


def _estimate(metric: Metric, standard_error: float | None) -> Estimate | None:
    """The figure and its 95 % interval exactly as ``shared.metrics`` gives them (the dashboard's and
    ``cxloop report``'s), with the standard error the digest's change test needs."""
    if metric.value is None:
        return None
    interval = (
        None if metric.low is None or metric.high is None else Interval(low=metric.low, high=metric.high)
    )
    return Estimate(value=metric.value, n=metric.n, interval=interval, standard_error=standard_error)


def nps(scores: Sequence[int]) -> Estimate | None:
    """Net Promoter Score in points, its interval from ``shared.metrics.nps``; the standard error of
    the mean of +1/0/-1 answers, 100 · sqrt((p + d - (p - d)²)/n), is the change test's."""
    n = len(scores)
    if not n:
        return None
    p = sum(1 for s in scores if s >= 9) / n
    d = sum(1 for s in scores if s <= 6) / n
    return _estimate(metrics.nps(scores), 100 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n))


def csat(scores: Sequence[int]) -> Estimate | None:
    """CSAT in %, its Wilson interval from ``shared.metrics.csat``; the binomial standard error."""
    n = len(scores)
    if not n:
        return None
    p = sum(1 for s in scores if s >= 4) / n
    return _estimate(metrics.csat(scores), 100 * math.sqrt(p * (1 - p) / n))


def ces(scores: Sequence[int]) -> Estimate | None:
    """CES, the mean effort, its t interval from ``shared.metrics.ces`` (none for one answer)."""
    n = len(scores)
    if not n:
        return None
    se = statistics.stdev(scores) / math.sqrt(n) if n > 1 else None
    return _estimate(metrics.ces(scores), se)


ESTIMATORS: dict[str, Callable[[Sequence[int]], Estimate | None]] = {"nps": nps, "csat": csat, "ces": ces}
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def estimate(survey_type: str, scores: Sequence[int]) -> Estimate | None:
    low, high = SCALES[survey_type]
    return ESTIMATORS[survey_type]([s for s in scores if low <= s <= high])


def clear_change(now: Estimate | None, before: Estimate | None) -> bool | None:
    """Whether a change is larger than the noise: |Δ| > 1.96 · sqrt(se₁² + se₂²) (two independent
    samples, normal approximation). None when either side has no standard error."""
    if now is None or before is None or now.standard_error is None or before.standard_error is None:
        return None
    noise = Z95 * math.hypot(now.standard_error, before.standard_error)
    return abs(now.value - before.value) > noise


# ------------------------------------------------------------------------------------------------ model


class ScoreFigure(BaseModel):
    """One survey type's week. ``score`` None: no answers this week (but some the week before)."""

    survey_type: str
    label: str
    score: float | None
    n: int
    interval: Interval | None
    sent: int | None  # invitations sent this week; None when unknown
    response_rate: float | None  # answers / invitations sent (0..1); None without a sent count
    previous_response_rate: float | None
    previous: float | None
    previous_n: int
    change: float | None  # score - previous; None without answers in either week
    change_is_clear: bool | None  # larger than the two weeks' combined noise
    higher_is_better: bool


class TrendPoint(BaseModel):
    week_start: datetime
    week_end: datetime
    value: float | None
    n: int
    interval: Interval | None


class Trend(BaseModel):
    survey_type: str
    label: str
    points: list[TrendPoint]  # oldest first; weeks without answers have value None


class ThemeFigure(BaseModel):
    theme: str
    label: str
    count: int  # answers and mentions naming it this week
    negative: int
    neutral: int
    positive: int
    previous: int
    change: int
    negative_share: float
    positive_share: float


class NotableComment(BaseModel):
    text: str  # shortened to one line
    sentiment: Label
    confidence: float
    author: str  # the customer's first name, or the review's source
    detail: str  # "NPS 3 · order #1042", "2 of 5 stars"
    url: str | None = None
    at: datetime


class SourceReviews(BaseModel):
    source: str
    label: str
    count: int
    average: float | None  # of the rated ones, on the 5-star scale
    histogram: list[int]  # 1..5 stars


class ReviewSummary(BaseModel):
    total: int = 0
    previous_total: int = 0
    average: float | None = None
    histogram: list[int] = Field(default_factory=lambda: [0] * STARS)
    sources: list[SourceReviews] = Field(default_factory=list)


class OverdueCase(BaseModel):
    case_id: str
    who: str
    what: str  # "NPS 2", "Trustpilot review, 1 of 5 stars"
    comment: str | None
    opened_at: datetime
    target_at: datetime
    hours_late: float
    url: str | None = None


class CaseSummary(BaseModel):
    opened: int = 0  # this week
    replied: int = 0  # of those, replied to
    replied_within_target: int = 0
    median_hours_to_reply: float | None = None
    overdue_total: int = 0  # open, unreplied and past target at the period's end (any week)
    overdue: list[OverdueCase] = Field(default_factory=list)  # the most overdue first


class AtRisk(BaseModel):
    """A valuable customer the churn score flags (``churn.Model.risk`` and ``reasons``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    risk: float = Field(ge=0, le=1)
    spend_year: float = 0.0
    reasons: list[str] = Field(default_factory=list)
    spend_total: float = 0.0
    orders: int = 0
    email: str | None = None  # the owner writes to them


class Digest(BaseModel):
    shop_name: str
    period_start: datetime
    period_end: datetime
    previous_start: datetime
    currency: str | None = None
    scores: list[ScoreFigure] = Field(default_factory=list)
    trend: Trend | None = None
    themes: list[ThemeFigure] = Field(default_factory=list)
    comments: list[NotableComment] = Field(default_factory=list)
    reviews: ReviewSummary = Field(default_factory=ReviewSummary)
    cases: CaseSummary = Field(default_factory=CaseSummary)
    at_risk: list[AtRisk] = Field(default_factory=list)
    at_risk_total: int = 0
    at_risk_computed_at: datetime | None = None  # when the risk was computed
    at_risk_valuable_from: float | None = None  # the spend that made a customer valuable then
    retention: RetentionDigest | None = None  # from the retention snapshot (digest_retention.py)
    # What drives the score over the last quarter, and the loop's service figures this week and the
    # week before (decisions 122, 123; domain/digest_loop.py words them), from the days' totals.
    drivers: Drivers | None = None
    service: ServiceKpis | None = None
    service_previous: ServiceKpis | None = None
    emerging: Emerging | None = None  # the phrases rising in the digest's week (decision 124)

    @property
    def answers(self) -> int:
        return sum(f.n for f in self.scores)


# ----------------------------------------------------------------------------------------------- builder


_Revised = TypeVar("_Revised", SurveyAnswer, Mention)


@dataclass(frozen=True)
class Window:
    """[start, end): a week of the digest."""

    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _newest(items: Iterable[_Revised], key: Callable[[_Revised], str]) -> list[_Revised]:
    """The newest revision of each answer or mention (the store keeps one, a replay may bring two)."""
    kept: dict[str, _Revised] = {}
    for item in items:
        seen = kept.get(key(item))
        if seen is None or item.revision > seen.revision:
            kept[key(item)] = item
    return list(kept.values())


def scores_in(answers: Sequence[SurveyAnswer], survey_type: str, window: Window) -> list[int]:
    return [a.score for a in answers if a.survey_type == survey_type and window.holds(a.answered_at)]


def score_figures(
    answers: Sequence[SurveyAnswer],
    now: Window,
    before: Window,
    sent: Mapping[str, int],
    sent_previous: Mapping[str, int],
) -> list[ScoreFigure]:
    """One figure per survey type with answers this week or the week before."""
    figures = []
    for kind in SURVEY_TYPES:
        current = estimate(kind, scores_in(answers, kind, now))
        previous = estimate(kind, scores_in(answers, kind, before))
        if current or previous:
            figures.append(_figure(kind, current, previous, sent.get(kind), sent_previous.get(kind)))
    return figures


def _figure(
    kind: str, current: Estimate | None, previous: Estimate | None, sent: int | None, sent_before: int | None
) -> ScoreFigure:
    n = current.n if current else 0
    return ScoreFigure(
        survey_type=kind,
        label=SURVEY_LABELS[kind],
        score=current.value if current else None,
        n=n,
        interval=current.interval if current else None,
        sent=sent or None,
        response_rate=_rate(n, sent),
        previous_response_rate=_rate(previous.n if previous else 0, sent_before),
        previous=previous.value if previous else None,
        previous_n=previous.n if previous else 0,
        change=current.value - previous.value if current and previous else None,
        change_is_clear=clear_change(current, previous),
        higher_is_better=kind != "ces",
    )


def _rate(answers: int, sent: int | None) -> float | None:
    """Answers in a week over invitations sent in it: some answer an earlier week's, so capped at 1."""
    return min(1.0, answers / sent) if sent else None


def trend(answers: Sequence[SurveyAnswer], period_end: datetime, weeks: int = TREND_WEEKS) -> Trend | None:
    """The first survey type (NPS, CSAT, CES) with answers in the last ``weeks`` weeks, week by week,
    from the first week with answers; None unless at least two weeks have answers."""
    windows = [Window(period_end - PERIOD * (k + 1), period_end - PERIOD * k) for k in reversed(range(weeks))]
    for kind in SURVEY_TYPES:
        points = [_trend_point(kind, answers, w) for w in windows]
        with_values = [i for i, p in enumerate(points) if p.value is not None]
        if len(with_values) >= 2:
            return Trend(survey_type=kind, label=SURVEY_LABELS[kind], points=points[with_values[0] :])
        if with_values:
            return None
    return None


def _trend_point(kind: str, answers: Sequence[SurveyAnswer], week: Window) -> TrendPoint:
    found = estimate(kind, scores_in(answers, kind, week))
    return TrendPoint(
        week_start=week.start,
        week_end=week.end,
        value=found.value if found else None,
        n=found.n if found else 0,
        interval=found.interval if found else None,
    )


@dataclass(frozen=True)
class _Said:
    """An answer's comment or a mention's excerpt, as the themes and comments need it."""

    at: datetime
    text: str
    sentiment: Sentiment | None
    themes: Sequence[ThemeScore]
    author: str
    detail: str
    url: str | None = None


def _answer_said(answer: SurveyAnswer) -> _Said:
    detail = f"{SURVEY_LABELS.get(answer.survey_type, answer.survey_type.upper())} {answer.score}"
    if answer.order_name:
        detail += f" · order {answer.order_name}"
    return _Said(
        answer.answered_at,
        answer.comment or "",
        answer.sentiment,
        answer.themes,
        answer.first_name or "A customer",
        detail,
    )


def _mention_said(mention: Mention) -> _Said:
    detail = f"{_stars(mention.rating)} of 5 stars" if mention.rating is not None else "mention"
    return _Said(
        mention.scored_at,
        mention.excerpt,
        mention.sentiment,
        mention.themes,
        source_label(mention.source),
        detail,
        mention.url,
    )


def _stars(rating: float) -> int:
    """A rating as whole stars 1..5 (half up: 4.5 is 5)."""
    return max(1, min(STARS, math.floor(rating + 0.5)))


def theme_figures(
    said: Sequence[_Said], now: Window, before: Window, top: int = TOP_THEMES
) -> list[ThemeFigure]:
    """The themes named most this week. Each text counts once per theme (its first reading of it)."""
    current: dict[str, Counter[str]] = {}
    previous: Counter[str] = Counter()
    for item in said:
        readings = {t.theme: t.sentiment for t in reversed(item.themes)}
        if now.holds(item.at):
            for theme, label in readings.items():
                current.setdefault(theme, Counter())[label] += 1
        elif before.holds(item.at):
            previous.update(readings.keys())
    ranked = sorted(current.items(), key=lambda tc: (-tc[1].total(), -tc[1]["negative"], tc[0]))
    return [_theme_figure(theme, counts, previous[theme]) for theme, counts in ranked[:top]]


def _theme_figure(theme: str, counts: Counter[str], previous: int) -> ThemeFigure:
    total = counts.total()
    return ThemeFigure(
        theme=theme,
        label=theme_label(theme),
        count=total,
        negative=counts["negative"],
        neutral=counts["neutral"],
        positive=counts["positive"],
        previous=previous,
        change=total - previous,
        negative_share=counts["negative"] / total,
        positive_share=counts["positive"] / total,
    )


def notable_comments(
    said: Sequence[_Said], now: Window, negative: int = NEGATIVE_COMMENTS, positive: int = POSITIVE_COMMENTS
) -> list[NotableComment]:
    """The clearest negative and positive comments of the week: the model's confidence first (to one
    decimal, so that near-ties go to the longer text, which says more)."""
    picked: list[NotableComment] = []
    for label, wanted in (("negative", negative), ("positive", positive)):
        pool = [s for s in said if now.holds(s.at) and s.text.strip() and _label(s) == label]
        pool.sort(key=lambda s: (-round(s.sentiment.confidence if s.sentiment else 0, 1), -len(s.text), s.at))
        picked.extend(_comment(s) for s in _distinct(pool)[:wanted])
    return picked


def _label(said: _Said) -> Label | None:
    return said.sentiment.label if said.sentiment else None


def _distinct(said: Sequence[_Said]) -> list[_Said]:
    """The first of texts that read the same (a review posted on two sites, a comment pasted twice)."""
    first: dict[str, _Said] = {}
    for item in said:
        first.setdefault(" ".join(item.text.lower().split()), item)
    return list(first.values())


def _comment(said: _Said) -> NotableComment:
    assert said.sentiment is not None
    return NotableComment(
        text=shorten(said.text),
        sentiment=said.sentiment.label,
        confidence=said.sentiment.confidence,
        author=said.author,
        detail=said.detail,
        url=said.url,
        at=said.at,
    )


def review_summary(mentions: Sequence[Mention], now: Window, before: Window) -> ReviewSummary:
    """New reviews and mentions by source; the average and the histogram count the rated ones."""
    this_week = [m for m in mentions if now.holds(m.scored_at)]
    by_source: dict[str, list[Mention]] = {}
    for m in this_week:
        by_source.setdefault(m.source, []).append(m)
    sources = [_source_reviews(source, items) for source, items in by_source.items()]
    sources.sort(key=lambda s: (-s.count, s.label))
    rated = [m.rating for m in this_week if m.rating is not None]
    return ReviewSummary(
        total=len(this_week),
        previous_total=sum(1 for m in mentions if before.holds(m.scored_at)),
        average=statistics.fmean(rated) if rated else None,
        histogram=_histogram(rated),
        sources=sources,
    )


def _histogram(ratings: Iterable[float]) -> list[int]:
    counts = [0] * STARS
    for rating in ratings:
        counts[_stars(rating) - 1] += 1
    return counts


def _source_reviews(source: str, items: Sequence[Mention]) -> SourceReviews:
    rated = [m.rating for m in items if m.rating is not None]
    return SourceReviews(
        source=source,
        label=source_label(source),
        count=len(items),
        average=statistics.fmean(rated) if rated else None,
        histogram=_histogram(rated),
    )


def case_summary(cases: Sequence[Case], now: Window, limit: int = MAX_OVERDUE) -> CaseSummary:
    """This week's cases and how fast they were answered; every case past its target at the end."""
    opened = [c for c in cases if now.holds(c.opened_at)]
    replied = [c for c in opened if c.first_reply_at is not None]
    hours = [(c.first_reply_at - c.opened_at).total_seconds() / 3600 for c in replied if c.first_reply_at]
    overdue = sorted((c for c in cases if c.overdue(now.end)), key=lambda c: (c.target_at, c.case_id))
    return CaseSummary(
        opened=len(opened),
        replied=len(replied),
        replied_within_target=sum(1 for c in replied if c.first_reply_at and c.first_reply_at <= c.target_at),
        median_hours_to_reply=statistics.median(hours) if hours else None,
        overdue_total=len(overdue),
        overdue=[_overdue(c, now.end) for c in overdue[:limit]],
    )


def _overdue(case: Case, at: datetime) -> OverdueCase:
    if case.subject == "mention":
        who = source_label(case.source or "review")
        what = f"{_stars(case.rating)} of 5 stars" if case.rating is not None else "negative mention"
    else:
        who = case.first_name or "A customer"
        what = (
            f"{SURVEY_LABELS.get(case.survey_type or '', 'Score')} {case.score}"
            if case.score is not None
            else "answer"
        )
        what += f" · order {case.order_name}" if case.order_name else ""
    return OverdueCase(
        case_id=case.case_id,
        who=who,
        what=what,
        comment=shorten(case.comment, 140) if case.comment else None,
        opened_at=case.opened_at,
        target_at=case.target_at,
        hours_late=(at - case.target_at).total_seconds() / 3600,
        url=case.url,
    )


def build_digest(
    shop_name: str,
    period_end: datetime,
    answers: Iterable[SurveyAnswer],
    mentions: Iterable[Mention] = (),
    cases: Iterable[Case] = (),
    sent: Mapping[str, int] | None = None,
    sent_previous: Mapping[str, int] | None = None,
    at_risk: Iterable[AtRisk] = (),
    currency: str | None = None,
    at_risk_computed_at: datetime | None = None,
    at_risk_valuable_from: float | None = None,
) -> Digest:
    """The digest of the 7 days before ``period_end`` (compared with the 7 before them).

    ``answers`` may reach further back: the trend uses up to 8 weeks. ``sent`` and ``sent_previous``
    hold the invitations sent per survey type this week and the week before (for the response rates).
    Times must all be aware (or all naive).
    """
    now = Window(period_end - PERIOD, period_end)
    before = Window(period_end - 2 * PERIOD, period_end - PERIOD)
    kept_answers = _newest(answers, lambda a: a.invite_id)
    kept_mentions = _newest(mentions, lambda m: m.mention_id)
    said = [*map(_answer_said, kept_answers), *map(_mention_said, kept_mentions)]
    risky = sorted(at_risk, key=lambda r: (-r.risk, -r.spend_year, r.name))
    return Digest(
        shop_name=shop_name,
        period_start=now.start,
        period_end=now.end,
        previous_start=before.start,
        currency=currency,
        scores=score_figures(kept_answers, now, before, sent or {}, sent_previous or {}),
        trend=trend(kept_answers, period_end),
        themes=theme_figures(said, now, before),
        comments=notable_comments(said, now),
        reviews=review_summary(kept_mentions, now, before),
        cases=case_summary(list(cases), now),
        at_risk=risky[:TOP_AT_RISK],
        at_risk_total=len(risky),
        at_risk_computed_at=at_risk_computed_at,
        at_risk_valuable_from=at_risk_valuable_from,
    )


# -------------------------------------------------------------------------------------------------- text
# How the e-mail and Slack write the figures, so both say the same.

MINUS = "\u2212"
DASH = "\u2013"
SPARKS = "▁▂▃▄▅▆▇█"
SCORE_RANGES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}


def _rounded(survey_type: str, value: float) -> float:
    """The value as shown: NPS and CSAT in whole points, CES to one decimal."""
    return round(value, 1) if survey_type == "ces" else float(round(value))


def signed(value: float, decimals: int = 0) -> str:
    """-12 with a typographic minus (U+2212), as printed."""
    text = f"{abs(value):.{decimals}f}"
    return MINUS + text if value < 0 and float(text) != 0 else text


def score_text(survey_type: str, value: float) -> str:
    """57, 69%, 2.9."""
    if survey_type == "ces":
        return signed(value, 1)
    return signed(value) + ("%" if survey_type == "csat" else "")


def interval_text(survey_type: str, interval: Interval) -> str:
    """ "31 to 84" (the 95 % range)."""
    return f"{score_text(survey_type, interval.low)} to {score_text(survey_type, interval.high)}"


def change_of(figure: ScoreFigure) -> float | None:
    """The change between the two weeks' scores as shown (so 57 against 38 reads 19, never 20)."""
    if figure.score is None or figure.previous is None:
        return None
    kind = figure.survey_type
    return round(_rounded(kind, figure.score) - _rounded(kind, figure.previous), 1)


def change_text(figure: ScoreFigure) -> str:
    """ "▲ 19 pts", "▼ 0.4", "no change"; "" without last week's score."""
    change = change_of(figure)
    if change is None:
        return ""
    if change == 0:
        return "no change"
    arrow = "▲" if change > 0 else "▼"
    if figure.survey_type == "ces":
        return f"{arrow} {abs(change):.1f}"
    return f"{arrow} {abs(change):.0f} pts"


def change_is_good(figure: ScoreFigure) -> bool | None:
    """Better (True), worse (False) or neither (None, also when unchanged)."""
    change = change_of(figure)
    if not change:
        return None
    return (change > 0) == figure.higher_is_better


def sparkline(values: Sequence[float | None], low: float, high: float) -> str:
    """One block character per value between ``low`` and ``high``; a gap (no answers) is a space."""
    span = (high - low) or 1.0
    marks = []
    for value in values:
        if value is None:
            marks.append(" ")
            continue
        level = (min(high, max(low, value)) - low) / span
        marks.append(SPARKS[min(len(SPARKS) - 1, int(level * len(SPARKS)))])
    return "".join(marks)


def trend_sparkline(trend: Trend) -> str:
    """The trend scaled to its own range (a flat week-to-week line would say nothing on the full scale)."""
    known = [p.value for p in trend.points if p.value is not None]
    low, high = min(known), max(known)
    if high - low < 1e-9:
        low, high = SCORE_RANGES[trend.survey_type]
    return sparkline([p.value for p in trend.points], low, high)


def period_text(start: datetime, end: datetime) -> str:
    """ "16-22 Nov 2026" (an en dash) for [16 Nov, 23 Nov): the last day is the one before ``end``."""
    last = end - timedelta(microseconds=1)
    if (start.year, start.month) == (last.year, last.month):
        return f"{start.day}{DASH}{last.day} {last:%b %Y}"
    if start.year == last.year:
        return f"{start.day} {start:%b} {DASH} {last.day} {last:%b %Y}"
    return f"{start.day} {start:%b %Y} {DASH} {last.day} {last:%b %Y}"


def duration_text(hours: float) -> str:
    """ "40 min", "11 h", "3 days"."""
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def headline(digest: Digest) -> str:
    """ "NPS 57 ▲ 19 pts · 10 new reviews · 3 cases past target": the subject's and preheader's gist."""
    parts = [
        f"{f.label} {score_text(f.survey_type, f.score)} {change_text(f)}".strip()
        for f in digest.scores[:1]
        if f.score is not None
    ]
    parts.append(plural(digest.reviews.total, "new review"))
    if digest.cases.overdue_total:
        parts.append(plural(digest.cases.overdue_total, "case") + " past target")
    return " · ".join(parts)


def plural(n: int, noun: str) -> str:
    """ "1 case", "3 cases", "no cases"."""
    return f"{n or 'no'} {noun}{'' if n == 1 else 's'}"


def theme_movement(theme: ThemeFigure) -> str:
    """ "▲ 4 vs last week", "same as last week", or "new" (not named last week)."""
    if theme.previous == 0:
        return "new"
    if theme.change == 0:
        return "same as last week"
    return f"{'▲' if theme.change > 0 else '▼'} {abs(theme.change)} vs last week"


def summary(digest: Digest) -> str:
    """The week in one sentence, above the figures."""
    answered = plural(digest.answers, "customer") + (
        " answered a survey" if digest.answers == 1 else " answered surveys"
    )
    answered = answered[0].upper() + answered[1:]
    reviews = plural(digest.reviews.total, "new review") + " came in"
    waiting = digest.cases.overdue_total
    cases = (
        f"{plural(waiting, 'case')} {'is' if waiting == 1 else 'are'} waiting past target"
        if waiting
        else "no case is waiting past target"
    )
    return f"{answered}, {reviews}, and {cases}."
