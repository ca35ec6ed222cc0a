"""The retention page's figures as text and shades: the cohort heat map is a table whose cells carry
their percentage as text and a shade class (no script, no inline style: the page's CSP forbids it), the
churn trend a band chart with the same numbers in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.dashboard.page_views import Kpi, number
from services.notifier.api import RetentionSnapshot
from shared.metrics import Metric

SHADES = 6  # heat-0 (nobody came back) .. heat-5 (the highest share in the table)


@dataclass(frozen=True)
class HeatCell:
    text: str
    shade: str  # a CSS class
    title: str  # n and interval, read on hover and by screen readers


@dataclass(frozen=True)
class HeatRow:
    month: str
    customers: int
    cells: list[HeatCell | None]  # None: that month has not come yet for this cohort


def percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.0f}%"


def heat_map(snapshot: RetentionSnapshot) -> tuple[list[int], list[HeatRow]]:
    """The offsets shown (1..the oldest cohort's last) and one row per cohort, newest last."""
    width = max((len(c.cells) for c in snapshot.cohorts), default=0)
    top = max((cell.rate.value or 0.0 for c in snapshot.cohorts for cell in c.cells), default=0.0)
    rows = []
    for cohort in snapshot.cohorts:
        cells: list[HeatCell | None] = []
        for cell in cohort.cells:
            r = cell.rate
            level = 0 if not r.value or not top else max(1, round((SHADES - 1) * r.value / top))
            title = f"{r.successes} of {r.n}" + (
                f", 95% interval {percent(r.low)} to {percent(r.high)}" if r.n else ""
            )
            text = percent(r.value) + ("*" if cell.partial else "")
            cells.append(
                HeatCell(text, f"heat-{level}", title + (" (month still running)" if cell.partial else ""))
            )
        cells += [None] * (width - len(cells))
        rows.append(HeatRow(cohort.month, cohort.customers, cells))
    return list(range(1, width + 1)), rows


def kpis(snapshot: RetentionSnapshot) -> list[Kpi]:
    repeat = snapshot.repeat_rate
    last = snapshot.last_full_month()
    h = snapshot.horizon
    found = [
        Kpi("Repeat customers", percent(repeat.value), f"{repeat.successes} of {repeat.n} customers",
            _interval(repeat.low, repeat.high)),
    ]  # fmt: skip
    if last is not None:
        c = last.rate
        found.append(
            Kpi(
                f"Churn, {month_label(last.month)}",
                percent(c.value),
                f"{c.successes} of {c.n} active customers",
                _interval(c.low, c.high),
            )
        )
    found.append(
        Kpi(
            "Reorder horizon",
            f"{h.days} days" if h.days is not None else "\u2013",
            f"from {h.gaps} gaps between repeat purchases",
        )
    )
    return found


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"95% interval {percent(low)} to {percent(high)}"


def month_label(month: str) -> str:
    return datetime.strptime(month, "%Y-%m").strftime("%b %Y")


def nps_text(metric: Metric) -> str:
    if metric.value is None:
        return "\u2013"
    if metric.low is None or metric.high is None:
        return f"{number(metric, metric.value)} (n={metric.n})"
    return (
        f"{number(metric, metric.value)} ({number(metric, metric.low)} to {number(metric, metric.high)}, "
        f"n={metric.n})"
    )


def churn_chart(snapshot: RetentionSnapshot) -> dict[str, Any]:
    """charts.js's band: each month's churn with its interval (x at the month's first day, UTC)."""
    x = [int(datetime.strptime(m.month, "%Y-%m").replace(tzinfo=UTC).timestamp()) for m in snapshot.churn]

    def part(name: str) -> list[float | None]:
        return [
            None if getattr(m.rate, name) is None else round(getattr(m.rate, name), 1) for m in snapshot.churn
        ]

    return {"kind": "band", "x": x, "y": part("value"), "low": part("low"), "high": part("high"),
            "label": "Churn %", "yMin": 0, "yMax": 100, "tz": "UTC"}  # fmt: skip
