"""The owner's dashboard on the running local stack, in Debian's headless Chromium.

`cxloop run` in a subprocess (days are a second): a shop with a survey programme, two imported
reviews and an order whose customer answers 2 with a comment (a case). The owner gets an API key from
the CLI and logs in: the overview draws its charts, the feed filters, a case's drafted reply is edited
and sent (it reaches the customer's inbox), the CSV export downloads the filtered rows. At a phone's
375 px nothing scrolls sideways; full-page screenshots at 375 and 1280 px go to the test output.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from services.dashboard.service import CSV_COLUMNS
from tests.e2e.conftest import LiveStack, fits, get_json, output_dir, post_demo_orders, run_cli, until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SHOP = "e2e-dash"
DOMAIN = "e2e-dash.myshopify.com"
CUSTOMER = "maya.lopez+dash@example.net"
COMMENT = "The seams ripped after one wash."
REVIEWS = (
    ("d1", "Arrived in two days and the quality is lovely.", "5", "https://judge.me/reviews/d1"),
    ("d2", "The zip broke after a week and nobody answered my emails.", "1", "https://judge.me/reviews/d2"),
)
SIZES = {"phone": {"width": 375, "height": 800}, "desktop": {"width": 1280, "height": 900}}


def _articles(html: str) -> int:
    return html.count("<article ")


@pytest.fixture(scope="module")
def shop(live: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stack, the shop with its data, and an API key; the survey link Maya got."""
    tmp = tmp_path_factory.mktemp("dash-shop")
    return {"api": live.api, "state": live.state_dir, **_seed(live.api, live.state_dir, tmp)}


def _seed(api: str, state: Path, tmp: Path) -> dict[str, Any]:
    added = run_cli(state, "shop", "add", SHOP, "--platform", "shopify", "--domain", DOMAIN,
                 "--name", "Dash Linen", "--owner-email", "owner@dash.example")  # fmt: skip
    assert added.returncode == 0, added.stderr
    secret = re.search(r"secret ([A-Za-z0-9_\-]{20,})", added.stdout)
    assert secret, added.stdout
    reviews = tmp / "reviews.csv"
    with reviews.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "text", "rating", "url"), *REVIEWS])
    for args in (
        ("survey", "set", "--shop", SHOP, "--type", "nps", "--sender", "hello@dash.example",
         "--reply-to", "owner@dash.example", "--quiet-hours", "off", "--reminder-days", "off"),
        ("notify", "loop", "--shop", SHOP, "--mode", "approval", "--reply-to", "owner@dash.example"),
        ("reviews", "import", str(reviews), "--shop", SHOP, "--source", "judgeme", "--id-column", "id",
         "--rating-column", "rating", "--url-column", "url"),
    ):  # fmt: skip
        done = run_cli(state, *args)
        assert done.returncode == 0, (args, done.stderr)
    post_demo_orders(api, SHOP, DOMAIN, secret.group(1), CUSTOMER)
    survey = until("the survey e-mail", lambda: [m for m in get_json(f"{api}/_local/inbox.json")
                                                 if CUSTOMER in m["to"]])[0]  # fmt: skip
    link = re.search(r"(http://\S+/r/\S+)\?score=2", survey["text"])
    assert link
    issued = run_cli(state, "keys", "issue", "--shop", SHOP, "--json")
    assert issued.returncode == 0, issued.stderr
    return {"survey_link": link.group(1), "key": json.loads(issued.stdout)["key"]}


@pytest.fixture(scope="module")
def answered(shop: dict[str, Any], chromium_browser: Browser) -> dict[str, Any]:
    """Maya answers 2 with a comment in a browser; then the feed holds her answer and both reviews,
    each read by the scoring function, and her case is open."""
    context = chromium_browser.new_context(viewport=SIZES["phone"])
    try:
        page = context.new_page()
        page.goto(shop["survey_link"] + "?score=2")
        page.fill("#comment", COMMENT)
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
    finally:
        context.close()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.parse.urlencode({"key": shop["key"]}).encode()
    with opener.open(f"{shop['api']}/dashboard/login", data=login, timeout=10) as r:
        assert r.url.endswith("/dashboard/overview")

    def read(path: str) -> str:
        with opener.open(f"{shop['api']}{path}", timeout=10) as r:
            return str(r.read().decode())

    def scored() -> bool:
        feed = read("/dashboard/feed")
        badges = re.findall(r'class="badge (?:pos|neg|neu)">(?:positive|negative|neutral)<', feed)
        return _articles(feed) == 3 and COMMENT in feed and len(badges) == 3

    until("the answer and the reviews, scored, in the feed", scored, timeout_s=90)
    until("Maya's case", lambda: "NPS 2 from Maya" in read("/dashboard/cases"))
    return shop


def _output(tmp_path: Path) -> Path:
    return output_dir(tmp_path, "dashboard")


def _log_in(browser: Browser, api: str, key: str, size: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{api}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("#key", key)
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/overview$"))
    return page, problems


def _shoot(page: Page, out: Path, name: str, size: str) -> None:
    width = SIZES[size]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth"), name
    if name in ("cases", "at-risk"):  # cards on a phone: not even their table scrolls sideways
        fits(page, name)
    assert page.evaluate("window.innerWidth") == width
    page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)


def _case_link(page: Page) -> str:
    link = page.locator("a", has_text="NPS 2 from Maya").first
    href = link.get_attribute("href")
    assert href and href.startswith("/dashboard/cases/response%3A")
    return href


def test_a_wrong_key_is_refused_in_the_browser(answered: dict[str, Any], chromium_browser: Browser) -> None:
    context = chromium_browser.new_context(viewport=SIZES["phone"])
    try:
        page = context.new_page()
        page.goto(f"{answered['api']}/dashboard/login")
        page.fill("#key", "cxk_e2e-dash_00000000_" + "0" * 64)
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "not an active API key" in page.locator("[role=alert]").inner_text()
        assert page.locator("#key").input_value() == ""
        assert not [c for c in context.cookies() if c["name"] == "cx_session"]
    finally:
        context.close()


def test_on_a_phone_every_page_fits_the_screen(
    answered: dict[str, Any], chromium_browser: Browser, tmp_path: Path
) -> None:
    out = _output(tmp_path)
    page, problems = _log_in(chromium_browser, answered["api"], answered["key"], "phone")
    try:
        page.wait_for_selector(".chart canvas")
        _shoot(page, out, "overview", "phone")
        for name in ("themes", "feed", "cases", "at-risk", "settings", "suppressions"):
            page.goto(f"{answered['api']}/dashboard/{name}")
            _shoot(page, out, name, "phone")
        page.goto(f"{answered['api']}/dashboard/cases")
        page.goto(answered["api"] + _case_link(page))
        _shoot(page, out, "case", "phone")
        assert not problems, problems
    finally:
        page.context.close()


def test_sending_the_original_draft_after_an_edit_asks_first(
    answered: dict[str, Any], chromium_browser: Browser, tmp_path: Path
) -> None:
    """The owner edited the reply, then pressed "Send the original draft": the browser asks before the
    edits are thrown away; unedited, it sends at once. (The case's POSTs are held back here, so the
    draft stays for the next test.) "Resolve" is an ordinary action, not a red one."""
    api, out = answered["api"], _output(tmp_path)
    page, problems = _log_in(chromium_browser, api, answered["key"], "desktop")
    try:
        page.goto(f"{api}/dashboard/cases")
        _shoot(page, out, "cases", "desktop")
        case_url = api + _case_link(page)
        posts: list[str] = []

        def hold(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            posts.append(route.request.post_data or "")
            route.fulfill(status=200, content_type="text/html", body="<p>held</p>")

        page.route(case_url, hold)
        asked: list[str] = []

        def answer(dialog: Any, accept: bool) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        # Edited, then "no": nothing is sent and the edits stay.
        page.goto(case_url)
        resolve = page.locator("button[value=resolve]")
        assert "danger" not in (resolve.get_attribute("class") or "")
        assert resolve.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(180, 35, 24)"
        page.fill("#reply-text", "My own words.")
        page.once("dialog", lambda d: answer(d, accept=False))
        page.locator("button[value=approve]").click()
        assert asked and "edited" in asked[0]
        assert posts == [] and page.locator("#reply-text").input_value() == "My own words."
        # Edited, then "yes": the original draft goes.
        page.once("dialog", lambda d: answer(d, accept=True))
        page.locator("button[value=approve]").click()
        until("the approval", lambda: posts)
        assert len(asked) == 2 and "action=approve" in posts[0]
        # Not edited: no question.
        page.goto(case_url)
        page.on("dialog", lambda d: answer(d, accept=False))
        page.locator("button[value=approve]").click()
        until("the second approval", lambda: len(posts) == 2)
        assert len(asked) == 2
        assert not problems, problems
    finally:
        page.context.close()


def test_the_owner_reads_filters_replies_and_exports_on_a_laptop(
    answered: dict[str, Any], chromium_browser: Browser, tmp_path: Path
) -> None:
    api, out = answered["api"], _output(tmp_path)
    page, problems = _log_in(chromium_browser, api, answered["key"], "desktop")
    try:
        # The overview: KPI cards with their intervals, and the charts drawn (uPlot canvases).
        page.wait_for_selector(".chart[data-chart-src=nps-trend] canvas")
        assert page.locator(".chart canvas").count() >= 2
        nps = page.locator('.kpi[aria-label="NPS"]')
        assert re.fullmatch(r"[+-]\d+", nps.locator(".value").inner_text().strip())
        assert "95% interval" in nps.inner_text() and "1 answer" in nps.inner_text()
        assert "Dash Linen" in page.locator(".nav .brand").inner_text()
        _shoot(page, out, "overview", "desktop")

        # The feed: everything, then only detractors.
        page.locator(".nav a", has_text="Feed").click()
        page.wait_for_url(re.compile(r"/dashboard/feed$"))
        assert page.locator("article").count() == 3
        page.select_option("#f-band", "detractor")
        page.locator(".filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"band=detractor"))
        items = page.locator("article")
        assert items.count() == 1
        assert items.first.get_attribute("data-kind") == "response"
        assert int(items.first.get_attribute("data-score") or "99") <= 6
        assert COMMENT in items.first.inner_text()
        _shoot(page, out, "feed", "desktop")

        # The same filter as CSV.
        with page.expect_download() as info:
            page.locator("a[href^='/dashboard/export/responses.csv']").click()
        download = info.value
        assert download.suggested_filename.startswith(f"{SHOP}-responses-")
        rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert len(rows) == 2
        row = dict(zip(rows[0], rows[1], strict=True))
        assert (row["kind"], row["score"], row["text"], row["first_name"]) == (
            "response",
            "2",
            COMMENT,
            "Maya",
        )

        # The case: edit the drafted reply and send it.
        page.locator(".nav a", has_text="Cases").click()
        page.goto(api + _case_link(page))
        assert COMMENT in page.locator("#comment").inner_text()
        draft = page.locator("#reply-text").input_value()
        assert draft.startswith("Hi Maya,") and "#1042" in draft
        _shoot(page, out, "case", "desktop")
        page.fill(
            "#reply-text", draft.replace("I'd like to put this right.", "A new set is on its way today.")
        )
        page.locator("button[value=reply]").click()
        page.wait_for_load_state()
        assert "Sent." in page.locator("[role=status]").inner_text()
        assert "A new set is on its way today." in page.locator("main").inner_text()
        page.screenshot(path=str(out / "case-sent-1280.png"), full_page=True)
        assert not problems, problems
    finally:
        page.context.close()

    def reply() -> list[dict[str, Any]]:
        return [m for m in get_json(f"{api}/_local/inbox.json")
                if CUSTOMER in m["to"] and "About your order" in m["subject"]]  # fmt: skip

    [mail] = until("the reply in Maya's inbox", reply)
    assert mail["headers"]["Reply-To"] == "owner@dash.example"
    assert "A new set is on its way today." in mail["text"]


def test_the_owner_chooses_a_theme_from_the_list_and_a_wrong_one_keeps_the_form(
    answered: dict[str, Any], chromium_browser: Browser, tmp_path: Path
) -> None:
    """Issue 17 (7): the theme filter offers the labels the pages show; choosing one filters by it."""
    api, out = answered["api"], _output(tmp_path)
    page, problems = _log_in(chromium_browser, api, answered["key"], "phone")
    try:
        page.goto(f"{api}/dashboard/feed")
        assert page.locator("#f-theme").evaluate("e => e.tagName") == "SELECT"
        page.select_option("#f-theme", label="Product quality")
        page.locator(".filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"theme=product_quality"))
        items = page.locator("article")
        assert items.count() >= 1
        for i in range(items.count()):  # each item read as being about it, by the same label
            assert "Product quality" in items.nth(i).locator(".badge").all_inner_texts()
        assert page.locator("#f-theme option:checked").inner_text() == "Product quality"
        _shoot(page, out, "feed-theme", "phone")

        refused = page.goto(f"{api}/dashboard/feed?theme=glitter&band=detractor")
        assert refused is not None and refused.status == 400
        assert "theme: there is no theme 'glitter'" in page.locator("[role=alert]").inner_text()
        assert page.locator("#f-theme").count() == 1  # the form stays, with what was given
        assert page.locator("#f-band option:checked").get_attribute("value") == "detractor"
        _shoot(page, out, "feed-theme-refused", "phone")
        assert not [p for p in problems if "400" not in p], problems
    finally:
        page.context.close()


def test_an_imported_reviews_reply_is_posted_by_hand_and_counted_only_then(
    answered: dict[str, Any], chromium_browser: Browser, tmp_path: Path
) -> None:
    """Issue 17 (3): Judge.me takes no replies through cxloop. The case page says so at once, offers the
    drafted text to copy and the review's link, reports no success, and the case is replied only when
    the owner says they posted it."""
    api, state, out = answered["api"], answered["state"], _output(tmp_path)

    def review_case() -> dict[str, Any] | None:
        cases = json.loads(run_cli(state, "cases", "--shop", SHOP, "--json").stdout)
        return next((c for c in cases if c["case"].startswith("mention:")), None)

    opened = until("the 1-star review's case", review_case)
    assert (opened["status"], opened["reply"]) == ("open", "awaiting_approval")
    shown = run_cli(state, "case", "show", opened["case"], "--shop", SHOP)
    assert shown.returncode == 0 and "https://judge.me/reviews/d2" in json.loads(shown.stdout)["by_hand"]
    assert f"cxloop case posted {opened['case']}" in shown.stderr
    approved = run_cli(state, "case", "approve", opened["case"], "--shop", SHOP)
    assert approved.returncode != 0 and "judgeme takes no replies through cxloop" in approved.stderr
    page, problems = _log_in(chromium_browser, api, answered["key"], "phone")
    try:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api)
        # The alert's approve link says the same, on the notifier's own page.
        page.goto(json.loads(shown.stdout)["approve_link"])
        assert "Judgeme takes no replies through cxloop" in page.locator("#by-hand").inner_text()
        assert page.locator("button[value=send]").count() == 0
        assert page.locator("a", has_text="Open the review on judgeme").get_attribute("href") == (
            "https://judge.me/reviews/d2"
        )
        _shoot(page, out, "approve-link-by-hand", "phone")
        page.goto(f"{api}/dashboard/cases/{urllib.parse.quote(opened['case'], safe='')}")
        by_hand = page.locator("#by-hand")
        assert "Judgeme takes no replies through cxloop" in by_hand.inner_text()
        assert page.locator("button[value=reply], button[value=approve]").count() == 0
        assert "Handed to the review site" not in page.content()
        draft = page.locator("#reply-text").input_value()
        assert "That is not the experience we want anyone to have at Dash Linen" in draft
        assert "@" not in draft  # a public reply never carries the owner's address (item 2)
        assert page.locator("#review-link").get_attribute("href") == "https://judge.me/reviews/d2"
        page.locator("button[data-copy]").click()
        page.wait_for_function("document.getElementById('copied').textContent.length > 0")
        assert page.evaluate("navigator.clipboard.readText()") == draft
        _shoot(page, out, "case-by-hand", "phone")
        looked = review_case()
        assert looked is not None and (looked["status"], looked["reply"]) == ("open", "awaiting_approval")

        page.locator("button[value=posted]").click()
        page.wait_for_load_state()
        assert "Marked as posted" in page.locator("[role=status]").inner_text()
        _shoot(page, out, "case-posted", "phone")
        assert not problems, problems
    finally:
        page.context.close()
    done = review_case()
    assert done is not None and (done["status"], done["reply"]) == ("replied", "posted")
