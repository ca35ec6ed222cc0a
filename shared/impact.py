"""What a theme costs the score (decision 122): the points NPS (or the mean stars) would be higher if
the answers that mention the theme negatively had scored like the answers that do not.

With N answers, of which a share ``a`` mention the theme negatively (mean score ``m_t``) and the rest
score ``m_r`` on average, the score is ``a·m_t + (1 - a)·m_r`` and the cost is

    cost = m_r - m_all = a · (m_r - m_t)

so a theme costs much when many answers name it and those answers score far below the rest. Its 95 %
interval is the delta method's: the influence of one answer of value x on the cost is
``1{rest}·(x - m_r)/(1 - a) - (x - m_all)``, and the cost's variance is the mean squared influence over
N. NPS is the mean of +100/0/-100 answers, so the same formula serves NPS and stars.

Themes overlap (one answer may complain of delivery and of packaging): the costs of several themes are
not to be added. Pure Python, stdlib only: it runs in the API's Lambda and in the notifier's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, computed_field

Z95 = 1.959964
MIN_SIDE = 5  # answers on each side (naming the theme negatively, and not) before an interval is given


class Impact(BaseModel):
    """One theme's cost to the score over a period."""

    model_config = ConfigDict(frozen=True)

    theme: str
    label: str = ""
    unit: str = Field(description="nps (points) or stars (on 1..5)")
    n: int = Field(description="answers (or rated reviews) in the period")
    n_theme: int = Field(description="of them, naming the theme negatively")
    score: float | None = Field(description="the score of all n")
    score_theme: float | None = Field(description="the score of the n_theme")
    score_rest: float | None = Field(description="the score of the others")
    cost: float | None = Field(description="score_rest - score: what the complaints cost")
    low: float | None = Field(default=None, description="95 % interval of the cost (delta method)")
    high: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clear(self) -> bool:
        """The interval leaves out zero: the cost is larger than the noise."""
        return self.low is not None and self.low > 0


def _mean(hist: Mapping[float, int]) -> float | None:
    n = sum(hist.values())
    return sum(x * c for x, c in hist.items()) / n if n else None


def cost(total: Mapping[float, int], theme: Mapping[float, int]) -> tuple[float | None, float | None]:
    """The cost and its standard error from two histograms (value → answers): all answers, and those
    naming the theme negatively (a part of them). (None, None) when either side is empty."""
    rest = {x: total.get(x, 0) - theme.get(x, 0) for x in total}
    if any(c < 0 for c in rest.values()) or any(x not in total for x in theme if theme[x]):
        raise ValueError("the theme's answers must be a part of all answers")
    n, n_t = sum(total.values()), sum(theme.values())
    if not n_t or n_t == n:
        return None, None
    a = n_t / n
    m_all, m_r = _mean(total), _mean(rest)
    assert m_all is not None and m_r is not None
    value = m_r - m_all
    squares = 0.0
    for x, c in theme.items():
        squares += c * (x - m_all) ** 2
    for x, c in rest.items():
        squares += c * ((x - m_r) / (1 - a) - (x - m_all)) ** 2
    return value, math.sqrt(squares) / n


def impact(theme_id: str, unit: str, total: Mapping[float, int], theme: Mapping[float, int]) -> Impact:
    rest = {x: total.get(x, 0) - theme.get(x, 0) for x in total}
    n, n_t = sum(total.values()), sum(theme.values())
    value, se = cost(total, theme)
    low = high = None
    if value is not None and se is not None and min(n_t, n - n_t) >= MIN_SIDE:
        low, high = value - Z95 * se, value + Z95 * se
    return Impact(
        theme=theme_id,
        unit=unit,
        n=n,
        n_theme=n_t,
        score=_mean(total),
        score_theme=_mean(theme),
        score_rest=_mean(rest),
        cost=value,
        low=low,
        high=high,
    )


def nps_values(hist: Mapping[int, int]) -> dict[float, int]:
    """A 0-10 histogram as NPS values: +100 (9-10), 0 (7-8), -100 (0-6)."""
    out: dict[float, int] = {}
    for score, c in hist.items():
        value = 100.0 if score >= 9 else (0.0 if score >= 7 else -100.0)
        out[value] = out.get(value, 0) + c
    return out


def ranked(impacts: list[Impact]) -> list[Impact]:
    """Costliest first; themes without an estimate last, by how many named them."""
    return sorted(impacts, key=lambda i: (i.cost is None, -(i.cost or 0.0), -i.n_theme, i.theme))
