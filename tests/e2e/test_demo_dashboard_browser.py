"""`cxloop run`'s demo leaves the shop it prints a key for with a dashboard worth opening: logged in with
that key, in headless Chromium at 1280 and 375 px, the overview's NPS trend has several weeks of
points, and cases, themes, the feed's answers and reviews, and customers at risk are all there. Every
page is screenshotted (test output, ``CXLOOP_TEST_OUTPUT/demo``)."""

from __future__ import annotations

import json
import re
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
