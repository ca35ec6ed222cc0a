"""The local stack's own pages in headless Chromium, at a phone's 375 px and a laptop's 1280 px: the
inbox and the Slack sink fit the screen, the sink shows a notifier alert as Slack would (its star, its
bold title, its buttons as links) rather than escaped JSON, and the status page leads to the dashboard.
Screenshots go to the test output (``CXLOOP_TEST_OUTPUT``, else pytest's temporary folder)."""

from __future__ import annotations

import json
import smtplib
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from services.notifier.domain.model import Alert, AlertBatch, Delivery, RuleKind
from services.notifier.domain.slack_messages import slack_payload
from tests.e2e.conftest import LiveStack, fits, get_json, output_dir, until

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

HOOK = "e2e-local-pages"
TITLE = "1★ review on Google by Ana"
LONG_URL = "http://127.0.0.1:8080/n/" + "tok3nAbCdEf" * 14  # an unbroken 170-character link
SIZES = {"phone": {"width": 375, "height": 800}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def posted(live: LiveStack) -> dict[str, Any]:
    """A review alert as the notifier posts it to Slack, and an e-mail with a long link in the inbox."""
    alert = Alert(shop_id="e2e-pages", key="negative_mention#mention:g1", rule=RuleKind.NEGATIVE_MENTION,
                  delivery=Delivery.IMMEDIATE, at=datetime.now(tz=UTC), title=TITLE,
                  text="The zip broke after a week & nobody answered.", url="https://example.com/review/1",
                  approve_url=LONG_URL)  # fmt: skip
    batch = AlertBatch(shop_id="e2e-pages", destination="team", window="immediate#2026-12-07T10:00",
                       due_at=alert.at, count=1, by_rule={RuleKind.NEGATIVE_MENTION.value: 1},
                       samples=[alert])  # fmt: skip
    request = urllib.request.Request(
        f"{live.api}/_local/slack/{HOOK}", data=json.dumps(slack_payload(batch)).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
    smtp_host, smtp_port = json.loads((live.state_dir / "stack.json").read_text())["smtp"].split(":")
    mail = EmailMessage()
    mail["From"], mail["To"] = "alerts@cxloop.invalid", "owner@pages.example"
    mail["Subject"] = "A subject long enough to wrap on a phone, naming the shop and the order #1042"
    mail.set_content(f"Approve the reply: {LONG_URL}\n")
    with smtplib.SMTP(smtp_host, int(smtp_port), timeout=10) as s:
        s.send_message(mail)
    until("the mail in the inbox", lambda: [m for m in get_json(f"{live.api}/_local/inbox.json")
                                            if m["to"] == "owner@pages.example"])  # fmt: skip
    return {"api": live.api}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_inbox_and_the_slack_sink_fit_the_screen(
    posted: dict[str, Any], chromium_browser: Browser, tmp_path: Path, size: str
) -> None:
    out = output_dir(tmp_path, "local-pages")
    context = chromium_browser.new_context(viewport=SIZES[size])
    try:
        page = context.new_page()
        for name in ("inbox", "slack"):
            page.goto(f"{posted['api']}/_local/{name}")
            fits(page, name)
            page.screenshot(path=str(out / f"{name}-{SIZES[size]['width']}.png"), full_page=True)
        page.goto(f"{posted['api']}/")
        fits(page, "status")
    finally:
        context.close()


def test_the_slack_sink_shows_the_alert_as_slack_would(
    posted: dict[str, Any], chromium_browser: Browser
) -> None:
    context = chromium_browser.new_context(viewport=SIZES["desktop"])
    try:
        page = context.new_page()
        page.goto(f"{posted['api']}/_local/slack")
        message = page.locator("article", has_text=HOOK).first
        text = message.inner_text()
        assert "★" in text and "\\u2605" not in page.content()
        assert message.locator(".sl-header").inner_text() == "1 negative review in the last minute"
        assert message.locator("strong", has_text=TITLE).count() == 1  # *bold* in mrkdwn
        assert "& nobody answered" in message.locator("blockquote").inner_text()  # &amp; unescaped once
        approve = message.locator("a.button", has_text="Approve reply")
        assert approve.get_attribute("href") == LONG_URL
        assert message.locator("a.button", has_text="Open review").get_attribute("href") == (
            "https://example.com/review/1"
        )
        assert '"blocks"' not in message.inner_text()  # the JSON stays folded away
    finally:
        context.close()


def test_the_status_page_links_to_the_dashboard(posted: dict[str, Any], chromium_browser: Browser) -> None:
    context = chromium_browser.new_context(viewport=SIZES["phone"])
    try:
        page = context.new_page()
        page.goto(f"{posted['api']}/")
        page.locator("main a", has_text="dashboard").first.click()
        page.wait_for_url("**/dashboard/login")
    finally:
        context.close()
