"""Survey metrics (NPS, CSAT, CES, response rate), each with its n and a 95 % confidence interval.

Two choices shape every number here:

* The denominator is the answers, never the invitations sent. An invitation nobody answered says
  nothing about how customers feel; it only lowers the response rate, which is reported on its own.
* Every value carries an interval. A small shop with a dozen answers would otherwise read one
  customer's swing as a trend; the interval shows how uncertain its number is.

Pure functions, stdlib only. Nothing is rounded here: :meth:`Metric.describe` rounds for display.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

Z95 = 1.959964  # two-sided 95 % critical value of the standard normal

MetricName = Literal["nps", "csat", "ces", "response_rate"]

_LABELS: dict[str, str] = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "response_rate": "Response rate"}

# Student t(0.975, df) for df = 1..30 (scipy.stats.t.ppf, 7 decimals); beyond, Cornish-Fisher.
_T975 = (
    12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243, 2.3060041,
    2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867, 2.1314495, 2.1199053,
    2.1098156, 2.1009220, 2.0930241, 2.0859634, 2.0796138, 2.0738731, 2.0686576, 2.0638986,
    2.0595386, 2.0555294, 2.0518305, 2.0484071, 2.0452296, 2.0422725,
)  # fmt: skip


class Metric(BaseModel):
    """A metric's value, the count it rests on (answers; sends for the response rate) and its 95 % CI.

    ``value``, ``low`` and ``high`` are None when there is nothing to measure; ``low`` and ``high``
    alone are None when the interval is undefined (CES from a single answer).
    """

    model_config = ConfigDict(frozen=True)

    name: MetricName
    value: float | None
    n: int
    low: float | None = None
    high: float | None = None
    promoters: int | None = None
    passives: int | None = None
    detractors: int | None = None

    def describe(self) -> str:
        """One line for people, e.g. ``NPS +42.0 (95% CI +30.1 to +53.9, n=57)``."""
        label = _LABELS[self.name]
        count = f"n={self.n} sent" if self.name == "response_rate" else f"n={self.n}"
        if self.value is None:
            return f"{label} — ({count})"
        value = self._format(self.value)
        if self.low is None or self.high is None:
            return f"{label} {value} ({count})"
        return f"{label} {value} (95% CI {self._format(self.low)} to {self._format(self.high)}, {count})"

    def _format(self, number: float) -> str:
        if self.name == "nps":
            return f"{round(number, 1) + 0.0:+.1f}"  # + 0.0 turns a rounded -0.0 into +0.0
        if self.name == "ces":
            return f"{number:.2f}"
        return f"{number:.1f}%"


def nps(scores: Iterable[int]) -> Metric:
    """Net Promoter Score in points (-100..100) from 0-10 answers: % promoters (9-10) - % detractors (0-6).

    The interval treats each answer as +1/0/-1 (normal approximation); a single answer gets the full range,
    and answers all in one group get an adjusted spread rather than a zero-width interval.
    """
    return _nps_of(Counter(_checked(scores, "NPS", 0, 10)))


def _nps_of(counts: Mapping[int, int]) -> Metric:
    n = sum(counts.values())
    promoters = sum(c for score, c in counts.items() if score >= 9)
    detractors = sum(c for score, c in counts.items() if score <= 6)
    passives = n - promoters - detractors
    if n == 0:
        return Metric(name="nps", value=None, n=0, promoters=0, passives=0, detractors=0)
    value = 100 * (promoters - detractors) / n
    if n == 1:
        low, high = -100.0, 100.0
    else:
        # Variance of one answer: p + d - (p - d)^2, kept in integers until the square root.
        spread = (promoters + detractors) * n - (promoters - detractors) ** 2
        half = Z95 * 100 * math.sqrt(spread / n**3)
        if spread == 0:
            # Every answer in one group: the plain estimate claims certainty (a zero-width interval).
            # Estimate the spread with one pseudo-answer added to each group instead (as Agresti-Coull
            # does for a proportion), so five promoters out of five read as "high, but uncertain".
            m = n + 3
            spread_adj = (promoters + detractors + 2) * m - (promoters - detractors) ** 2
            half = Z95 * 100 * math.sqrt(spread_adj / (m**2 * n))
        low, high = _clipped(value, value - half, value + half, -100.0, 100.0)
    return Metric(
        name="nps",
        value=value,
        n=n,
        low=low,
        high=high,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
    )


def csat(scores: Iterable[int]) -> Metric:
    """Customer satisfaction: % of 1-5 answers that are 4 or 5, with a Wilson score interval."""
    answers = _checked(scores, "CSAT", 1, 5)
    return _proportion("csat", sum(1 for score in answers if score >= 4), len(answers))


def ces(scores: Iterable[int]) -> Metric:
    """Customer effort: mean of 1-7 answers, with a Student-t interval (undefined for a single answer)."""
    return _ces_of(Counter(_checked(scores, "CES", 1, 7)))


def _ces_of(counts: Mapping[int, int]) -> Metric:
    n = sum(counts.values())
    if n == 0:
        return Metric(name="ces", value=None, n=0)
    # Exact in fractions, so the order of answers cannot matter (as statistics.mean/stdev over them).
    mean_exact = Fraction(sum(score * c for score, c in counts.items()), n)
    mean = float(mean_exact)
    if n == 1:
        return Metric(name="ces", value=mean, n=1)
    variance = sum(c * (score - mean_exact) ** 2 for score, c in counts.items()) / (n - 1)
    half = t_critical_95(n - 1) * math.sqrt(variance) / math.sqrt(n)
    low, high = _clipped(mean, mean - half, mean + half, 1.0, 7.0)
    return Metric(name="ces", value=mean, n=n, low=low, high=high)


def response_rate(answered: int, sent: int) -> Metric:
    """Answers per invitation sent, in percent, with a Wilson score interval; ``n`` is the sends."""
    if sent < 0 or not 0 <= answered <= sent:
        raise ValueError(f"response rate: {answered} answered of {sent} sent is impossible")
    return _proportion("response_rate", answered, sent)


def from_histogram(survey_type: str, counts: Mapping[int, int]) -> Metric:
    """The survey type's metric from its answers counted per score (the dashboard's day totals): the
    same figure as from the answers themselves, in time of the scale's size, not the answers'."""
    lowest, highest = _SCALES[survey_type]
    for score, c in counts.items():
        if not lowest <= score <= highest or c < 0:
            raise ValueError(
                f"{survey_type} score {score!r} is not a whole number from {lowest} to {highest}"
            )
    kept = {score: c for score, c in counts.items() if c}
    if survey_type == "nps":
        return _nps_of(kept)
    if survey_type == "csat":
        return _proportion("csat", sum(c for score, c in kept.items() if score >= 4), sum(kept.values()))
    return _ces_of(kept)


def summarise(survey_type: str, scores: Sequence[int], sent: int) -> list[Metric]:
    """The survey type's metric over its answers, then the response rate of ``sent`` invitations."""
    metric = _BY_TYPE.get(survey_type)
    if metric is None:
        raise ValueError(f"unknown survey type {survey_type!r}: expected nps, csat or ces")
    return [metric(scores), response_rate(len(scores), sent)]


def t_critical_95(df: int) -> float:
    """Two-sided 95 % critical value of Student's t, t(0.975, df), for df >= 1."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion of the t quantile around the normal one (error < 1e-6 for df > 30).
    z = Z95
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / float(df) ** power for power, term in enumerate(terms, start=1))


_BY_TYPE: dict[str, Callable[[Iterable[int]], Metric]] = {"nps": nps, "csat": csat, "ces": ces}
_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _checked(scores: Iterable[int], label: str, lowest: int, highest: int) -> list[int]:
    answers = list(scores)
    for score in answers:
        if isinstance(score, bool) or not isinstance(score, int) or not lowest <= score <= highest:
            raise ValueError(f"{label} score {score!r} is not a whole number from {lowest} to {highest}")
    return answers


def _proportion(name: MetricName, successes: int, n: int) -> Metric:
    if n == 0:
        return Metric(name=name, value=None, n=0)
    value = 100 * successes / n
    low, high = _wilson(successes, n)
    low, high = _clipped(value, 100 * low, 100 * high, 0.0, 100.0)
    return Metric(name=name, value=value, n=n, low=low, high=high)


def _wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval of successes / n (n > 0), as fractions."""
    p = successes / n
    z2 = Z95 * Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return centre - half, centre + half


def _clipped(value: float, low: float, high: float, floor: float, ceiling: float) -> tuple[float, float]:
    """The interval within the scale, and around the value despite floating-point noise at the edges."""
    return max(floor, min(low, value)), min(ceiling, max(high, value))
