"""The retention page on the running local stack, in Debian's headless Chromium (issue 19, items 1 and 3).

A year of orders arrives by webhook; `cxloop digest --preview` computes the snapshot as the daily run
does; the owner finds the cohort triangle (a shaded table whose cells say their share), the churn trend
with the shop's own reorder horizon, and the segments, at 375 px without anything scrolling sideways.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.demo import post
from cxloop.signing import webhook_headers
from shared.tenancy import Platform
from tests.e2e.conftest import LiveStack, add_shopify_shop, fits, paid_order, run_cli

pytestmark = pytest.mark.browser

SHOP = "e2e-retention"
DOMAIN = "e2e-retention.myshopify.com"


@pytest.fixture(scope="module")
def shop(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    secret = add_shopify_shop(live.state_dir, SHOP, DOMAIN, "Blue Kiln Ceramics", "owner@retention.example")
    n = 0
    for c in range(10):  # a cohort a month for ten months; every other customer reorders monthly
        first = 330 - 33 * c
        days = list(range(first, 0, -30)) if c % 2 == 0 else [first]
        for d in days:
            n += 1
            body = json.dumps(
                paid_order(7_300_000 + n, 3000 + n, f"c{c}@retention.example", f"Kim{c}", 40.0 + c, d)
            ).encode()
            headers = webhook_headers(Platform.SHOPIFY, "orders/create", body, secret, DOMAIN, f"ret-{n}")
            assert post(f"{live.api}/webhooks/shopify/{SHOP}", body, headers)[0] == 200
    live.wait_idle()
    preview = tmp_path_factory.mktemp("digest") / "digest.html"
    done = run_cli(live.state_dir, "digest", "--shop", SHOP, "--preview", str(preview))
    assert done.returncode == 0, done.stderr
    assert "Customers coming back" in preview.read_text()
    issued = run_cli(live.state_dir, "keys", "issue", "--shop", SHOP, "--json")
    assert issued.returncode == 0, issued.stderr
    return {"key": json.loads(issued.stdout)["key"]}


@pytest.mark.parametrize("width", [375, 1280])
def test_the_retention_page_shows_the_triangle_churn_and_segments_and_fits(
    live: LiveStack, shop: dict[str, Any], chromium_browser: Any, screenshot_dir: Path, width: int
) -> None:
    context = chromium_browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live.api}/dashboard/login")
        page.fill("#key", shop["key"])
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/dashboard/overview$"))
        page.goto(f"{live.api}/dashboard/retention")
        page.screenshot(path=str(screenshot_dir / f"retention-{width}.png"), full_page=True)
        cells = page.locator("#cohorts td[title]")
        assert cells.count() >= 40
        assert re.fullmatch(r"\d+%\*?", cells.first.inner_text().strip().split()[-1])
        assert page.locator("#cohorts td.heat-5").count() >= 1
        kpis = page.locator("#retention-kpis").inner_text()
        assert "REORDER HORIZON" in kpis.upper() and "30 days" in kpis
        assert page.locator("#churn canvas").count() >= 1  # the band chart drew
        segments = page.locator("#segments").inner_text()
        assert "Champions" in segments and "New" in segments
        fits(page, f"retention-{width}")
    finally:
        context.close()
