"""The weekly digest as an e-mail: subject, HTML part, text part, and the charts the HTML shows inline.

Every figure is formatted here (the same words as the Slack summary, from ``domain.digest``); the
templates only place it. ``.html`` is autoescaped (a comment with markup reads as typed), ``.txt`` is
not (a text part is plain text). jinja2 is imported, and its environment built, at the first render.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from services.notifier.domain import digest_loop
from services.notifier.domain.digest import (
    DASH,
    MINUS,
    AtRisk,
    Digest,
    NotableComment,
    OverdueCase,
    ScoreFigure,
    SourceReviews,
    ThemeFigure,
    change_is_good,
    change_text,
    duration_text,
    headline,
    interval_text,
    period_text,
    plural,
    score_text,
    summary,
    theme_movement,
    trend_sparkline,
)
from shared import templates
from shared.money import money

if TYPE_CHECKING:
    import jinja2

    from services.notifier.digest_charts import Chart

TEMPLATES = Path(__file__).resolve().parent / "templates"
GOOD = "#1a7f37"
BAD = "#c62a2a"
MUTED = "#555b66"
NEGATIVE_EDGE = "#d1495b"
POSITIVE_EDGE = "#2a9d8f"
SCORE_NAMES = {"nps": "Net Promoter Score", "csat": "Satisfied customers", "ces": "Customer effort"}
SCORE_NOTES = {"nps": f"{MINUS}100 to 100", "csat": "rated 4 or 5 of 5", "ces": "1 to 7, lower is better"}
CHART_FILES = {"trend": "score-trend.png", "themes": "themes.png", "ratings": "ratings.png"}
_CID_SRC = re.compile(r'src="cid:([A-Za-z0-9._@-]+)"')


class DigestImage(NamedTuple):
    """A chart the HTML shows with ``<img src="cid:{content_id}">`` (``shared.mail.message.InlineImage``)."""

    content_id: str
    filename: str
    png: bytes


class RenderedDigest(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    html: str
    text: str
    images: list[DigestImage] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class Tile:
    """One score as the e-mail shows it."""

    label: str
    name: str
    note: str
    value: str
    change: str
    change_colour: str
    previous: str
    margin_note: str
    verdict: str  # "better", "worse" (a change beyond the margin of error), else ""
    answers: str
    rate: str  # the response rate
    range: str


@dataclass(frozen=True)
class ChartView:
    src: str
    width: int
    height: int
    alt: str


def _tile(figure: ScoreFigure) -> Tile:
    kind = figure.survey_type
    good = change_is_good(figure)
    clear = figure.change_is_clear is not False
    colour = MUTED if good is None or not clear else GOOD if good else BAD
    previous = f"vs {score_text(kind, figure.previous)} last week" if figure.previous is not None else ""
    return Tile(
        label=figure.label,
        name=SCORE_NAMES[kind],
        note=SCORE_NOTES[kind],
        value=score_text(kind, figure.score) if figure.score is not None else DASH,
        change=change_text(figure) or ("new this week" if figure.score is not None else ""),
        change_colour=colour,
        previous=previous,
        margin_note="within the margin of error" if figure.change_is_clear is False else "",
        verdict="" if good is None or not figure.change_is_clear else "better" if good else "worse",
        answers=_answers_line(figure),
        rate=_rate_line(figure),
        range=f"95% range {interval_text(kind, figure.interval)}" if figure.interval else "",
    )


def _answers_line(figure: ScoreFigure) -> str:
    return plural(figure.n, "answer") if figure.n else "no answers this week"


def _rate_line(figure: ScoreFigure) -> str:
    if figure.response_rate is None or figure.sent is None:
        return ""
    return f"{figure.response_rate:.0%} of {figure.sent:,} invited"


def _theme_row(theme: ThemeFigure) -> dict[str, str]:
    return {
        "label": theme.label,
        "count": plural(theme.count, "mention"),
        "movement": theme_movement(theme),
        "mood": f"{theme.negative_share:.0%} negative · {theme.positive_share:.0%} positive",
        "mood_colour": BAD if theme.negative_share >= 0.5 else MUTED,
    }


def _comment_row(comment: NotableComment) -> dict[str, str | None]:
    return {
        "text": comment.text,
        "by": f"{comment.author} · {comment.detail}",
        "edge": NEGATIVE_EDGE if comment.sentiment == "negative" else POSITIVE_EDGE,
        "url": comment.url if comment.url and comment.url.startswith("https://") else None,
    }


def _source_row(source: SourceReviews) -> dict[str, str]:
    return {
        "label": source.label,
        "count": str(source.count),
        "average": f"{source.average:.1f} ★" if source.average is not None else "no rating",
    }


def _case_row(case: OverdueCase) -> dict[str, str | None]:
    return {
        "who": case.who,
        "what": case.what,
        "late": f"{duration_text(case.hours_late)} past target",
        "comment": case.comment,
        "url": case.url if case.url and case.url.startswith("https://") else None,
    }


def _risk_row(customer: AtRisk, currency: str | None) -> dict[str, str | None]:
    return {
        "name": customer.name,
        "risk": f"{customer.risk:.0%} risk",
        "spend": f"{money(customer.spend_total, currency)} in {plural(customer.orders, 'order')}, "
        f"{money(customer.spend_year, currency)} in the last year",
        "reasons": "; ".join(customer.reasons).capitalize() if customer.reasons else "",
        "email": customer.email,
    }


def _risk_note(digest: Digest) -> str:
    """When the risk was computed and what made a customer count (the owner judges the list by it)."""
    if digest.at_risk_computed_at is None:
        return ""
    at = digest.at_risk_computed_at.astimezone(UTC)
    bar = digest.at_risk_valuable_from
    spend = f" and {money(bar, digest.currency)} or more spent (your top quarter)" if bar else ""
    return f"Computed {at.day} {at:%b %Y %H:%M} UTC, for customers with two orders or more{spend}."


# ----------------------------------------------------------------------------------------------- parts


def content_id(digest: Digest, name: str) -> str:
    """A Content-ID unique to the chart and the week (``shared.mail.message.CONTENT_ID`` shape)."""
    return f"{name}.{digest.period_end:%Y%m%d}@digest.cxloop"


def _context(digest: Digest, charts: Mapping[str, Chart]) -> dict[str, Any]:
    period = period_text(digest.period_start, digest.period_end)
    gist = headline(digest)
    views = {
        name: ChartView(src=f"cid:{content_id(digest, name)}", width=c.width, height=c.height, alt=c.alt)
        for name, c in charts.items()
    }
    reviews = digest.reviews
    cases = digest.cases
    return {
        "shop": digest.shop_name,
        "period": period,
        "subject": f"{digest.shop_name}, {period}: {gist}",
        "preheader": gist,
        "summary": summary(digest),
        "tiles": [_tile(f) for f in digest.scores],
        "trend": digest.trend,
        "sparkline": trend_sparkline(digest.trend) if digest.trend else "",
        "trend_values": _trend_values(digest),
        "charts": views,
        "themes": [_theme_row(t) for t in digest.themes],
        "negative_comments": [_comment_row(c) for c in digest.comments if c.sentiment == "negative"],
        "positive_comments": [_comment_row(c) for c in digest.comments if c.sentiment == "positive"],
        "reviews_total": reviews.total,
        "reviews_line": _reviews_line(digest),
        "sources": [_source_row(s) for s in reviews.sources],
        "cases_line": _cases_line(digest),
        "overdue": [_case_row(c) for c in cases.overdue],
        "overdue_more": cases.overdue_total - len(cases.overdue),
        "overdue_total": cases.overdue_total,
        "at_risk": [_risk_row(r, digest.currency) for r in digest.at_risk],
        "at_risk_more": digest.at_risk_total - len(digest.at_risk),
        "at_risk_note": _risk_note(digest),
        "colours": {"good": GOOD, "bad": BAD, "muted": MUTED},
        "retention": digest.retention,
        **_loop_context(digest),
    }


def _loop_context(digest: Digest) -> dict[str, Any]:
    """What drives the score and how fast the loop was closed (digest_loop.py words both)."""
    return {
        "drivers": digest_loop.driver_lines(digest),
        "drivers_shown": digest.drivers is not None,
        "service_line": digest_loop.service_line(digest) if digest.service else "",
        "target_change": digest_loop.target_change(digest),
        "emerging": digest_loop.emerging_lines(digest),
    }


def _trend_values(digest: Digest) -> str:
    trend = digest.trend
    if trend is None:
        return ""
    return ", ".join(
        DASH if p.value is None else score_text(trend.survey_type, p.value) for p in trend.points
    )


def _reviews_line(digest: Digest) -> str:
    reviews = digest.reviews
    line = f"{plural(reviews.total, 'new review')} (last week {reviews.previous_total})"
    if reviews.average is not None:
        line += f", {reviews.average:.1f} ★ on average"
    return line + "."


def _cases_line(digest: Digest) -> str:
    cases = digest.cases
    if not cases.opened:
        return "No case was opened this week."
    line = (
        f"{plural(cases.opened, 'case')} opened, {cases.replied} replied to "
        f"({cases.replied_within_target} within target)"
    )
    if cases.median_hours_to_reply is not None:
        line += f"; a first reply took {duration_text(cases.median_hours_to_reply)} (median)"
    return line + "."


def _environment() -> jinja2.Environment:
    return templates.environment(TEMPLATES)


def render_digest(digest: Digest, charts: Mapping[str, Chart] | None = None) -> RenderedDigest:
    """The digest e-mail; ``charts`` (``digest_charts.render_charts``) are shown where they exist."""
    shown = dict(charts or {})
    context = _context(digest, shown)
    environment = _environment()
    return RenderedDigest(
        subject=context["subject"],
        html=environment.get_template("digest.html").render(context),
        text=environment.get_template("digest.txt").render(context),
        images=[
            DigestImage(content_id(digest, name), CHART_FILES.get(name, f"{name}.png"), chart.png)
            for name, chart in shown.items()
        ],
    )


def preview_html(rendered: RenderedDigest) -> str:
    """The HTML with every ``cid:`` image as a ``data:`` URI: one file a browser opens as it is
    (``cxloop digest --preview``). Mail clients get the ``cid:`` form: many block ``data:`` images."""
    inline = {image.content_id: image.png for image in rendered.images}

    def data_uri(match: re.Match[str]) -> str:
        png = inline.get(match.group(1))
        return f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' if png else match.group(0)

    return _CID_SRC.sub(data_uri, rendered.html)
