"""`cxloop run`'s demo leaves the shop it prints a key for with a dashboard worth opening: logged in with
that key, in headless Chromium at 1280 and 375 px, the overview's NPS trend has several weeks of
points, and cases, themes, the feed's answers and reviews, and customers at risk are all there. Every
page is screenshotted (test output, ``CXLOOP_TEST_OUTPUT/demo``)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import fits, output_dir, start, stop, until, wait_up

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 375, "height": 800}, "desktop": {"width": 1280, "height": 900}}
KEY = re.compile(r"key: (cxk_demo-shopify_\S+)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo as `make run` plays it, left running; its printed key."""
    tmp = tmp_path_factory.mktemp("demo-dashboard")
    proc, api, _, _ = start(tmp)
    log = tmp / "stack.log"
    try:
        wait_up(proc, api, log)
        key = until("the demo's key", lambda: KEY.search(log.read_text()), timeout_s=240)
        yield {"api": api, "key": key.group(1), "log": log}
    finally:
        stop(proc)


def _log_in(browser: Browser, api: str, key: str, size: str) -> Page:
    page = browser.new_context(viewport=SIZES[size]).new_page()
    page.goto(f"{api}/dashboard/login")
    page.fill("#key", key)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/overview$"))
    return page


def _points(page: Page, chart: str) -> list[float]:
    spec = json.loads(page.locator(f"script#{chart}").inner_text())
    return [v for v in spec["y"] if v is not None]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_demo_key_opens_a_dashboard_with_weeks_of_data(
    demo: dict[str, Any], chromium_browser: Browser, tmp_path: Path, size: str
) -> None:
    api, out, width = demo["api"], output_dir(tmp_path, "demo"), SIZES[size]["width"]
    page = _log_in(chromium_browser, api, demo["key"], size)
    try:
        # The overview: several weeks of answers make several points, and the counts are not empty.
        page.wait_for_selector(".chart[data-chart-src=nps-trend] canvas")
        assert len(_points(page, "nps-trend")) >= 5, _points(page, "nps-trend")
        nps = page.locator('.kpi[aria-label="NPS"]').inner_text()
        assert int(re.search(r"(\d+) answers", nps).group(1)) >= 10, nps  # type: ignore[union-attr]
        # Away from the cursor each legend shows the latest week's values, not uPlot's "--".
        legend = page.locator(".chart[data-chart-src=nps-trend] .u-legend").inner_text()
        latest = _points(page, "nps-trend")[-1]
        assert "--" not in legend and f"{latest:g}"[:2] in legend, (legend, latest)
        page.screenshot(path=str(out / f"overview-{width}.png"), full_page=True)

        page.goto(f"{api}/dashboard/cases")
        assert page.locator("tbody tr").count() >= 4  # detractors of past weeks, Maya, the bad reviews
        assert page.get_by_text("NPS 2 from Maya").count() == 1
        fits(page, "cases")
        page.screenshot(path=str(out / f"cases-{width}.png"), full_page=True)

        page.goto(f"{api}/dashboard/feed")
        kinds = page.locator("article").evaluate_all("items => items.map(a => a.dataset.kind)")
        assert kinds.count("response") >= 5 and kinds.count("mention") >= 5, kinds
        page.screenshot(path=str(out / f"feed-{width}.png"), full_page=True)

        page.goto(f"{api}/dashboard/themes")
        assert page.locator("tbody tr").count() >= 2
        page.screenshot(path=str(out / f"themes-{width}.png"), full_page=True)

        page.goto(f"{api}/dashboard/at-risk")
        # Among them the repeat customers whose last order went wrong (the demo's Jonas and Ben).
        names = " ".join(page.locator("tbody tr").all_inner_texts())
        assert "Jonas" in names or "Ben" in names, names
        fits(page, "at-risk")
        page.screenshot(path=str(out / f"at-risk-{width}.png"), full_page=True)

        # The demo's real alerts and e-mails on the stack's own pages fit the screen too.
        for local in ("slack", "inbox"):
            page.goto(f"{api}/_local/{local}")
            assert page.locator("article").count() >= 1
            fits(page, local)
            page.screenshot(path=str(out / f"local-{local}-{width}.png"), full_page=True)
    finally:
        page.context.close()


def _mails(api: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{api}/_local/inbox.json", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_the_owners_first_hour(demo: dict[str, Any], chromium_browser: Browser, tmp_path: Path) -> None:
    """Issue 17, "done means": on the demo, with its printed key, on a phone: the at-risk page says
    when it was computed; the owner answers Maya's case and the reply reaches her from the shop's
    survey sender under its brand, answering to the owner; the owner's alert e-mail reads at 375 px."""
    api, out = demo["api"], output_dir(tmp_path, "first-hour")
    page = _log_in(chromium_browser, api, demo["key"], "phone")
    try:
        page.goto(f"{api}/dashboard/at-risk")
        assert re.search(
            r"Computed \d\d \w{3} \d{4} \d\d:\d\d UTC", page.locator("#risk-computed").inner_text()
        )
        assert page.locator("tbody tr").count() >= 1
        page.screenshot(path=str(out / "at-risk-375.png"), full_page=True)

        page.goto(f"{api}/dashboard/cases")
        page.get_by_text("NPS 2 from Maya").click()
        page.wait_for_selector("#reply-text")
        page.fill("#reply-text", "Hi Maya, I am sorry the sheets arrived torn. A new set leaves today. Nora")
        page.locator("button[value=reply]").click()
        page.wait_for_load_state()
        assert "Sent." in page.locator("[role=status]").inner_text()
        page.screenshot(path=str(out / "case-replied-375.png"), full_page=True)
    finally:
        page.context.close()

    def reply() -> list[dict[str, Any]]:
        return [m for m in _mails(api) if "maya" in m["to"] and "A new set leaves today" in m["text"]]

    [mail] = until("the reply in Maya's inbox", reply)
    assert mail["from"] == "Sandpiper Linen <hello@shopify.example>", mail["from"]
    assert mail["headers"]["Reply-To"] == "owner@sandpiper.example"
    assert "(Shopify)" not in mail["text"] and "cxloop" not in mail["from"]

    alerts = [m for m in _mails(api) if m["to"] == "owner@sandpiper.example" and m["subject"].startswith("[")]
    assert alerts, [m["subject"] for m in _mails(api)]
    alert = alerts[0]
    assert alert["subject"].startswith("[Sandpiper Linen]") and alert["html_url"]
    page = chromium_browser.new_context(viewport=SIZES["phone"], is_mobile=True).new_page()
    try:
        page.goto(api + alert["html_url"])
        assert "<pre" not in page.content()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(out / "alert-email-375.png"), full_page=True)
    finally:
        page.context.close()
