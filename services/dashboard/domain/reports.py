"""The dashboard's figures from the days' totals: scores with their intervals per day, week or month,
response rates (from the days' ``sent_<type>`` counts), and themes that rise or hurt. Pure: the
totals come in, the report goes out.

A week starts on Monday; a month on its first day; days are UTC dates. Every score is computed from
the bucket's full histogram of answers (shared/metrics.py), so its interval is exact, not averaged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.api import DayTotals, histogram, summed, with_prefix
from shared import metrics
from shared.metrics import Metric
from shared.themes import theme_label

SURVEY_TYPES = ("nps", "csat", "ces")


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class SurveyFigures(BaseModel):
    """One survey type in one bucket."""

    model_config = ConfigDict(frozen=True)

    survey_type: str
    score: Metric
    sent: int
    response_rate: Metric
    comments: int


class Bucket(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date  # inclusive
    responses: int
    surveys: list[SurveyFigures]
    sentiment: dict[str, int] = Field(description="answers read as positive, neutral, negative")
    reviews: int
    review_sentiment: dict[str, int]


class MetricsReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    interval: Interval
    start: date
    end: date
    buckets: list[Bucket]
    total: Bucket


def bucket_start(day: date, interval: Interval) -> date:
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    if interval is Interval.MONTH:
        return day.replace(day=1)
    return day


def _next(start: date, interval: Interval) -> date:
    if interval is Interval.DAY:
        return start + timedelta(days=1)
    if interval is Interval.WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket(start: date, end: date, counts: Mapping[str, int]) -> Bucket:
    surveys = []
    responses = 0
    for survey_type in SURVEY_TYPES:
        hist = histogram(counts, survey_type)
        answered = sum(hist.values())
        sends = counts.get(f"sent_{survey_type}", 0)
        if not answered and not sends:
            continue
        responses += answered
        surveys.append(
            SurveyFigures(
                survey_type=survey_type,
                score=metrics.from_histogram(survey_type, hist),
                sent=sends,
                # Answers may come from invitations sent before the bucket: capped at the sends.
                response_rate=metrics.response_rate(min(answered, sends), sends),
                comments=counts.get(f"c_{survey_type}", 0),
            )
        )
    reviews = sum(with_prefix(counts, "m_").values())
    return Bucket(
        start=start,
        end=end,
        responses=responses,
        surveys=surveys,
        sentiment=with_prefix(counts, "s_"),
        reviews=reviews,
        review_sentiment=with_prefix(counts, "ms_"),
    )


def report(days: Iterable[DayTotals], first: date, last: date, interval: Interval) -> MetricsReport:
    by_bucket: dict[date, list[DayTotals]] = {}
    for d in days:
        if first <= d.day <= last:
            by_bucket.setdefault(bucket_start(d.day, interval), []).append(d)
    buckets = []
    start = bucket_start(first, interval)
    while start <= last:
        end = min(_next(start, interval) - timedelta(days=1), last)
        buckets.append(bucket(max(start, first), end, summed(by_bucket.get(start, []))))
        start = _next(start, interval)
    total = bucket(first, last, summed(d for group in by_bucket.values() for d in group))
    return MetricsReport(interval=interval, start=first, end=last, buckets=buckets, total=total)


class ThemeRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    theme: str
    label: str = Field(default="", description="the theme as every page, e-mail and command names it")
    mentions: int = Field(description="answers and reviews naming the theme in the period")
    negative: int
    positive: int
    negative_share: float = Field(description="negative / mentions, 0..1")
    previous_mentions: int = Field(description="the same, in the period of equal length before")
    previous_negative: int
    change: int = Field(description="mentions minus previous_mentions")
    rising: bool = Field(description="at least 3 more mentions and 1.5 times the previous period")
    hurting: bool = Field(description="at least 3 mentions and half or more of them negative")


def _theme_counts(counts: Mapping[str, int]) -> dict[str, tuple[int, int, int]]:
    found: dict[str, tuple[int, int, int]] = {}
    for prefix in ("", "m"):
        for theme, n in with_prefix(counts, f"{prefix}t_").items():
            neg = counts.get(f"{prefix}tn_{theme}", 0)
            pos = counts.get(f"{prefix}tp_{theme}", 0)
            old = found.get(theme, (0, 0, 0))
            found[theme] = (old[0] + n, old[1] + neg, old[2] + pos)
    return found


def themes(current: Sequence[DayTotals], previous: Sequence[DayTotals]) -> list[ThemeRow]:
    """Most mentioned first."""
    now, before = _theme_counts(summed(current)), _theme_counts(summed(previous))
    rows = []
    for theme, (n, neg, pos) in now.items():
        prev_n, prev_neg, _ = before.get(theme, (0, 0, 0))
        rows.append(
            ThemeRow(
                theme=theme,
                label=theme_label(theme),
                mentions=n,
                negative=neg,
                positive=pos,
                negative_share=neg / n if n else 0.0,
                previous_mentions=prev_n,
                previous_negative=prev_neg,
                change=n - prev_n,
                rising=n - prev_n >= 3 and n >= 1.5 * prev_n,
                hurting=n >= 3 and neg * 2 >= n,
            )
        )
    return sorted(rows, key=lambda r: (-r.mentions, r.theme))
