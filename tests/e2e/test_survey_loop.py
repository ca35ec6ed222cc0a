"""The survey loop on the running local stack, and in Debian's headless Chromium.

`cxloop run` in a subprocess with days compressed to one second: a shop and its programme are set
with the CLI, the demo's Shopify orders are posted as signed webhooks (timeline moved to now), the
dispatcher's e-mail arrives in the SMTP sink, and a real browser opens it, clicks a score, sends a
comment and unsubscribes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveStack, post_demo_orders

pytestmark = pytest.mark.browser

SHOP = "e2e-linen"
DOMAIN = "e2e-linen.myshopify.com"
CUSTOMER = "maya.lopez+linen@example.net"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def stack(live: LiveStack) -> dict[str, Any]:
    return {"api": live.api, "state": live.state_dir}


def _cli(stack: dict[str, Any], *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "cxloop.cli", "--state-dir", str(stack["state"]), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _inbox(api: str, to: str, timeout_s: float = 40.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        mails = [m for m in _get(f"{api}/_local/inbox.json") if to in m["to"]]
        if mails:
            return mails
        time.sleep(0.5)
    raise AssertionError(f"no survey e-mail to {to} within {timeout_s} s")


@pytest.fixture(scope="module")
def survey_mail(stack: dict[str, Any]) -> dict[str, Any]:
    added = _cli(
        stack, "shop", "add", SHOP, "--platform", "shopify", "--domain", DOMAIN, "--name", "E2E Linen"
    )
    assert added.returncode == 0, added.stderr
    secret = re.search(r"secret ([A-Za-z0-9_\-]{20,})", added.stdout)
    assert secret, added.stdout
    bad = _cli(stack, "survey", "set", "--shop", SHOP, "--sender", "not-an-address")
    assert bad.returncode == 2 and "--sender 'not-an-address'" in bad.stderr, bad.stderr
    ok = _cli(
        stack, "survey", "set", "--shop", SHOP, "--type", "nps", "--sender", "hello@e2e-linen.example",
        "--reply-to", "owner@e2e-linen.example", "--quiet-hours", "off", "--reminder-days", "off",
        "--follow-up", "What is one thing we could do better?",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    post_demo_orders(stack["api"], SHOP, DOMAIN, secret.group(1), CUSTOMER)
    return _inbox(stack["api"], CUSTOMER)[0]


def test_the_survey_email_has_the_headers_and_both_parts(survey_mail: dict[str, Any]) -> None:
    headers = survey_mail["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<http://127\.0\.0\.1:\d+/u/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+>", headers["List-Unsubscribe"]
    )
    assert headers["Reply-To"] == "owner@e2e-linen.example"
    assert headers["Message-ID"].endswith(".invite@e2e-linen.example>")
    links = re.findall(r"/r/[A-Za-z0-9_\-.]+\?score=(\d+)", survey_mail["text"])
    assert links == [str(n) for n in range(11)]
    assert survey_mail["html_url"]


def test_a_reader_answers_comments_and_unsubscribes_in_chromium(
    stack: dict[str, Any],
    survey_mail: dict[str, Any],
    phone_page: Any,
    desktop_page: Any,
    screenshot_dir: Path,
) -> None:
    api = stack["api"]
    desktop_page.goto(api + survey_mail["html_url"])
    desktop_page.screenshot(path=str(screenshot_dir / "survey-email-desktop.png"), full_page=True)
    page = phone_page
    page.goto(api + survey_mail["html_url"])
    page.screenshot(path=str(screenshot_dir / "survey-email-phone.png"), full_page=True)
    # No horizontal scrolling on a phone: the 0-10 scale wraps.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator("a[href*='score=9']").first.click()
    page.wait_for_load_state()
    assert "/r/" in page.url
    assert page.locator("[aria-current='true']").inner_text().strip() == "9"
    page.screenshot(path=str(screenshot_dir / "answer-phone.png"), full_page=True)

    hostile = "<script>window.__pwned=1</script> the seams ripped"
    page.fill("#comment", hostile)
    page.fill("#follow-up", "Faster replies")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.evaluate("window.__pwned") is None
    assert hostile in page.locator("main").inner_text()

    report = json.loads(_cli(stack, "report", "--shop", SHOP, "--since", "1d", "--json").stdout)
    nps = report["by_type"][0]
    assert (nps["sent"], nps["answered"], nps["commented"]) == (1, 1, 1)
    assert nps["metrics"][0]["value"] == 100.0

    unsubscribe = re.search(r"<([^>]+)>", survey_mail["headers"]["List-Unsubscribe"]).group(1)
    page.goto(unsubscribe)
    assert _cli(stack, "survey", "suppressions", "--shop", SHOP, "--json").stdout.strip() == "[]"
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    page.screenshot(path=str(screenshot_dir / "unsubscribed-phone.png"), full_page=True)
    entries = json.loads(_cli(stack, "survey", "suppressions", "--shop", SHOP, "--json").stdout)
    assert [e["reason"] for e in entries] == ["unsubscribed"]
    assert entries[0]["email_masked"] == "m***@example.net"


def test_one_click_post_answers_200_without_redirect(
    stack: dict[str, Any], survey_mail: dict[str, Any]
) -> None:
    unsubscribe = re.search(r"<([^>]+)>", survey_mail["headers"]["List-Unsubscribe"]).group(1)
    request = urllib.request.Request(unsubscribe, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
        assert r.headers.get("Location") is None
        assert r.headers["Referrer-Policy"] == "no-referrer"


def test_a_tampered_link_shows_the_same_404_as_a_guessed_one(
    stack: dict[str, Any], survey_mail: dict[str, Any]
) -> None:
    link = re.search(r"(http://\S+/r/\S+\?score=7)", survey_mail["text"]).group(1)
    token = link.split("/r/")[1].split("?")[0]
    tampered = link.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    guessed = f"{stack['api']}/r/bm90LWEtdG9rZW4.bm90LWEtbWFj?score=7"
    bodies = []
    for url in (tampered, guessed):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=10)
        assert e.value.code == 404
        bodies.append(e.value.read())
    assert bodies[0] == bodies[1]


def test_the_message_is_multipart_alternative(survey_mail: dict[str, Any]) -> None:
    assert survey_mail["headers"]["Content-Type"].startswith("multipart/alternative")
    assert "Hi Maya," in survey_mail["text"]
