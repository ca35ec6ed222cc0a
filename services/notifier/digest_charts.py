"""The digest's charts as PNG images an e-mail can carry: the score trend, the themes, the ratings.

PNG because mail clients show neither SVG nor scripts; drawn at twice the size they are shown at, so
they stay sharp on a phone's or a laptop's retina screen. matplotlib is imported inside the functions,
never at import: the notifier's other handlers import this package and their cold start matters. The
figures are drawn with ``Figure`` and the Agg canvas directly (no pyplot, no global state), and saved
without a timestamp or version, so the same digest gives the same bytes.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.notifier.domain.digest import Digest, ReviewSummary, ThemeFigure, Trend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

WIDTH = 560  # CSS pixels the e-mail shows a chart at (its 600 px column less the padding)
# Five bars need less: drawn narrower, they shrink less on a phone and their labels stay readable.
RATINGS_WIDTH = 400
DENSITY = 2  # image pixels per CSS pixel
DPI = 200
INK = "#1d2330"
MUTED = "#667085"
GRID = "#e4e7ec"
BRAND = "#1f6feb"
NEGATIVE = "#d1495b"
NEUTRAL = "#c3c9d2"
POSITIVE = "#2a9d8f"
STAR_COLOURS = ("#d1495b", "#ee8a4a", "#f2c14e", "#8cc084", "#2a9d8f")
COLOURS = 64  # of the PNG's palette
FONT = 12.0  # points at DPI: 17 CSS px at full width, 10 on a phone


@dataclass(frozen=True)
class Chart:
    """One chart: the PNG, the size the e-mail shows it at, and its text for those who cannot see it."""

    name: str
    png: bytes
    width: int
    height: int
    alt: str


def render_charts(digest: Digest) -> dict[str, Chart]:
    """The charts the digest has data for, by name: ``trend``, ``themes``, ``ratings``."""
    charts: dict[str, Chart] = {}
    if digest.trend is not None:
        charts["trend"] = trend_chart(digest.trend)
    if digest.themes:
        charts["themes"] = themes_chart(digest.themes)
    if sum(digest.reviews.histogram):
        charts["ratings"] = ratings_chart(digest.reviews)
    return charts


# ------------------------------------------------------------------------------------------------ setup


def _figure(height: int, width: int = WIDTH) -> Figure:
    """An empty figure ``width`` x ``height`` CSS pixels, at ``DENSITY``."""
    # Lambda's home is read-only: matplotlib keeps its font cache in /tmp there.
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    inches = DENSITY / DPI
    layout = ConstrainedLayoutEngine(w_pad=4 / 72, h_pad=4 / 72)  # 4 pt around the axes
    figure = Figure(figsize=(width * inches, height * inches), dpi=DPI, facecolor="white", layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure, name: str, height: int, alt: str, width: int = WIDTH) -> Chart:
    """The figure as a palette PNG: a chart has few colours, and 64 of them look the same as millions
    at a quarter of the bytes. Pillow (matplotlib's own dependency) writes it with no text chunks: no
    software version, no time, so the same chart is the same bytes."""
    from PIL import Image

    canvas = figure.canvas
    canvas.draw()
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())  # type: ignore[attr-defined]
    palette = rgba.convert("RGB").quantize(
        colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return Chart(name=name, png=buffer.getvalue(), width=width, height=height, alt=alt)


def _plain_axes(axes: Axes) -> None:
    """Light axes: no frame but the baseline, muted ticks, a faint grid behind the data."""
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    axes.tick_params(colors=MUTED, labelsize=FONT - 1, length=0, pad=6)
    axes.set_axisbelow(True)


# ------------------------------------------------------------------------------------------------ trend


def _number(value: float, survey_type: str) -> str:
    if survey_type == "ces":
        return f"{value:.1f}"
    return f"{value:.0f}%" if survey_type == "csat" else f"{value:.0f}"


def _day(at: datetime) -> str:
    return f"{at.day} {at:%b}"


def trend_chart(trend: Trend) -> Chart:
    """The weekly score as a line, its 95 % interval as a band, each week's n under its date."""
    height = 230
    figure = _figure(height)
    axes = figure.add_subplot()
    _plain_axes(axes)
    xs = list(range(len(trend.points)))
    values = [p.value if p.value is not None else float("nan") for p in trend.points]
    lows = [p.interval.low if p.interval else v for p, v in zip(trend.points, values, strict=True)]
    highs = [p.interval.high if p.interval else v for p, v in zip(trend.points, values, strict=True)]
    axes.fill_between(xs, lows, highs, color=BRAND, alpha=0.12, linewidth=0)
    axes.plot(xs, values, color=BRAND, linewidth=2.2, marker="o", markersize=5, markerfacecolor="white",
              markeredgewidth=2, zorder=3)  # fmt: skip
    _trend_limits(axes, trend.survey_type, [*lows, *highs])
    axes.set_xticks(xs, [f"{_day(p.week_start)}\nn={p.n}" for p in trend.points])
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    _label_last(axes, trend)
    alt = f"{trend.label} by week: " + ", ".join(
        f"{_day(p.week_start)} {'no answers' if p.value is None else _number(p.value, trend.survey_type)}"
        for p in trend.points
    )
    return _png(figure, "trend", height, alt)


def _trend_limits(axes: Axes, survey_type: str, bounds: Sequence[float]) -> None:
    known = [b for b in bounds if not math.isnan(b)]
    scale = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}[survey_type]
    pad = (scale[1] - scale[0]) * 0.05
    low, high = max(scale[0], min(known) - pad), min(scale[1], max(known) + pad)
    axes.set_ylim(low, high)
    if survey_type == "nps" and low < 0 < high:
        axes.axhline(0, color=MUTED, linewidth=0.8, linestyle=(0, (3, 3)))
    axes.yaxis.set_major_locator(_locator())


def _locator() -> Locator:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4, integer=True)


def _label_last(axes: Axes, trend: Trend) -> None:
    known = [(i, p.value) for i, p in enumerate(trend.points) if p.value is not None]
    i, value = known[-1]
    axes.annotate(_number(value, trend.survey_type), (i, value), xytext=(0, 10), textcoords="offset points",
                  ha="center", fontsize=FONT, fontweight="bold", color=BRAND)  # fmt: skip


# ----------------------------------------------------------------------------------------------- themes


def themes_chart(themes: Sequence[ThemeFigure]) -> Chart:
    """Each theme's mentions this week as one bar split into negative, neutral and positive."""
    height = 56 + 36 * len(themes)
    figure = _figure(height)
    axes = figure.add_subplot()
    _plain_axes(axes)
    axes.spines["bottom"].set_visible(False)
    axes.set_xticks([])
    ys = list(range(len(themes)))[::-1]
    labels = [t.label for t in themes]
    left = [0.0] * len(themes)
    for part, colour, name in (("negative", NEGATIVE, "Negative"), ("neutral", NEUTRAL, "Neutral"),
                               ("positive", POSITIVE, "Positive")):  # fmt: skip
        counts = [float(getattr(t, part)) for t in themes]
        axes.barh(ys, counts, left=left, height=0.62, color=colour, label=name, linewidth=0)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    axes.set_yticks(ys, labels, fontsize=FONT, color=INK)
    widest = max(t.count for t in themes)
    for y, t in zip(ys, themes, strict=True):
        axes.text(t.count + widest * 0.02, y, str(t.count), va="center", fontsize=FONT, color=INK)
    axes.set_xlim(0, widest * 1.12)
    figure.legend(loc="outside upper left", ncols=3, frameon=False, fontsize=FONT - 1, handlelength=1.0,
                  handleheight=1.0, columnspacing=1.4)  # fmt: skip
    alt = "Themes this week: " + "; ".join(
        f"{t.label} {t.count} ({t.negative} negative, {t.positive} positive)" for t in themes
    )
    return _png(figure, "themes", height, alt)


# ---------------------------------------------------------------------------------------------- ratings


def ratings_chart(reviews: ReviewSummary) -> Chart:
    """How many of this week's reviews gave 1 to 5 stars."""
    height = 150
    figure = _figure(height, RATINGS_WIDTH)
    axes = figure.add_subplot()
    _plain_axes(axes)
    axes.set_yticks([])
    xs = list(range(1, 6))
    counts = reviews.histogram
    axes.bar(xs, counts, width=0.62, color=STAR_COLOURS, linewidth=0)
    axes.set_xticks(xs, [f"{x} ★" for x in xs], fontsize=FONT, color=INK)
    tallest = max(counts)
    for x, count in zip(xs, counts, strict=True):
        axes.text(x, count + tallest * 0.04, str(count), ha="center", va="bottom", fontsize=FONT, color=INK)
    axes.set_ylim(0, tallest * 1.25)
    axes.set_xlim(0.4, 5.6)
    alt = "Ratings this week: " + ", ".join(
        f"{x} star{'' if x == 1 else 's'}: {c}" for x, c in zip(xs, counts, strict=True)
    )
    return _png(figure, "ratings", height, alt, RATINGS_WIDTH)
