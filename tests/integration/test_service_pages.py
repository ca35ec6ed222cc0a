"""The loop's service figures (decision 123) through the real flow on moto: detractors heard as the
notifier hears them open cases, the owner replies and resolves through the API, a customer comes back
unhappy; GET /api/v1/service and the cases page show the figures with their n; one shop never sees
another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import events
from tests.integration.dashboard_world import NOW, SHOP_B, DashWorld, answer, dash  # noqa: F401
from tests.integration.test_dashboard_pages import _login, _page

pytestmark = pytest.mark.integration


def _seed(world: DashWorld) -> None:
    """Shop A: three detractors 5 h ago; two are replied to and resolved now, one waits. Then the first
    customer is unhappy again. Shop B: one detractor, left alone."""
    for i in range(3):
        world.hear(
            events.RESPONSE_RECORDED,
            answer(f"inv-s{i}", 2, comment="Too late."),
            now=NOW - timedelta(hours=5),
        )
    for i in range(2):
        case = f"response%3Ainv-s{i}"
        sent = world.call(
            "POST", f"/api/v1/cases/{case}/reply", body={"text": "Sorry, a new one is on its way."}
        )
        assert sent.status == 200, sent.body
        assert world.call("POST", f"/api/v1/cases/{case}/resolve").status == 200
    later = datetime.now(tz=UTC) + timedelta(minutes=5)
    world.hear(events.RESPONSE_RECORDED, answer("inv-s9", 3, customer_key="email:inv-s0"), now=later)
    world.hear(events.RESPONSE_RECORDED, answer("inv-b", 1), shop=SHOP_B)


def test_the_api_gives_the_service_figures_with_their_n(dash: DashWorld) -> None:  # noqa: F811
    _seed(dash)
    found = dash.call("GET", "/api/v1/service")
    assert found.status == 200, found.body
    total = found.json()["total"]
    assert total["opened"] == 4
    first = total["first_reply"]
    assert first["n"] == 2 and 4.9 <= first["median"]["hours"] <= 5.5 and first["target_hours"] == 24.0
    assert first["within_target"]["value"] == 100.0 and first["within_target"]["n"] == 2
    assert total["resolution"]["n"] == 2
    assert total["first_contact_resolution"] == pytest.approx(
        {"value": 100.0, "n": 2, "low": total["first_contact_resolution"]["low"], "high": 100.0}
    )
    assert total["recontact"]["value"] == 25.0 and total["recontact"]["n"] == 4
    assert sum(w["opened"] for w in found.json()["weeks"]) == 4
    other = dash.call("GET", "/api/v1/service", key="shop-b").json()["total"]
    assert other["opened"] == 1 and other["first_reply"]["n"] == 0
    refused = dash.call("GET", "/api/v1/service", query={"from": "2026-02-01", "to": "2026-01-01"})
    assert refused.status == 400


def test_the_cases_page_shows_how_fast_the_loop_is_closed(dash: DashWorld) -> None:  # noqa: F811
    _seed(dash)
    cookie = _login(dash)
    body = _page(dash, "GET", "/dashboard/cases", cookie).body
    panel = body.split('id="service"')[1].split("</section>\n{% endif %}")[0]
    assert "How fast you close the loop" in panel and "4 cases opened" in panel
    assert 'aria-label="First reply, median"' in panel and "90th percentile 5" in panel
    within = panel.split('aria-label="Replied within target"')[1].split("</section>")[0]
    assert '<span class="value">100%</span>' in within and "of 2 cases replied; target 24 h" in within
    assert "resolved with one reply, of 2 resolved cases" in panel
    assert "25%" in panel and "of 4 cases" in panel
    assert "Week by week" in panel
    other = _page(dash, "GET", "/dashboard/cases", _login(dash, "shop-b")).body
    assert "1 case opened." in other and "4 cases opened" not in other


def test_the_digest_reads_the_same_figures_from_the_days_totals(dash: DashWorld) -> None:  # noqa: F811
    from services.notifier import digests
    from tests.integration.dashboard_world import SHOP_A, reading

    _seed(dash)
    dash.hear(events.FEEDBACK_SCORED, reading("inv-s1", "negative", [("delivery_shipping", "negative")]))
    end = datetime.combine(datetime.now(tz=UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    digest = digests.gather(dash.notifier.store, SHOP_A, end, [], target_hours=12.0)
    assert digest.service is not None and digest.service.opened == 4
    assert digest.service.first_reply.n == 2 and digest.service.first_reply.target_hours == 12.0
    assert digest.service.recontact.value == 25.0
    assert digest.drivers is not None
    (row,) = digest.drivers.nps
    assert (row.theme, row.n, row.n_theme) == ("delivery_shipping", 4, 1)  # 2, 2, 2 and 3: NPS -100
    assert row.cost == 0.0
    text = digests.render(digest).text
    assert "HOW FAST YOU CLOSED THE LOOP" in text and "first reply 5 h median" in text
