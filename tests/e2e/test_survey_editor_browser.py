"""The survey editor on the running local stack, in Debian's headless Chromium.

The owner logs in with an API key, opens Settings → Edit the survey, changes the language, the
question and the type, and sees both previews (phone and desktop width) change as they type, with the
score buttons shading red to green; "Send me a test" puts the e-mail in the owner's inbox (the SMTP
sink), marked as a test; a bad colour is refused beside its field. No console error (a CSP violation
would be one); at 375 px nothing scrolls sideways; screenshots at 375 and 1280 px go to the test output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import LiveStack, fits, get_json, output_dir, run_cli, until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

pytestmark = pytest.mark.browser

SHOP = "e2e-editor"
OWNER = "owner@editor.example"
SIZES = {"phone": {"width": 375, "height": 800}, "desktop": {"width": 1280, "height": 900}}
QUESTION = "Wie gefällt Ihnen Ihr neuer Pullover?"


@pytest.fixture(scope="module")
def key(live: LiveStack) -> str:
    added = run_cli(live.state_dir, "shop", "add", SHOP, "--platform", "shopify", "--domain",
                    "e2e-editor.myshopify.com", "--name", "Editor Wool", "--owner-email", OWNER)  # fmt: skip
    assert added.returncode == 0, added.stderr
    done = run_cli(live.state_dir, "survey", "set", "--shop", SHOP, "--sender", "hello@editor.example")
    assert done.returncode == 0, done.stderr
    issued = run_cli(live.state_dir, "keys", "issue", "--shop", SHOP, "--json")
    assert issued.returncode == 0, issued.stderr
    return str(json.loads(issued.stdout)["key"])


def _editor(browser: Browser, api: str, key: str, size: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{api}/dashboard/login")
    page.fill("#key", key)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/overview$"))
    page.goto(f"{api}/dashboard/settings")
    page.locator("a", has_text="Edit the survey").click()
    page.wait_for_url(re.compile(r"/dashboard/settings/surveys$"))
    return page, problems


def _previews(page: Page) -> list[Frame]:
    found = [f for f in page.frames if "/dashboard/settings/surveys/preview" in f.url]
    assert len(found) == 2, [f.url for f in page.frames]
    return found


def _preview_says(page: Page, text: str) -> bool:
    from playwright.sync_api import Error

    try:
        return all(text in f.content() for f in _previews(page))
    except Error as e:  # a frame loading the next preview right now: ask again
        assert "navigating" in str(e), e
        return False


def _shades(frame: Frame) -> list[str]:
    script = "links => links.filter(a => /score=/.test(a.href)).map(a => getComputedStyle(a).backgroundColor)"
    return [str(c) for c in frame.eval_on_selector_all("a[aria-label]", script)]


def _real(problems: list[str]) -> list[str]:
    """The console's complaints but the refused form's own 400 (the page is the answer, with its errors)."""
    return [p for p in problems if "the server responded with a status of 400" not in p]


def _shoot(page: Page, out: Path, name: str, size: str) -> None:
    width = SIZES[size]["width"]
    assert page.evaluate("window.innerWidth") == width
    fits(page, name)
    page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
    # A full-page capture leaves cross-origin (sandboxed) frames below the fold blank: each preview too.
    for i, frame in enumerate(page.locator(".frames figure").all()):
        frame.screenshot(path=str(out / f"{name}-{width}-preview-{('phone', 'desktop')[i]}.png"))


def _tests_in_inbox(api: str) -> list[dict[str, Any]]:
    return [m for m in get_json(f"{api}/_local/inbox.json") if m["subject"].startswith("[Test]")]


def test_edit_preview_and_send_a_test(live: LiveStack, key: str, chromium_browser: Browser,
                                      tmp_path: Path) -> None:  # fmt: skip
    out = output_dir(tmp_path, "survey-editor")
    page, problems = _editor(chromium_browser, live.api, key, "desktop")
    until("the first preview", lambda: _preview_says(page, "Hi Alex,"))
    phone, desktop = (f.evaluate("window.innerWidth") for f in _previews(page))
    assert phone == 375 and desktop == 700, (phone, desktop)

    # Typing changes both previews, without a reload (the form's own page stays).
    page.select_option("#f-language", "de")
    page.fill("#f-question", QUESTION)
    until("the German preview with the new question", lambda: _preview_says(page, QUESTION))
    assert _preview_says(page, "Hallo Alex,")
    nps = _shades(_previews(page)[0])
    assert len(nps) == 11 and nps[0] == "rgb(165, 0, 38)" and nps[-1] == "rgb(26, 152, 80)", nps
    page.select_option("#f-survey_type", "csat")
    until("the CSAT preview", lambda: _preview_says(page, "Sehr zufrieden"))
    csat = _shades(_previews(page)[1])
    assert csat == ["rgb(215, 48, 39)", "rgb(244, 109, 67)", "rgb(254, 224, 139)", "rgb(102, 189, 99)",
                    "rgb(26, 152, 80)"], csat  # fmt: skip
    assert page.url.endswith("/dashboard/settings/surveys")
    _shoot(page, out, "editor-preview", "desktop")

    # Send me a test: the owner's inbox gets it, marked as a test, in German with the new question.
    before = len(_tests_in_inbox(live.api))
    page.locator("button[value=test]").click()
    page.wait_for_load_state()
    assert page.locator("p.notice", has_text=f"A test e-mail went to {OWNER}.").is_visible()
    mail = until("the test e-mail", lambda: _tests_in_inbox(live.api)[before:])[0]
    assert mail["to"] == OWNER and mail["headers"].get("X-Cxloop-Test") == "1"
    assert QUESTION in mail["text"] and "/dashboard/survey-test?score=5" in mail["text"]

    # Save, then a bad colour is refused beside its field, and nothing changes.
    page.locator("button[value=save]").click()
    page.wait_for_load_state()
    assert page.locator("p.notice", has_text="Saved.").is_visible()
    saved = run_cli(live.state_dir, "survey", "show", "--shop", SHOP)
    assert json.loads(saved.stdout)["question"] == QUESTION and json.loads(saved.stdout)["language"] == "de"
    page.fill("#f-brand-colour", "teal")
    page.locator("button[value=save]").click()
    page.wait_for_load_state()
    error = page.locator("#f-brand-colour-err")
    assert error.inner_text() == "colour must be #rrggbb, not 'teal'"
    assert page.locator("#f-brand-colour").get_attribute("aria-invalid") == "true"
    assert (
        json.loads(run_cli(live.state_dir, "survey", "show", "--shop", SHOP).stdout)["brand"]["colour"]
        != "teal"
    )
    _shoot(page, out, "editor-error", "desktop")
    assert _real(problems) == [], problems
    page.context.close()


def test_the_editor_fits_a_phone(
    live: LiveStack, key: str, chromium_browser: Browser, tmp_path: Path
) -> None:
    out = output_dir(tmp_path, "survey-editor")
    page, problems = _editor(chromium_browser, live.api, key, "phone")
    until("the preview", lambda: _preview_says(page, "Alex"))
    _shoot(page, out, "editor", "phone")
    page.fill("#f-rules-throttle_days", "99999")
    page.locator("button[value=save]").click()
    page.wait_for_load_state()
    assert page.locator("#f-rules-throttle_days-err").inner_text() == "must be at most 3650"
    _shoot(page, out, "editor-error", "phone")
    assert _real(problems) == [], problems
    page.context.close()
