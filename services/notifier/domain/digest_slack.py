"""The weekly digest as one Slack message: the figures that need a look now, the e-mail has the rest.

Slack cannot show the e-mail's charts (an incoming webhook can only link images by public URL), so the
trend is a line of block characters. Customers' names stay out of the channel: cases past target show
who the feedback came from (a first name or a review site), customers at risk only their count. Built
with Slack's own models, whose ``to_dict()`` checks Block Kit's limits; every text is cut to them.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from services.notifier.domain import digest_loop
from services.notifier.domain.digest import (
    Digest,
    ScoreFigure,
    change_is_good,
    change_text,
    duration_text,
    headline,
    period_text,
    plural,
    score_text,
    summary,
    trend_sparkline,
)
from services.notifier.domain.slack_messages import mrkdwn_escape

MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FALLBACK_CHARS = 3000
SLACK_CASES = 5
_PARTIAL_ENTITY = re.compile(r"&[a-z]*$")


def _units(text: str) -> int:
    """Length in UTF-16 code units (how Slack counts; never less than ``len``)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units with an ellipsis: at a line break when one is near the end
    (a list loses whole lines), never inside an ``&amp;``-style entity."""
    if _units(text) <= limit:
        return text
    kept, used = [], 1  # room for the ellipsis
    for char in text:
        used += _units(char)
        if used > limit:
            break
        kept.append(char)
    cut = "".join(kept)
    line = cut.rfind("\n")
    if line > len(cut) * 3 // 4:
        cut = cut[:line]
    return _PARTIAL_ENTITY.sub("", cut).rstrip() + "…"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(text, SECTION_CHARS))


def _score_field(figure: ScoreFigure) -> MarkdownTextObject:
    """ "*NPS* 57  ▲ 19 pts (better)" over "35 answers · 17% of 210 invited"."""
    kind = figure.survey_type
    value = score_text(kind, figure.score) if figure.score is not None else "no answers"
    change = change_text(figure)
    if change and figure.change_is_clear is False:
        change += " _(within the margin of error)_"
    elif change and figure.change_is_clear:
        change += " (better)" if change_is_good(figure) else " (worse)"
    details = [plural(figure.n, "answer")]
    if figure.response_rate is not None and figure.sent:
        details.append(f"{figure.response_rate:.0%} of {figure.sent:,} invited")
    if figure.interval is not None:
        low, high = score_text(kind, figure.interval.low), score_text(kind, figure.interval.high)
        details.append(f"95% range {low} to {high}")
    text = f"*{figure.label}*  {value}  {change}".rstrip() + "\n" + " · ".join(details)
    return MarkdownTextObject(text=fit(text, FIELD_CHARS))


def _trend_line(digest: Digest) -> str | None:
    trend = digest.trend
    if trend is None:
        return None
    known = [p.value for p in trend.points if p.value is not None]
    first, last = score_text(trend.survey_type, known[0]), score_text(trend.survey_type, known[-1])
    weeks = len(trend.points)
    return f"{trend.label}, last {weeks} weeks: `{trend_sparkline(trend)}`  {first} → {last}"


def _themes_text(digest: Digest) -> str:
    lines = ["*What customers talk about*"]
    for t in digest.themes:
        move = (
            "new" if t.previous == 0 else f"{t.change:+d} vs last week" if t.change else "same as last week"
        )
        lines.append(f"• {mrkdwn_escape(t.label)}: {t.count} ({move}), {t.negative_share:.0%} negative")
    return "\n".join(lines)


def _reviews_text(digest: Digest) -> str:
    reviews = digest.reviews
    text = f"*New reviews*: {reviews.total} (last week {reviews.previous_total})"
    if reviews.average is not None:
        text += f", {reviews.average:.1f} ★ on average"
    if reviews.sources:
        text += "\n" + " · ".join(f"{mrkdwn_escape(s.label)} {s.count}" for s in reviews.sources)
    return text


def _cases_text(digest: Digest) -> str:
    cases = digest.cases
    text = f"*Cases past target*: {cases.overdue_total}"
    if not cases.overdue_total:
        return text + " — every case had its first reply in time"
    shown = cases.overdue[:SLACK_CASES]
    lines = [
        f"• {mrkdwn_escape(c.who)} · {mrkdwn_escape(c.what)} · {duration_text(c.hours_late)} past target"
        for c in shown
    ]
    more = cases.overdue_total - len(shown)
    return "\n".join([text, *lines, *([f"… and {more} more"] if more else [])])


def _loop_texts(digest: Digest) -> list[str]:
    """What drives the score, and how fast the loop was closed (decisions 122, 123)."""
    texts = []
    lines = digest_loop.driver_lines(digest)
    if lines:
        texts.append(
            "*What drives your score* (13 weeks)\n" + "\n".join(f"• {mrkdwn_escape(x)}" for x in lines)
        )
    new = digest_loop.emerging_lines(digest)
    if new:
        texts.append("*New in what customers say*\n" + "\n".join(f"• {mrkdwn_escape(x)}" for x in new))
    if digest.service:
        line = digest_loop.service_line(digest) + " " + digest_loop.target_change(digest)
        texts.append("*How fast you closed the loop*: " + mrkdwn_escape(line.strip()))
    return texts


def digest_blocks(digest: Digest) -> list[Block]:
    period = period_text(digest.period_start, digest.period_end)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=fit(f"{digest.shop_name}: your week, {period}", HEADER_CHARS))),
        SectionBlock(text=_md(mrkdwn_escape(summary(digest)))),
    ]
    if digest.scores:
        blocks.append(SectionBlock(fields=[_score_field(f) for f in digest.scores[:10]]))
    trend = _trend_line(digest)
    if trend:
        blocks.append(ContextBlock(elements=[_md(trend)]))
    blocks.append(DividerBlock())
    if digest.themes:
        blocks.append(SectionBlock(text=_md(_themes_text(digest))))
    blocks.append(SectionBlock(text=_md(_reviews_text(digest))))
    blocks.append(SectionBlock(text=_md(_cases_text(digest))))
    blocks.extend(SectionBlock(text=_md(fit(t, SECTION_CHARS))) for t in _loop_texts(digest))
    if digest.at_risk_total:
        risk = f"*Customers at risk of leaving*: {digest.at_risk_total} (names and reasons in the e-mail)"
        blocks.append(SectionBlock(text=_md(risk)))
    if digest.retention and digest.retention.lines:
        back = "*Customers coming back*: " + " ".join(mrkdwn_escape(x) for x in digest.retention.lines)
        blocks.append(SectionBlock(text=_md(fit(back, SECTION_CHARS))))
    blocks.append(
        ContextBlock(elements=[_md("The e-mail digest has the charts and the customers' comments.")])
    )
    assert len(blocks) <= MAX_BLOCKS, len(blocks)
    return blocks


def digest_slack(digest: Digest) -> dict[str, Any]:
    """The incoming-webhook payload: ``{"text": fallback, "blocks": [...]}`` (``to_dict`` validates)."""
    period = period_text(digest.period_start, digest.period_end)
    fallback = f"{digest.shop_name}, {period}: {headline(digest)}"
    return {
        "text": fit(mrkdwn_escape(fallback), FALLBACK_CHARS),
        "blocks": [block.to_dict() for block in digest_blocks(digest)],
    }
