"""Block Kit as Slack shows it, roughly, for the local Slack sink's page: a header in bold, sections with
their mrkdwn (bold, italic, links, quotes, line breaks), context in small print, dividers, and buttons
as links. The owner sees what an alert will look like without a Slack workspace."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

# Slack's mrkdwn: "<url|label>" links in the raw text; the rest escaped as Slack escapes it (&amp;,
# &lt;, &gt;), then styled.
_LINK = re.compile(r"<((?:https?://|mailto:)[^|>\s]+)(?:\|([^>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])")
_CODE = re.compile(r"`([^`\n]+)`")


def _plain(slack_text: str) -> str:
    """Slack-escaped text as escaped HTML."""
    return str(escape(slack_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")))


def _styled(html: str) -> str:
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _ITALIC.sub(r"<em>\1</em>", html)
    return _STRIKE.sub(r"<s>\1</s>", html)


def _inline(raw: str) -> str:
    parts, pos = [], 0
    for link in _LINK.finditer(raw):
        parts.append(_styled(_plain(raw[pos : link.start()])))
        label = _styled(_plain(link[2] or link[1]))
        parts.append(f'<a href="{_plain(link[1])}" rel="noreferrer noopener">{label}</a>')
        pos = link.end()
    parts.append(_styled(_plain(raw[pos:])))
    return "".join(parts)


def mrkdwn(text: str) -> Markup:
    """Slack's mrkdwn as HTML: links, *bold*, _italic_, ~strike~, `code`, "> " quotes, line breaks."""
    lines = [
        f"<blockquote>{_inline(line[1:])}</blockquote>" if line.startswith(">") else f"{_inline(line)}<br>"
        for line in text.split("\n")
    ]
    return Markup("".join(lines).removesuffix("<br>"))  # noqa: S704 - every part escaped above


def _text(obj: Any) -> Markup:
    """A text object: mrkdwn rendered, plain_text escaped."""
    if not isinstance(obj, dict):
        return Markup("")
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(text)
    return Markup(str(escape(text)).replace("\n", "<br>"))  # noqa: S704 - escaped


def _button(element: dict[str, Any]) -> Markup:
    label = _text(element.get("text"))
    url = element.get("url")
    style = element.get("style", "")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return Markup('<a class="button {}" href="{}" rel="noreferrer noopener">{}</a>').format(
            style, url, label
        )
    return Markup('<span class="button {}">{}</span>').format(style, label)


def _block(block: dict[str, Any]) -> Markup:
    kind = block.get("type")
    if kind == "header":
        return Markup('<p class="sl-header">{}</p>').format(_text(block.get("text")))
    if kind == "divider":
        return Markup('<hr class="sl-divider">')
    if kind == "section":
        parts = [Markup('<div class="sl-text">{}</div>').format(_text(block.get("text")))]
        parts += [
            Markup('<div class="sl-field">{}</div>').format(_text(f)) for f in block.get("fields") or []
        ]
        return Markup('<div class="sl-section">{}</div>').format(Markup("").join(parts))
    if kind == "context":
        items = [_text(e) for e in block.get("elements") or [] if isinstance(e, dict) and "text" in e]
        return Markup('<p class="sl-context">{}</p>').format(Markup(" · ").join(items))
    if kind == "actions":
        buttons = [_button(e) for e in block.get("elements") or [] if isinstance(e, dict)]
        return Markup('<p class="sl-actions">{}</p>').format(Markup(" ").join(buttons))
    return Markup('<p class="sl-context">({} block)</p>').format(kind)


def render_blocks(blocks: Any) -> Markup:
    """A message's blocks as HTML; an unknown block type shows as its name."""
    if not isinstance(blocks, list):
        return Markup("")
    return Markup("\n").join(_block(b) for b in blocks if isinstance(b, dict))
