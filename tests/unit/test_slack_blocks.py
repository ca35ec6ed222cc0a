"""The local Slack sink's rendering of Block Kit: Slack's mrkdwn as HTML, everything else escaped."""

from __future__ import annotations

import pytest

from cxloop.local.slack_blocks import mrkdwn, render_blocks

pytestmark = pytest.mark.unit


def test_mrkdwn_bold_quotes_and_links() -> None:
    html = str(mrkdwn("*1★ review by Ana*\n>The zip &amp; the <https://x.example/r?a=1&amp;b=2|review>"))
    assert html == (
        "<strong>1★ review by Ana</strong><br><blockquote>The zip &amp; the "
        '<a href="https://x.example/r?a=1&amp;b=2" rel="noreferrer noopener">review</a></blockquote>'
    )


def test_what_customers_wrote_is_escaped() -> None:
    html = str(mrkdwn("&lt;script&gt;alert(1)&lt;/script&gt; <javascript:alert(1)|x>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "href" not in html  # only http(s) and mailto links become links


def test_blocks_header_buttons_and_unknown_types() -> None:
    html = str(render_blocks([
        {"type": "header", "text": {"type": "plain_text", "text": "2 detractors <now>"}},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Approve reply"}, "style": "primary",
             "url": "https://cx.example/n/t0k3n"},
            {"type": "button", "text": {"type": "plain_text", "text": "No link"}, "url": "javascript:x"},
        ]},
        {"type": "rich_text"},
    ]))  # fmt: skip
    assert '<p class="sl-header">2 detractors &lt;now&gt;</p>' in html
    assert '<a class="button primary" href="https://cx.example/n/t0k3n"' in html
    assert '<span class="button ">No link</span>' in html
    assert "(rich_text block)" in html
