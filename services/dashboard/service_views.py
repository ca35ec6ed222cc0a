"""The cases page's service figures as the owner reads them (decision 123): each a value, its n and,
where it is estimated, its 95 % interval."""

from __future__ import annotations

from services.dashboard.domain.model import ServiceReport
from services.dashboard.page_views import Kpi, count
from services.notifier.api import ServiceKpis

DASH = "\u2013"


def hours_text(hours: float | None) -> str:
    """45 min, 3.5 h, 2.1 days."""
    if hours is None:
        return DASH
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h".replace(".0 h", " h")
    return f"{hours / 24:.1f} days"


def _span(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "95% interval: needs more cases"
    return f"95% interval {hours_text(low)} to {hours_text(high)}"


def _share(value: float | None, low: float | None, high: float | None) -> tuple[str, str]:
    if value is None:
        return DASH, ""
    interval = f"95% interval {low:.0f}% to {high:.0f}%" if low is not None and high is not None else ""
    return f"{value:.0f}%", interval


def tiles(kpis: ServiceKpis) -> list[Kpi]:
    first, done = kpis.first_reply, kpis.resolution
    within = first.within_target
    in_time, in_time_span = _share(within.value, within.low, within.high) if within else (DASH, "")
    target = f"target {hours_text(first.target_hours)}" if first.target_hours else "no target"
    fcr = kpis.first_contact_resolution
    fcr_value, fcr_span = _share(fcr.value, fcr.low, fcr.high)
    unanswered = f"; {kpis.resolved_without_reply} without a reply" if kpis.resolved_without_reply else ""
    again = kpis.recontact
    again_value, again_span = _share(again.value, again.low, again.high)
    return [
        Kpi(
            "First reply, median",
            hours_text(first.median.hours),
            f"90th percentile {hours_text(first.p90.hours)}; {count(first.n, 'case')} replied",
            _span(first.median.low, first.median.high) if first.n else "",
        ),
        Kpi("Replied within target", in_time, f"of {count(first.n, 'case')} replied; {target}", in_time_span),
        Kpi(
            "Resolution, median",
            hours_text(done.median.hours),
            f"90th percentile {hours_text(done.p90.hours)}; {count(done.n, 'case')} resolved; no target set",
            _span(done.median.low, done.median.high) if done.n else "",
        ),
        Kpi(
            "First-contact resolution",
            fcr_value,
            f"resolved with one reply, of {count(fcr.n, 'resolved case')}{unanswered}",
            fcr_span,
        ),
        Kpi(
            "Re-contacts",
            again_value,
            f"unhappy again within 30 days of a resolved case, of {count(again.n, 'case')} opened for a "
            "known customer (a review's case has none)",
            again_span,
        ),
    ]


def _pair(median: float | None, p90: float | None) -> str:
    return f"{hours_text(median)} / {hours_text(p90)}"


def weeks(report: ServiceReport) -> list[dict[str, str]]:
    """One row a week, newest first."""
    rows = []
    for w in reversed(report.weeks):
        rows.append({
            "week": f"{w.start:%d %b} to {w.end:%d %b}",
            "opened": str(w.opened),
            "first_reply": _pair(w.first_reply.median.hours, w.first_reply.p90.hours),
            "replied": str(w.first_reply.n),
            "resolution": _pair(w.resolution.median.hours, w.resolution.p90.hours),
            "fcr": _share(w.first_contact_resolution.value, None, None)[0],
            "recontact": _share(w.recontact.value, None, None)[0],
        })  # fmt: skip
    return rows
