"""What drives the score (decision 122) on the themes page and in the API, on moto: answers heard as
the notifier hears them, their day totals read back, each theme's cost with its n and interval; one
shop never sees another's."""

from __future__ import annotations

import pytest

from shared import events
from tests.integration.dashboard_world import SHOP_A, SHOP_B, DashWorld, answer, dash, days_ago, reading  # noqa: F401
from tests.integration.test_dashboard_pages import _login, _page

pytestmark = pytest.mark.integration


def _seed(world: DashWorld) -> None:
    """Shop A: 8 detractors (2) complaining of delivery, 12 promoters (10) who do not: NPS 20, the rest
    100, so delivery costs 80 points (0.4 x 200). Shop B: one complaint of packaging."""
    for i in range(20):
        bad = i < 8
        invite = f"inv-d{i}"
        world.hear(events.RESPONSE_RECORDED, answer(invite, 2 if bad else 10, at=days_ago(i % 10)))
        themes = [("delivery_shipping", "negative")] if bad else [("product_quality", "positive")]
        world.hear(events.FEEDBACK_SCORED, reading(invite, "negative" if bad else "positive", themes))
    world.hear(events.RESPONSE_RECORDED, answer("inv-b", 3), shop=SHOP_B)
    world.hear(events.FEEDBACK_SCORED, reading("inv-b", "negative", [("packaging", "negative")]), shop=SHOP_B)


def test_the_api_ranks_themes_by_what_they_cost_with_n_and_interval(dash: DashWorld) -> None:  # noqa: F811
    _seed(dash)
    found = dash.call("GET", "/api/v1/themes")
    assert found.status == 200
    (row,) = found.json()["drivers"]["nps"]
    assert row["theme"] == "delivery_shipping" and row["label"] == "Delivery & shipping"
    assert (row["n"], row["n_theme"]) == (20, 8)
    assert row["score"] == pytest.approx(20.0) and row["score_rest"] == pytest.approx(100.0)
    assert row["cost"] == pytest.approx(80.0) and row["clear"] is True
    # delta method, by hand: sqrt(8 x 120^2 + 12 x 80^2) / 20 = 21.9 points
    assert row["low"] == pytest.approx(80 - 1.959964 * 21.9089, abs=0.01)
    assert row["high"] == pytest.approx(80 + 1.959964 * 21.9089, abs=0.01)
    assert found.json()["drivers"]["stars"] == []
    other = dash.call("GET", "/api/v1/themes", key="shop-b").json()["drivers"]["nps"]
    assert [r["theme"] for r in other] == ["packaging"] and other[0]["cost"] is None  # all named it
    old = dash.call("GET", "/api/v1/themes", query={"from": "2020-01-01", "to": "2020-01-31"}).json()
    assert old["drivers"] == {"nps": [], "stars": []}


def test_the_themes_page_shows_the_costliest_theme_first(dash: DashWorld) -> None:  # noqa: F811
    _seed(dash)
    cookie = _login(dash)
    body = _page(dash, "GET", "/dashboard/themes", cookie).body
    section = body.split('id="drivers"')[1].split("</section>")[0]
    assert "What drives the score" in body
    assert ">Delivery &amp; shipping</a>" in section
    assert '<td class="num" data-label="Costs">80 <span class="badge neg">clear</span></td>' in section
    assert ">37 to 123<" in section and ">8 of 20<" in section
    assert "packaging" not in section.lower()  # shop B's theme
    quarter = _page(dash, "GET", "/dashboard/themes?from=2020-01-01&to=2020-01-31", cookie).body
    assert "No answer or rated review named a theme negatively in this period." in quarter
