"""What drives the score: each theme's cost to NPS (from the shop's survey answers) and to the mean
stars (from its rated reviews), from a period's summed day totals (decision 122).

The period's totals are a sum of its DAY items (one per day with activity: a quarter is at most 92
items, read in one or two queries), so the estimate needs no answer to be read again.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain.tallies import (
    histogram,
    stars_histogram,
    theme_histograms,
    theme_star_histograms,
)
from shared.impact import Impact, impact, nps_values, ranked
from shared.themes import theme_label


class Drivers(BaseModel):
    """Themes by what they cost, costliest first; one list per scale the shop has."""

    model_config = ConfigDict(frozen=True)

    nps: list[Impact] = Field(default_factory=list)
    stars: list[Impact] = Field(default_factory=list)


def _labelled(found: Impact) -> Impact:
    return found.model_copy(update={"label": theme_label(found.theme)})


def drivers(counts: Mapping[str, int]) -> Drivers:
    """From summed day totals: NPS answers and the ``xa_nps_`` counters; rated reviews and ``xr_``."""
    total_nps = nps_values(histogram(counts, "nps"))
    nps = [
        _labelled(impact(theme, "nps", total_nps, nps_values(hist)))
        for theme, hist in theme_histograms(counts, "nps").items()
    ]
    total_stars = {float(k): v for k, v in stars_histogram(counts).items()}
    stars = [
        _labelled(impact(theme, "stars", total_stars, {float(k): v for k, v in hist.items()}))
        for theme, hist in theme_star_histograms(counts).items()
    ]
    return Drivers(nps=ranked(nps), stars=ranked(stars))


def cost_text(found: Impact) -> str:
    """'cost 12 NPS points (±5, 31 of 240 answers)', as the page and the digest say it."""
    if found.cost is None:
        return f"no estimate ({found.n_theme} of {found.n})"
    unit = "NPS points" if found.unit == "nps" else "stars"
    value = f"{found.cost:.0f}" if found.unit == "nps" else f"{found.cost:.2f}"
    verb = "costs" if found.cost >= 0 else "adds"
    value = value.lstrip("-")
    what = "answers" if found.unit == "nps" else "rated reviews"
    if found.low is None or found.high is None:
        return f"{verb} {value} {unit} (too few to say how sure, {found.n_theme} of {found.n} {what})"
    half = (found.high - found.low) / 2
    margin = f"{half:.0f}" if found.unit == "nps" else f"{half:.2f}"
    return f"{verb} {value} {unit} (±{margin}, {found.n_theme} of {found.n} {what})"
