"""The owner's alert e-mail on a phone (issue 17, item 8), on the shared local stack in Debian's Chromium.

An order's survey arrives; the customer clicks 3 and writes why; the immediate detractor alert reaches
the owner's inbox (the local SMTP sink). Opened at 375 px it does not scroll sideways, says what the
customer wrote and the score, and has one button; its subject starts with the shop's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveStack, add_shopify_shop, get_json, post_demo_orders, run_cli, until

pytestmark = pytest.mark.browser

SHOP = "e2e-alertmail"
DOMAIN = "e2e-alertmail.myshopify.com"
CUSTOMER = "maya.lopez+alertmail@example.net"
OWNER = "owner@alertmail.example"
COMMENT = "The glaze chipped on two of the four mugs; the box was crushed."


@pytest.fixture(scope="module")
def alert_mail(live: LiveStack, chromium_browser: Any) -> dict[str, Any]:
    api, state = live.api, live.state_dir
    secret = add_shopify_shop(state, SHOP, DOMAIN, "Blue Kiln Ceramics", OWNER)
    for args in (
        ("survey", "set", "--shop", SHOP, "--type", "nps", "--sender", "hello@bluekiln.example",
         "--quiet-hours", "off", "--reminder-days", "off"),
        ("notify", "destination", "--shop", SHOP, "--name", "owner-mail", "--email", OWNER),
        ("notify", "rule", "--shop", SHOP, "detractor", "--delivery", "immediate"),
    ):  # fmt: skip
        done = run_cli(state, *args)
        assert done.returncode == 0, (args, done.stderr)
    post_demo_orders(api, SHOP, DOMAIN, secret, CUSTOMER)
    survey = until("the survey e-mail", lambda: [m for m in get_json(f"{api}/_local/inbox.json")
                                                 if CUSTOMER in m["to"]])[0]  # fmt: skip
    link = re.search(r"(http://\S+/r/\S+)\?score=3", survey["text"])
    assert link
    context = chromium_browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.goto(link.group(1) + "?score=3")
    page.fill("#comment", COMMENT)
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    context.close()

    def mail() -> list[dict[str, Any]]:
        return [
            m
            for m in get_json(f"{api}/_local/inbox.json")
            if OWNER in m["to"] and "detractor" in m["subject"]
        ]

    # An immediate alert goes when its minute is over: up to a minute and the sender's next run.
    return until("the alert e-mail", mail, timeout_s=100)[0]  # type: ignore[no-any-return]


def test_the_alert_email_reads_on_a_375_px_phone_with_the_comment_the_score_and_one_button(
    live: LiveStack, alert_mail: dict[str, Any], chromium_browser: Any, screenshot_dir: Path
) -> None:
    assert alert_mail["subject"] == "[Blue Kiln Ceramics] 1 detractor in the last minute"
    assert COMMENT in alert_mail["text"]  # the plain-text part
    assert alert_mail["html_url"]
    context = chromium_browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live.api + alert_mail["html_url"])
        page.screenshot(path=str(screenshot_dir / "alert-email-375.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.locator("pre").count() == 0
        assert COMMENT in page.locator(".cx-comment").inner_text()
        assert page.locator(".cx-score").inner_text() == "NPS 3 of 10"
        assert "order #1042" in page.locator(".cx-card").inner_text()
        [button] = page.locator("a.cx-button").all()
        assert button.inner_text() == "Open the case and reply" and button.is_visible()
        assert "/n/" in (button.get_attribute("href") or "")
        assert "/n/" not in page.locator("body").inner_text()  # the signed link is a button, not text
    finally:
        context.close()
