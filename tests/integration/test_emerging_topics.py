"""Emerging topics (decision 124) on moto, through the flow: comments heard as the notifier hears them,
read with no theme; the daily job counts each complete week once (equal to a recount of the stored
texts), finds the phrase that rose this week, and the themes page, the API and the digest show it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifier.domain import emerging
from shared import events
from tests.integration.dashboard_world import SHOP_A, DashWorld, answer, dash, reading  # noqa: F401
from tests.integration.test_dashboard_pages import _login, _page

pytestmark = pytest.mark.integration

NOW = datetime.now(tz=UTC).replace(microsecond=0)
THIS_WEEK = emerging.monday(NOW.date())
COMMENTS = ("Lovely soft fabric", "Colour faded quickly", "Great fit overall", "Smells of fresh cedar")
NEW = (
    "My coat came with missing buttons",
    "Missing buttons on the jacket",
    "Two missing buttons again",
    "The cardigan has missing buttons",
    "Missing buttons, very annoying",
)


def _say(world: DashWorld, invite: str, text: str, at: datetime, themes: list[tuple[str, str]]) -> None:
    world.hear(events.RESPONSE_RECORDED, answer(invite, 6, comment=text, at=at), now=at)
    world.hear(events.FEEDBACK_SCORED, reading(invite, "neutral", themes, at=at), now=at)


def _seed(world: DashWorld) -> None:
    """Four weeks of ordinary comments, then this week five coats without buttons (one of them also
    read as a delivery complaint: a theme caught it, so it does not count)."""
    start = datetime.combine(THIS_WEEK, datetime.min.time(), tzinfo=UTC)
    for week in range(1, 5):
        for i, text in enumerate(COMMENTS):
            _say(world, f"inv-h{week}-{i}", text, start - timedelta(weeks=week) + timedelta(hours=i + 1), [])
    first = start + timedelta(minutes=1)
    for i, text in enumerate(NEW):
        _say(world, f"inv-n{i}", text, first + timedelta(minutes=i), [])
    late = [("delivery_shipping", "negative")]
    _say(world, "inv-n9", "Late, and missing buttons too", first + timedelta(minutes=9), late)


def test_each_week_is_counted_once_as_a_recount_and_the_rise_is_found(dash: DashWorld) -> None:  # noqa: F811
    _seed(dash)
    store = dash.notifier.store
    now = datetime.combine(THIS_WEEK, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
    found = emerging.refresh(store, SHOP_A.shop_id, now)
    weeks = store.phrase_weeks(SHOP_A.shop_id, "2000-01-01", "2100-01-01")
    assert sorted(weeks) == [(THIS_WEEK - timedelta(weeks=w)).isoformat() for w in range(4, 0, -1)]
    for week in weeks:  # a recount from the stored answers, phrase by phrase
        start = datetime.combine(date.fromisoformat(week), datetime.min.time(), tzinfo=UTC)
        texts = [
            a
            for a in store.answers_since(SHOP_A.shop_id, start)
            if a.answered_at < start + timedelta(weeks=1)
        ]
        recount = Counter(p for a in texts if not a.themes for p in emerging.phrases(a.comment or ""))
        assert weeks[week] == dict(recount)
    (topic,) = found.topics
    assert topic.text() == "new: missing buttons, 5 mentions, 0 last month"
    assert topic.examples[0] == "Missing buttons, very annoying"
    assert store.emerging(SHOP_A.shop_id) == found
    store.put_phrase_week(SHOP_A.shop_id, (THIS_WEEK - timedelta(weeks=1)).isoformat(), {"sentinel": 1})
    emerging.refresh(store, SHOP_A.shop_id, now)  # a week counted is never counted again
    assert store.phrase_weeks(SHOP_A.shop_id, "2000-01-01", "2100-01-01")[
        (THIS_WEEK - timedelta(weeks=1)).isoformat()
    ] == {"sentinel": 1}


def test_the_themes_page_the_api_and_the_digest_show_it(dash: DashWorld) -> None:  # noqa: F811
    from services.notifier import digests

    _seed(dash)
    store = dash.notifier.store
    assert dash.call("GET", "/api/v1/themes").json()["emerging"] is None  # before the first daily run
    emerging.refresh(
        store,
        SHOP_A.shop_id,
        datetime.combine(THIS_WEEK, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1),
    )
    api = dash.call("GET", "/api/v1/themes").json()["emerging"]
    assert [t["phrase"] for t in api["topics"]] == ["missing buttons"] and api["texts"] == 5
    assert dash.call("GET", "/api/v1/themes", key="shop-b").json()["emerging"] is None
    body = _page(dash, "GET", "/dashboard/themes", _login(dash)).body
    section = body.split('id="emerging"')[1].split("</section>")[0]
    assert "new: missing buttons, 5 mentions, 0 last month" in section
    assert "“Missing buttons, very annoying”" in section
    end = datetime.combine(THIS_WEEK + timedelta(days=7), datetime.min.time(), tzinfo=UTC)
    digest = digests.gather(store, SHOP_A, end, [])
    assert digest.emerging is not None and digest.emerging.topics[0].phrase == "missing buttons"
    text = digests.render(digest).text
    assert "NEW IN WHAT CUSTOMERS SAY" in text
    assert '- new: missing buttons, 5 mentions, 0 last month — "Missing buttons, very annoying"' in text
