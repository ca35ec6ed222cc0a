"""One message per alert batch: Block Kit for Slack, plain text for e-mail.

A batch becomes one message (not one per alert) so a bad hour is one notification, not fifty. The
blocks are built with Slack's own models, whose ``to_dict()`` checks Block Kit's limits; the budgets
below keep any batch inside them (≤ 50 blocks, ≤ 3000 characters a section) whatever customers wrote.
Lengths are counted in UTF-16 code units, which is never less than Python's count of characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from services.notifier.domain.model import MAX_SAMPLES, Alert, AlertBatch, Delivery, RuleKind

MAX_BLOCKS = 50
HEADER_CHARS = 150  # a header block's plain text
SECTION_CHARS = 3000  # a section's (and a context element's) text
FALLBACK_CHARS = 3000  # the notification text
TITLE_CHARS = 300  # an alert's title in its section
SAMPLE_TEXT_CHARS = 1500  # an alert's comment or excerpt in its section
URL_CHARS = 3000  # a button's url

# Singular and plural of what each rule counts, as the header says it.
NOUNS: dict[str, tuple[str, str]] = {
    RuleKind.DETRACTOR: ("detractor", "detractors"),
    RuleKind.UNHAPPY_CSAT: ("unhappy CSAT answer", "unhappy CSAT answers"),
    RuleKind.HIGH_EFFORT: ("high-effort answer", "high-effort answers"),
    RuleKind.NEGATIVE_MENTION: ("negative review", "negative reviews"),
    RuleKind.KEYWORD: ("watched-word alert", "watched-word alerts"),
    RuleKind.THEME_SURGE: ("theme surge", "theme surges"),
    RuleKind.CHURN_RISK: ("customer at risk of churn", "customers at risk of churn"),
    RuleKind.SOURCE_HEALTH: ("review source notice", "review source notices"),
}
WINDOW_PHRASES: dict[str, str] = {
    Delivery.IMMEDIATE: "in the last minute",
    Delivery.HOURLY: "in the last hour",
    Delivery.DAILY: "in the last day",
}
_RULE_ORDER = {kind.value: i for i, kind in enumerate(RuleKind)}
_MRKDWN_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True)
class PlainMessage:
    """The e-mail version of a batch: a one-line subject and a plain-text body."""

    subject: str
    text: str


def slack_payload(batch: AlertBatch) -> dict[str, Any]:
    """The incoming-webhook payload for ``batch``: ``{"text": fallback, "blocks": [...]}``.

    Raises SlackObjectFormationError only if a limit were broken (the budgets make that a bug).
    """
    samples = _shown(batch)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_fit_plain(headline(batch), HEADER_CHARS)))]
    counts = _counts_line(batch.by_rule)
    if counts:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_fit_mrkdwn(counts, SECTION_CHARS))]))
    for alert in samples:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_section_text(alert))))
        buttons = _buttons(alert)
        if buttons:
            blocks.append(ActionsBlock(elements=buttons))
    more = more_count(batch)
    if more:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"… and {more} more")]))
    assert len(blocks) <= MAX_BLOCKS, len(blocks)  # 2 + 3 per sample + 1, with at most MAX_SAMPLES
    return {"text": _fit_mrkdwn(headline(batch), FALLBACK_CHARS), "blocks": [b.to_dict() for b in blocks]}


def plain_message(batch: AlertBatch) -> PlainMessage:
    """The same batch for e-mail: what the Slack message says, with links written out."""
    lines = [headline(batch), ""]
    counts = _counts_line(batch.by_rule)
    if counts:
        lines += [counts, ""]
    for alert in _shown(batch):
        lines.append(f"- {_one_line(alert.title) or '(untitled)'}")
        text = _one_line(alert.text)
        if text:
            lines.append(f'  "{text}"')
        if alert.url:
            lines.append(f"  Review: {alert.url}")
        if alert.approve_url:
            lines.append(f"  Approve reply: {alert.approve_url}")
        lines.append("")
    more = more_count(batch)
    if more:
        lines.append(f"… and {more} more")
    return PlainMessage(subject=headline(batch), text="\n".join(lines).rstrip() + "\n")


def headline(batch: AlertBatch) -> str:
    """The batch in a line, e.g. "5 detractors and 2 negative reviews in the last hour" ("7 alerts in the
    last hour" when that would not fit a header)."""
    window = _window_phrase(batch.window)
    counted = _ordered_counts(batch.by_rule)
    if counted:
        what = _join([_counted(rule, n) for rule, n in counted])
        text = f"{what} {window}".strip()
        if _units(text) <= HEADER_CHARS:
            return text
    total = batch.count or sum(n for _, n in counted)
    return f"{total} {'alert' if total == 1 else 'alerts'} {window}".strip()


def more_count(batch: AlertBatch) -> int:
    """How many alerts of the batch its message does not show."""
    return max(0, batch.count - len(_shown(batch)))


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters as entities, so user text never becomes a link or mention."""
    return "".join(_MRKDWN_ESCAPES.get(c, c) for c in text)


def _shown(batch: AlertBatch) -> Sequence[Alert]:
    return batch.samples[:MAX_SAMPLES]


def _section_text(alert: Alert) -> str:
    title = _fit_mrkdwn(_one_line(alert.title) or "(untitled)", TITLE_CHARS)
    text = _one_line(alert.text)
    if not text:
        return f"*{title}*"
    return f"*{title}*\n>{_fit_mrkdwn(text, SAMPLE_TEXT_CHARS)}"


def _buttons(alert: Alert) -> list[ButtonElement]:
    buttons = []
    if _linkable(alert.url):
        buttons.append(ButtonElement(text="Open review", url=alert.url, action_id="open_review"))
    if _linkable(alert.approve_url):
        buttons.append(
            ButtonElement(
                text="Approve reply", url=alert.approve_url, action_id="approve_reply", style="primary"
            )
        )
    return buttons


def _linkable(url: str | None) -> bool:
    return url is not None and url.startswith(("https://", "http://")) and len(url) <= URL_CHARS


def _counts_line(by_rule: Mapping[str, int]) -> str:
    return " · ".join(f"{_label(rule)}: {n}" for rule, n in _ordered_counts(by_rule))


def _ordered_counts(by_rule: Mapping[str, int]) -> list[tuple[str, int]]:
    kept = [(rule, n) for rule, n in by_rule.items() if n > 0]
    return sorted(kept, key=lambda kv: (_RULE_ORDER.get(kv[0], len(_RULE_ORDER)), kv[0]))


def _counted(rule: str, n: int) -> str:
    one, many = NOUNS.get(rule, (f"{_one_line(rule)} alert", f"{_one_line(rule)} alerts"))
    return f"{n} {one if n == 1 else many}"


def _label(rule: str) -> str:
    label = NOUNS[rule][1] if rule in NOUNS else f"{_one_line(rule)} alerts"
    return label[:1].upper() + label[1:]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _window_phrase(window: str) -> str:
    return WINDOW_PHRASES.get(window.split("#", 1)[0], "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _units(text: str) -> int:
    """Length in UTF-16 code units (how Slack may count; never less than ``len``)."""
    return len(text.encode("utf-16-le")) // 2


def _fit_plain(text: str, limit: int) -> str:
    return _fit(text, limit, escape=False)


def _fit_mrkdwn(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and shortened (with "…") to ``limit``, never cutting an entity."""
    return _fit(text, limit, escape=True)


def _fit(text: str, limit: int, *, escape: bool) -> str:
    pieces = [_MRKDWN_ESCAPES.get(c, c) if escape else c for c in text]
    if sum(_units(p) for p in pieces) <= limit:
        return "".join(pieces)
    kept, used = [], 1  # room for the ellipsis
    for piece in pieces:
        used += _units(piece)
        if used > limit:
            break
        kept.append(piece)
    return "".join(kept).rstrip() + "…"
