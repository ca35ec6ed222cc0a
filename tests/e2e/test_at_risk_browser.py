"""The customers at risk on the running local stack, in Debian's headless Chromium (issue 17, item 5).

Orders arrive by webhook, nothing else runs (no digest, no `cxloop churn`, no daily run): the owner
opens the page and finds it computed, with the time of computation, the regular customer who stopped
buying (with their address and spend in euros), and neither the first-time buyer nor the one who
spends little.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.demo import post
from cxloop.signing import webhook_headers
from shared.tenancy import Platform
from tests.e2e.conftest import LiveStack, add_shopify_shop, paid_order, run_cli

pytestmark = pytest.mark.browser

SHOP = "e2e-atrisk"
DOMAIN = "e2e-atrisk.myshopify.com"


@pytest.fixture(scope="module")
def shop(live: LiveStack) -> dict[str, Any]:
    secret = add_shopify_shop(live.state_dir, SHOP, DOMAIN, "Blue Kiln Ceramics", "owner@atrisk.example")
    done = run_cli(live.state_dir, "notify", "loop", "--shop", SHOP, "--churn-threshold", "0.4")
    assert done.returncode == 0, done.stderr
    customers = [("maya@atrisk.example", "Maya", 64.90, [0])]
    customers += [("lou@atrisk.example", "Lou", 80.0, [400, 300, 200, 150])]
    customers += [("tim@atrisk.example", "Tim", 10.0, [400, 300, 200, 150])]
    n = 0
    for email, name, total, days in customers:
        for d in days:
            n += 1
            body = json.dumps(paid_order(7_100_000 + n, 2000 + n, email, name, total, d)).encode()
            headers = webhook_headers(Platform.SHOPIFY, "orders/create", body, secret, DOMAIN, f"atrisk-{n}")
            assert post(f"{live.api}/webhooks/shopify/{SHOP}", body, headers)[0] == 200
    live.wait_idle()
    issued = run_cli(live.state_dir, "keys", "issue", "--shop", SHOP, "--json")
    assert issued.returncode == 0, issued.stderr
    return {"key": json.loads(issued.stdout)["key"]}


@pytest.mark.parametrize("width", [375, 1280])
def test_the_at_risk_page_is_computed_when_read_with_its_time_address_and_euros(
    live: LiveStack, shop: dict[str, Any], chromium_browser: Any, screenshot_dir: Path, width: int
) -> None:
    context = chromium_browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live.api}/dashboard/login")
        page.fill("#key", shop["key"])
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/dashboard/overview$"))
        page.goto(f"{live.api}/dashboard/at-risk")
        page.screenshot(path=str(screenshot_dir / f"at-risk-{width}.png"), full_page=True)
        computed = page.locator("#risk-computed time").get_attribute("datetime")
        assert computed and datetime.now(tz=UTC) - datetime.fromisoformat(computed) < timedelta(minutes=5)
        assert "two orders or more" in page.locator("#risk-rule").inner_text()
        rows = page.locator("tbody tr")
        assert rows.count() == 1
        lou = rows.first.inner_text()
        assert "Lou" in lou and "€320" in lou
        assert rows.first.locator("a[href='mailto:lou@atrisk.example']").count() == 1
        body = page.locator("main").inner_text()
        assert "Maya" not in body and "Tim" not in body
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
