"""The owner's dashboard pages on moto, in-process, invoked as API Gateway invokes them: logging in with
a key, sessions that end when the key is revoked, CSRF and origin checks on every form, one shop never
seeing another's records, the static files and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from typing import Any

import pytest

from services.dashboard import bootstrap
from services.dashboard.domain import sessions
from services.notifier.domain.model import ReplyMode
from shared import events
from tests.integration.dashboard_world import (  # noqa: F401
    NOW,
    SHOP_A,
    SHOP_B,
    DashWorld,
    Reply,
    answer,
    dash,
    days_ago,
    reading,
)

pytestmark = pytest.mark.integration

FORM = {"content-type": "application/x-www-form-urlencoded"}
CASE_A = "response:inv-a1"
CASE_B = "response:inv-b1"
PAGES = ("overview", "themes", "feed", "cases", "at-risk", "retention", "settings", "suppressions")


def _page(world: DashWorld, method: str, path: str, cookie: str | None = None,
          form: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
    sent = dict(headers or {})
    if cookie:
        sent["cookie"] = f"{sessions.SESSION_COOKIE}={cookie}"
    body = None
    if form is not None:
        sent.update(FORM)
        body = urllib.parse.urlencode(form).encode()
    path, _, query = path.partition("?")
    return world.call(method, path, key=None, function="dashboard-pages", headers=sent, body=body,
                     query=dict(urllib.parse.parse_qsl(query)))  # fmt: skip


def _login(world: DashWorld, shop_id: str = "shop-a") -> str:
    done = _page(world, "POST", "/dashboard/login", form={"key": world.keys[shop_id]})
    assert done.status == 303, done.body
    found = re.match(r"cx_session=([^;]+);", done.headers["set-cookie"])
    assert found
    return found.group(1)


def _csrf(reply: Reply) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', reply.body)
    assert found, reply.body[:500]
    return found.group(1)


def _case(world: DashWorld, shop_id: str, case_id: str) -> Any:
    return world.built.notifier.case(shop_id, case_id)


@pytest.fixture
def world(dash: DashWorld) -> DashWorld:  # noqa: F811
    """Shop A: a detractor with a comment (a case), a promoter, a negative review; shop B: its own
    detractor, whose words shop A must never see."""
    for shop, invite, score, comment, at in (
        (SHOP_A, "inv-a1", 2, "The seams ripped after one wash.", NOW),
        (SHOP_A, "inv-a2", 10, "Lovely socks, fast delivery.", days_ago(1)),
        (SHOP_A, "inv-a3", 5, None, days_ago(2)),
        (SHOP_B, "inv-b1", 1, "Bravo's hat never arrived.", NOW),
    ):
        dash.hear(events.RESPONSE_RECORDED, answer(invite, score, comment=comment, at=at), shop=shop)
    dash.hear(events.FEEDBACK_SCORED, reading("inv-a1", "negative", [("product_quality", "negative")]))
    dash.hear(events.FEEDBACK_SCORED, reading("inv-a2", "positive", [("delivery_shipping", "positive")]))
    dash.hear(
        events.FEEDBACK_SCORED,
        reading("m-1", "negative", [("communication", "negative")], subject="mention", source="google",
                rating=1.0, excerpt="Nobody answered my emails.", url="https://g.example/r/1",
                published_at=days_ago(1).isoformat()),
    )  # fmt: skip
    assert _case(dash, "shop-a", CASE_A) is not None
    assert _case(dash, "shop-b", CASE_B) is not None
    return dash


# --- logging in -------------------------------------------------------------------------------------


def test_a_good_key_starts_a_session_in_a_strict_cookie(world: DashWorld) -> None:
    done = _page(world, "POST", "/dashboard/login", form={"key": world.keys["shop-a"]})
    assert done.status == 303
    assert done.headers["location"] == "/dashboard/overview"
    flags = [p.strip() for p in done.headers["set-cookie"].split(";")]
    assert flags[0].startswith("cx_session=") and len(flags[0]) > 30
    assert {"HttpOnly", "SameSite=Lax", "Path=/dashboard", "Max-Age=43200"} <= set(flags)
    assert "Secure" not in flags  # the local stack is plain http
    assert world.keys["shop-a"] not in done.headers["set-cookie"]

    cookie = flags[0].removeprefix("cx_session=")
    shown = _page(world, "GET", "/dashboard/overview", cookie)
    assert shown.status == 200
    assert "Acme Socks" in shown.body and "Bravo Hats" not in shown.body
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["x-frame-options"] == "DENY"


def test_the_cookie_is_secure_when_the_dashboard_is_served_over_https(
    world: DashWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap.Dashboard, "secure_cookies", property(lambda self: True))
    done = _page(world, "POST", "/dashboard/login", form={"key": world.keys["shop-a"]})
    assert "Secure" in [p.strip() for p in done.headers["set-cookie"].split(";")]


@pytest.mark.parametrize(
    "presented",
    ["nonsense", "cxk_shop-a_00000000_" + "0" * 64, "TAMPERED", "<script>alert(1)</script>"],
)
def test_a_wrong_key_is_refused_without_a_cookie_or_an_echo(world: DashWorld, presented: str) -> None:
    wrong = world.keys["shop-a"][:-4] + "0000" if presented == "TAMPERED" else presented
    done = _page(world, "POST", "/dashboard/login", form={"key": wrong})
    assert done.status == 401
    assert "set-cookie" not in done.headers
    assert "not an active API key" in done.body
    assert wrong not in done.body
    assert 'name="key"' in done.body


def test_without_a_session_every_page_sends_the_owner_to_the_login(world: DashWorld) -> None:
    for path in ("/dashboard", *(f"/dashboard/{p}" for p in PAGES), f"/dashboard/cases/{CASE_A}",
                 "/dashboard/export/responses.csv"):  # fmt: skip
        done = _page(world, "GET", path)
        assert (done.status, done.headers.get("location")) == (303, "/dashboard/login"), path
    forged = _page(world, "GET", "/dashboard/overview", "not-a-session-token")
    assert forged.status == 303 and "Max-Age=0" in forged.headers["set-cookie"]
    assert _page(world, "GET", "/dashboard/login").status == 200


def test_with_a_session_every_page_renders_without_inline_script_or_style(world: DashWorld) -> None:
    cookie = _login(world)
    assert _page(world, "GET", "/dashboard", cookie).headers["location"] == "/dashboard/overview"
    for name in PAGES:
        shown = _page(world, "GET", f"/dashboard/{name}", cookie)
        assert shown.status == 200, (name, shown.body[:800])
        assert shown.headers["content-type"].startswith("text/html")
        assert "<style" not in shown.body and " style=" not in shown.body, name
        scripts = re.findall(r"<script([^>]*)>", shown.body)
        assert all("src=" in s or 'type="application/json"' in s for s in scripts), (name, scripts)
        assert 'aria-current="page"' in shown.body and "Log out" in shown.body
    overview = _page(world, "GET", "/dashboard/overview", cookie).body
    spec = json.loads(re.search(r'id="nps-trend">(.*?)</script>', overview, re.S).group(1))  # type: ignore[union-attr]
    assert spec["kind"] == "band" and len(spec["x"]) == 12 and spec["y"][-1] is not None
    assert re.search(
        r'aria-label="NPS">\s*<span class="label">NPS</span>\s*<span class="value">[+-]\d+<', overview
    )
    assert "95% interval" in overview


def test_logging_out_clears_the_cookie(world: DashWorld) -> None:
    cookie = _login(world)
    csrf = _csrf(_page(world, "GET", "/dashboard/overview", cookie))
    done = _page(world, "POST", "/dashboard/logout", cookie, form={"csrf": csrf})
    assert done.status == 303 and done.headers["location"] == "/dashboard/login"
    assert "cx_session=;" in done.headers["set-cookie"] and "Max-Age=0" in done.headers["set-cookie"]


def test_revoking_the_key_ends_its_sessions_at_once(world: DashWorld) -> None:
    cookie = _login(world)
    assert _page(world, "GET", "/dashboard/feed", cookie).status == 200
    key_id = world.keys["shop-a"].split("_")[2]
    world.built.keys.revoke("shop-a", key_id, NOW)
    done = _page(world, "GET", "/dashboard/feed", cookie)
    assert (done.status, done.headers["location"]) == (303, "/dashboard/login")
    refused = _page(world, "POST", "/dashboard/login", form={"key": world.keys["shop-a"]})
    assert refused.status == 401


# --- forms ------------------------------------------------------------------------------------------


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(world: DashWorld) -> None:
    cookie = _login(world)
    other = _csrf(_page(world, "GET", "/dashboard/overview", _login(world, "shop-b")))
    mine = _csrf(_page(world, "GET", f"/dashboard/cases/{CASE_A}", cookie))
    for form in (
        {"action": "resolve"},
        {"action": "resolve", "csrf": "x.y"},
        {"action": "resolve", "csrf": other},
    ):
        done = _page(world, "POST", f"/dashboard/cases/{urllib.parse.quote(CASE_A, safe='')}", cookie, form)
        assert done.status == 403, form
        assert _case(world, "shop-a", CASE_A).status.value == "open"
    before = world.built.notifier.alert_settings("shop-a", fresh=True)
    done = _page(world, "POST", "/dashboard/settings", cookie,
                 {"reply_mode": "off", "first_reply_target_hours": "2"})  # fmt: skip
    assert done.status == 403
    assert world.built.notifier.alert_settings("shop-a", fresh=True) == before
    # The right token, but from another site's page.
    cross = _page(world, "POST", "/dashboard/settings", cookie,
                  {"reply_mode": "off", "first_reply_target_hours": "2", "csrf": mine},
                  headers={"origin": "https://evil.example"})  # fmt: skip
    assert cross.status == 403
    assert world.built.notifier.alert_settings("shop-a", fresh=True) == before


def test_the_owner_edits_and_sends_a_reply_from_the_case_page(world: DashWorld) -> None:
    cookie = _login(world)
    listed = _page(world, "GET", "/dashboard/cases?status=open", cookie)
    assert "/dashboard/cases/response%3Ainv-a1" in listed.body
    shown = _page(world, "GET", "/dashboard/cases/response%3Ainv-a1", cookie)
    assert shown.status == 200
    assert "The seams ripped after one wash." in shown.body
    draft = re.search(r"<textarea[^>]*>(.*?)</textarea>", shown.body, re.S)
    assert draft and draft.group(1).startswith("Hi Ana,")
    done = _page(world, "POST", "/dashboard/cases/response%3Ainv-a1", cookie,
                 {"action": "reply", "text": "Hi Ana, a new pair is on its way.", "csrf": _csrf(shown)},
                 headers={"origin": "http://localhost"})  # fmt: skip
    assert done.status == 200, done.body
    assert "Sent." in done.body
    case = _case(world, "shop-a", CASE_A)
    assert case.status.value == "replied" and case.reply_text == "Hi Ana, a new pair is on its way."
    again = _page(world, "POST", "/dashboard/cases/response%3Ainv-a1", cookie,
                  {"action": "approve", "csrf": _csrf(done)})  # fmt: skip
    assert again.status == 409 and 'class="notice warn"' in again.body
    resolved = _page(world, "POST", "/dashboard/cases/response%3Ainv-a1", cookie,
                     {"action": "resolve", "csrf": _csrf(again)})  # fmt: skip
    assert resolved.status == 200 and "Resolved." in resolved.body
    assert _case(world, "shop-a", CASE_A).status.value == "resolved"


def test_an_empty_reply_or_an_unknown_action_sends_nothing(world: DashWorld) -> None:
    cookie = _login(world)
    csrf = _csrf(_page(world, "GET", "/dashboard/cases", cookie))
    for form in ({"action": "reply", "text": "  "}, {"action": "delete"}):
        done = _page(world, "POST", "/dashboard/cases/response%3Ainv-a1", cookie, form | {"csrf": csrf})
        assert done.status == 400 and "Nothing sent" in done.body
    assert _case(world, "shop-a", CASE_A).reply_state.value == "awaiting_approval"


def test_settings_change_with_a_valid_form_and_not_otherwise(world: DashWorld) -> None:
    cookie = _login(world)
    csrf = _csrf(_page(world, "GET", "/dashboard/settings", cookie))
    done = _page(world, "POST", "/dashboard/settings", cookie,
                 {"reply_mode": "automatic", "first_reply_target_hours": "6", "csrf": csrf})  # fmt: skip
    assert done.status == 200 and "Saved." in done.body
    saved = world.built.notifier.alert_settings("shop-a", fresh=True)
    assert (saved.reply_mode, saved.first_reply_target_hours) == (ReplyMode.AUTOMATIC, 6.0)
    assert saved.destinations  # the rest is kept
    for bad in ({"reply_mode": "loud", "first_reply_target_hours": "6"},
                {"reply_mode": "off", "first_reply_target_hours": "-1"},
                {"reply_mode": "off", "first_reply_target_hours": "nan"}):  # fmt: skip
        refused = _page(world, "POST", "/dashboard/settings", cookie, bad | {"csrf": csrf})
        assert refused.status == 400 and "Not saved" in refused.body
    assert world.built.notifier.alert_settings("shop-a", fresh=True) == saved


def test_settings_say_replies_come_from_the_survey_sender_under_its_brand(world: DashWorld) -> None:
    from services.feedback.api import SurveyProgramme

    programme = SurveyProgramme.model_validate(
        {"survey_type": "nps", "brand": {"name": "Acme", "sender": "hello@acme.example"}}
    )
    world.built.feedback.save_programme("shop-a", programme)
    page = _page(world, "GET", "/dashboard/settings", _login(world)).body
    assert "Acme &lt;hello@acme.example&gt; (the survey sender)" in page


# --- one shop's records -----------------------------------------------------------------------------


def test_a_session_of_one_shop_never_reaches_another_shops_records(world: DashWorld) -> None:
    cookie = _login(world)
    assert _page(world, "GET", "/dashboard/cases/response%3Ainv-b1", cookie).status == 404
    csrf = _csrf(_page(world, "GET", "/dashboard/cases", cookie))
    done = _page(world, "POST", "/dashboard/cases/response%3Ainv-b1", cookie,
                 {"action": "resolve", "csrf": csrf})  # fmt: skip
    assert done.status == 404
    assert _case(world, "shop-b", CASE_B).status.value == "open"
    feed = _page(world, "GET", "/dashboard/feed", cookie).body
    assert "The seams ripped after one wash." in feed and "Nobody answered my emails." in feed
    assert "never arrived" not in feed
    assert "never arrived" not in _page(world, "GET", "/dashboard/cases", cookie).body
    exported = _page(world, "GET", "/dashboard/export/responses.csv", cookie).body
    assert "inv-a1" in exported and "inv-b1" not in exported


# --- the feed and its export ------------------------------------------------------------------------


def test_the_feed_filters_and_links_its_export_with_the_same_filter(world: DashWorld) -> None:
    cookie = _login(world)
    shown = _page(world, "GET", "/dashboard/feed?band=detractor&kind=response", cookie)
    assert shown.status == 200
    assert re.findall(r'data-score="(\d*)"', shown.body) == ["2", "5"]
    assert "/dashboard/export/responses.csv?band=detractor" in shown.body
    assert "/dashboard/export/reviews.csv" not in shown.body
    reviews = _page(world, "GET", "/dashboard/feed?kind=mention&channel=google", cookie)
    assert re.findall(r'data-kind="(\w+)"', reviews.body) == ["mention"]
    refused = _page(world, "GET", "/dashboard/feed?from=yesterday", cookie)
    assert refused.status == 400 and "from is not a date" in refused.body


def test_the_csv_export_downloads_the_filtered_rows_with_the_session(world: DashWorld) -> None:
    cookie = _login(world)
    done = _page(world, "GET", "/dashboard/export/responses.csv?band=detractor&has_text=yes", cookie)
    assert done.status == 200
    assert done.headers["content-type"].startswith("text/csv")
    assert done.headers["content-disposition"].startswith('attachment; filename="shop-a-responses-')
    rows = list(csv.DictReader(io.StringIO(done.body)))
    assert [(r["id"], r["score"], r["text"]) for r in rows] == [
        ("inv-a1", "2", "The seams ripped after one wash.")
    ]
    reviews = list(
        csv.DictReader(io.StringIO(_page(world, "GET", "/dashboard/export/reviews.csv", cookie).body))
    )
    assert [(r["id"], r["channel"], r["rating"]) for r in reviews] == [("m-1", "google", "1.0")]
    assert _page(world, "GET", "/dashboard/export/orders.csv", cookie).status == 404


# --- static files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("charts.js", "text/javascript"), ("uplot.min.js", "text/javascript"), ("dashboard.css", "text/css"),
     ("uplot.min.css", "text/css")],
)  # fmt: skip
def test_the_static_files_are_served_without_a_session(world: DashWorld, name: str, kind: str) -> None:
    done = _page(world, "GET", f"/dashboard/static/{name}")
    assert done.status == 200
    assert done.headers["content-type"].startswith(kind)
    assert done.headers["cache-control"] == "public, max-age=86400"
    assert len(done.body) > 1000


@pytest.mark.parametrize("name", ["VENDORED.md", "nope.js", "..%2Fhandlers%2Fpages.py", "..", "pages.py"])
def test_other_static_names_are_not_found(world: DashWorld, name: str) -> None:
    assert _page(world, "GET", f"/dashboard/static/{name}").status == 404


def test_an_unknown_page_is_a_404_page(world: DashWorld) -> None:
    done = _page(world, "GET", "/dashboard/nowhere", _login(world))
    assert done.status == 404 and done.headers["content-type"].startswith("text/html")


def test_a_refused_request_is_a_400_page_and_a_failure_a_503(
    world: DashWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = _login(world)
    refused = _page(world, "GET", "/dashboard/themes?from=2026-02-01&to=2026-01-01", cookie)
    assert refused.status == 400 and "from must not be after to" in refused.body
    assert "Log out" in refused.body  # the nav stays

    def broken(*args: Any) -> Any:
        raise RuntimeError("the table is gone")

    monkeypatch.setattr("services.dashboard.service.overview", broken)
    failed = _page(world, "GET", "/dashboard/overview", cookie)
    assert failed.status == 503 and failed.headers["retry-after"] == "5"
    assert "the table is gone" not in failed.body


def test_older_pages_of_the_feed_keep_the_filter(world: DashWorld) -> None:
    for i in range(25):
        world.hear(events.RESPONSE_RECORDED, answer(f"inv-p{i:02d}", 3, at=days_ago(3)))
    cookie = _login(world)
    first = _page(world, "GET", "/dashboard/feed?band=detractor", cookie)
    assert first.body.count("<article ") == 25
    older = re.search(r'href="([^"]+)" rel="next"', first.body)
    assert older
    link = older.group(1).replace("&amp;", "&")
    assert link.startswith("/dashboard/feed?band=detractor&cursor=")
    rest = _page(world, "GET", link, cookie)
    assert rest.status == 200
    # 27 detractors, newest first: inv-a1 and inv-a3 then 23 on the first page, the last 2 here.
    assert re.findall(r'data-score="(\d*)"', rest.body) == ["3", "3"]
    assert 'rel="next"' not in rest.body


# --- one label per theme (issue 17, item 7) ---------------------------------------------------------------


def test_themes_read_by_one_label_and_the_feed_filter_offers_them_as_a_list(world: DashWorld) -> None:
    cookie = _login(world)
    themes = _page(world, "GET", "/dashboard/themes", cookie).body
    assert ">Product quality</a>" in themes and "product quality" not in themes
    feed = _page(world, "GET", "/dashboard/feed", cookie).body
    options = dict(re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>',
                              feed.split('id="f-theme"')[1].split("</select>")[0]))  # fmt: skip
    assert options["product_quality"] == "Product quality"
    assert list(options)[:3] == ["communication", "delivery_shipping", "product_quality"]  # seen first
    assert 'name="theme" value=' not in feed  # a list, never a text box


def test_a_theme_typed_as_shown_filters_and_an_unknown_one_keeps_the_form(world: DashWorld) -> None:
    cookie = _login(world)
    typed = _page(world, "GET", "/dashboard/feed?theme=Product+quality", cookie)
    assert typed.status == 200 and "The seams ripped" in typed.body and "Lovely socks" not in typed.body
    assert '<option value="product_quality" selected>Product quality</option>' in typed.body
    unknown = _page(world, "GET", "/dashboard/feed?theme=glitter&sentiment=negative", cookie)
    assert unknown.status == 400
    assert "theme: there is no theme &#39;glitter&#39;; choose one from the list" in unknown.body
    assert 'id="f-theme"' in unknown.body and '<option value="negative" selected>' in unknown.body
