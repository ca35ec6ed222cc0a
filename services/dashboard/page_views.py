"""What the dashboard's pages show, shaped for their templates: filters read from a query string, the
KPI cards' text, the charts' data, page links and the words for an outcome. Pure: no store, no HTTP;
anything a person typed wrong is a ``BadRequest`` naming the field."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from services.dashboard import service
from services.dashboard.domain.model import BANDS, CaseView, Overview
from services.dashboard.domain.reports import Bucket, MetricsReport, SurveyFigures
from services.notifier.api import ReplyMode
from shared import metrics
from shared.errors import BadRequest
from shared.metrics import Metric
from shared.themes import LABELS, theme_id

PAGE_SIZE = 25
KINDS = ("response", "mention")
# Survey answers come by e-mail; reviews from these sources (services/reviews Source).
CHANNELS = ("email", "google", "trustpilot", "app_store", "yelp", "reddit", "csv", "webhook")
SENTIMENTS = ("positive", "neutral", "negative")
STATUSES = ("open", "replied", "resolved")
ACTIONS = service.ACTIONS
REPLY_MODES = tuple(m.value for m in ReplyMode)
MAX_TARGET_HOURS = 24 * 30
MAX_REPLY_CHARS = 5000
FEED_FIELDS = ("from", "to", "kind", "channel", "band", "sentiment", "theme", "has_text")
# The fields each export takes (the API's: an answer has no channel but e-mail, a review no band).
EXPORT_FIELDS = {
    "responses": ("from", "to", "band", "sentiment", "theme", "has_text"),
    "reviews": ("from", "to", "channel", "sentiment", "theme"),
}
_WORD = re.compile(r"^[a-z0-9_-]{1,60}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,600}$")
SENTIMENT_BADGE = {"positive": "pos", "negative": "neg", "neutral": "neu"}


# --- reading what was asked ---------------------------------------------------------------------------


def day(params: Mapping[str, str], name: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        found = date.fromisoformat(raw)
    except ValueError as e:
        raise BadRequest(f"{name} is not a date (YYYY-MM-DD)") from e
    if not service.EARLIEST <= found <= service.LATEST:
        raise BadRequest(f"{name}: dates run from {service.EARLIEST} to {service.LATEST}")
    return found


def choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...] | Mapping[str, Any]) -> str | None:
    raw = params.get(name, "").strip()
    if not raw or raw == "all":
        return None
    if raw not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return raw


def word(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name, "").strip().lower()
    if not raw:
        return None
    if not _WORD.match(raw):
        raise BadRequest(f"{name} is a word of letters, digits, _ and - (like delivery_shipping)")
    return raw


def cursor(params: Mapping[str, str]) -> str | None:
    raw = params.get("cursor", "").strip()
    if raw and not _CURSOR.match(raw):
        raise BadRequest("cursor is not one this list gave out")
    return raw or None


def has_text(params: Mapping[str, str]) -> bool | None:
    return {"yes": True, "no": False}.get(params.get("has_text", "").strip())


@dataclass(frozen=True)
class FeedForm:
    """The feed's filter as given (for the form and the links) and as the service reads it."""

    values: dict[str, str]
    query: service.FeedQuery

    def params(self, fields: tuple[str, ...] = FEED_FIELDS) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k in fields and v and v != "all"}


def theme(params: Mapping[str, str], choices: Mapping[str, str]) -> str | None:
    """The theme chosen: an id of ``choices`` or its label as the pages show it."""
    raw = params.get("theme", "").strip()
    if not raw:
        return None
    found = theme_id(raw, frozenset(choices))
    if found is None:
        raise BadRequest(f"theme: there is no theme {raw[:60]!r}; choose one from the list")
    return found


def form_values(params: Mapping[str, str]) -> dict[str, str]:
    """The filter as given, for the form to show again (also when it was refused)."""
    return {k: params.get(k, "").strip() for k in FEED_FIELDS}


def feed_form(params: Mapping[str, str], themes: Mapping[str, str] = LABELS) -> FeedForm:
    query = service.FeedQuery(
        start=day(params, "from"),
        end=day(params, "to"),
        kind=choice(params, "kind", KINDS),
        channel=word(params, "channel"),
        band=choice(params, "band", BANDS),
        sentiment=choice(params, "sentiment", SENTIMENTS),
        theme=theme(params, themes),
        has_text=has_text(params),
    )
    query.filter()  # a band and dates that contradict each other are refused here, once
    return FeedForm(values=form_values(params) | {"theme": query.theme or ""}, query=query)


def export_query(form: FeedForm, name: str) -> service.FeedQuery:
    """The feed's filter for one export: its kind, and only the fields that export takes."""
    q = form.query
    if name == "responses":
        return service.FeedQuery(start=q.start, end=q.end, kind="response", band=q.band,
                                 sentiment=q.sentiment, theme=q.theme, has_text=q.has_text)  # fmt: skip
    return service.FeedQuery(start=q.start, end=q.end, kind="mention", channel=q.channel,
                             sentiment=q.sentiment, theme=q.theme)  # fmt: skip


def exports(form: FeedForm) -> list[str]:
    """The exports that hold what the feed shows: answers unless only reviews are asked for, reviews
    unless only answers are (a score band or no text)."""
    q = form.query
    found = []
    if q.kind in (None, "response") and q.channel in (None, "email"):
        found.append("responses")
    if q.kind in (None, "mention") and q.band is None and q.has_text is not False and q.channel != "email":
        found.append("reviews")
    return found


def link(path: str, params: Mapping[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


# --- settings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsChange:
    survey_enabled: bool
    reply_mode: ReplyMode
    first_reply_target_hours: float


def settings_change(form: Mapping[str, str]) -> SettingsChange:
    mode = form.get("reply_mode", "")
    if mode not in REPLY_MODES:
        raise BadRequest(f"reply mode must be one of {', '.join(REPLY_MODES)}")
    try:
        hours = float(form.get("first_reply_target_hours", ""))
    except ValueError as e:
        raise BadRequest("the first-reply target is a number of hours") from e
    if not math.isfinite(hours) or not 0 < hours <= MAX_TARGET_HOURS:
        raise BadRequest(f"the first-reply target is more than 0 and at most {MAX_TARGET_HOURS} hours")
    return SettingsChange(
        survey_enabled=form.get("survey_enabled") == "on",
        reply_mode=ReplyMode(mode),
        first_reply_target_hours=round(hours, 2),
    )


def reply_text(form: Mapping[str, str]) -> str:
    text = form.get("text", "").replace("\r\n", "\n").strip()
    if not text:
        raise BadRequest("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise BadRequest(f"a reply is at most {MAX_REPLY_CHARS} characters")
    return text


# --- the overview -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str
    interval: str = ""
    alert: str = ""  # a badge beside the detail (overdue cases)


def number(metric: Metric, value: float | None) -> str:
    if value is None:
        return "\u2013"  # an en dash: no value
    if metric.name == "nps":
        return f"{round(value) + 0:+d}"
    if metric.name == "ces":
        return f"{value:.2f}"
    return f"{value:.0f}%"


def interval(metric: Metric) -> str:
    if metric.value is None:
        return ""
    if metric.low is None or metric.high is None:
        return "95% interval: needs more answers"
    return f"95% interval {number(metric, metric.low)} to {number(metric, metric.high)}"


def _figures(total: Bucket, survey_type: str) -> SurveyFigures | None:
    return next((s for s in total.surveys if s.survey_type == survey_type), None)


def count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def score_kpi(total: Bucket, survey_type: str) -> Kpi:
    found = _figures(total, survey_type)
    metric = found.score if found else Metric(name=survey_type, value=None, n=0)
    if not metric.n:
        return Kpi(label=survey_type.upper(), value=number(metric, None), detail="no answers yet")
    return Kpi(
        label=survey_type.upper(),
        value=number(metric, metric.value),
        detail=count(metric.n, "answer"),
        interval=interval(metric),
    )


def response_rate(total: Bucket) -> Metric:
    """Over every survey type: answers (capped at the sends) per survey sent."""
    sent = sum(s.sent for s in total.surveys)
    answered = sum(min(s.score.n, s.sent) for s in total.surveys)
    return metrics.response_rate(answered, sent)


def kpis(overview: Overview) -> list[Kpi]:
    total = overview.metrics.total
    rate = response_rate(total)
    weeks = len(overview.metrics.buckets)
    sent = count(rate.n, "survey") + " sent"
    return [
        *(score_kpi(total, t) for t in ("nps", "csat", "ces")),
        Kpi("Response rate", number(rate, rate.value), sent, interval(rate) if rate.n else ""),
        Kpi("Responses", str(total.responses), f"in {weeks} weeks", "and " + count(total.reviews, "review")),
        Kpi(
            "Open cases",
            str(overview.open_cases),
            "waiting for you",
            alert=f"{overview.overdue_cases} overdue" if overview.overdue_cases else "",
        ),
    ]


def _x(report: MetricsReport) -> list[int]:
    return [int(datetime.combine(b.start, time(), tzinfo=UTC).timestamp()) for b in report.buckets]


def _series(report: MetricsReport, survey_type: str) -> list[Metric | None]:
    found = [_figures(b, survey_type) for b in report.buckets]
    return [f.score if f and f.score.n else None for f in found]


def _values(points: list[Metric | None], part: str) -> list[float | None]:
    return [round(getattr(m, part), 1) if m and getattr(m, part) is not None else None for m in points]


def charts(report: MetricsReport) -> dict[str, dict[str, Any]]:
    """The overview's charts by element id (charts.js reads them), only those with something to draw."""
    x = _x(report)
    nps = _series(report, "nps")
    found: dict[str, dict[str, Any]] = {
        "nps-trend": {"kind": "band", "x": x, "y": _values(nps, "value"), "low": _values(nps, "low"),
                      "high": _values(nps, "high"), "label": "NPS", "yMin": -100, "yMax": 100, "tz": "UTC"},
        "volume": {"kind": "bars", "x": x, "tz": "UTC", "series": [
            {"label": "Responses", "values": [b.responses for b in report.buckets]},
            {"label": "Reviews", "values": [b.reviews for b in report.buckets]},
        ]},
    }  # fmt: skip
    for survey_type, label, low, high in (("csat", "CSAT %", 0, 100), ("ces", "CES", 1, 7)):
        points = _series(report, survey_type)
        if any(points):
            found[f"{survey_type}-trend"] = {
                "kind": "lines", "x": x, "tz": "UTC", "yMin": low, "yMax": high,
                "series": [{"label": label, "values": _values(points, "value")}],
            }  # fmt: skip
    return found


# --- cases --------------------------------------------------------------------------------------------


def who(case: CaseView) -> str:
    name = case.first_name or ("a customer" if case.subject == "response" else f"a {case.source} reviewer")
    if case.score is not None:
        return f"{(case.survey_type or '').upper()} {case.score} from {name}".strip()
    if case.rating is not None:
        return f"{case.rating:g}★ on {case.source} from {name}"
    return f"{case.source or 'a review'}: {name}"


def outcome(case: CaseView, action: str) -> str:
    if action == "resolve":
        return "Resolved. Nothing more goes out."
    return {
        "sent": "Sent. The customer's answer will reach your inbox.",
        "requested": "Handed to the review site; the case counts as replied once the site accepts it.",
        "posted": "Marked as posted on the review site; the case counts as replied.",
        "suppressed": "Not sent: this customer unsubscribed from your e-mails.",
        "failed": "Not sent: the mail provider refused the address.",
    }.get(case.reply_state, f"Saved; the reply is {case.reply_state.replace('_', ' ')}.")
