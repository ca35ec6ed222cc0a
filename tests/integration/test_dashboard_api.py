"""The REST API on moto (in-process), invoked as API Gateway invokes it: keys, the shop's figures, the
feed and its filters and cursors, cases and their actions, CSV export, erasure, and tenancy (shop A's
key reads and changes nothing of shop B's, by id guessing included)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from services.dashboard.domain import keys
from services.notifier.domain.model import ReplyMode
from shared import events
from shared.tenancy import Shop
from tests.integration.dashboard_world import NOW, SHOP_A, SHOP_B, DashWorld, answer
from tests.integration.dashboard_world import reading as scored


def seed(dash: DashWorld) -> None:
    """Shop A: 3 detractors, 2 passives, 5 promoters today and last week; shop B: one detractor."""
    scores = [2, 4, 6, 7, 8, 9, 9, 10, 10, 10]
    for i, score in enumerate(scores):
        invite = f"inv-a{i:03}"
        at = NOW - timedelta(days=7 * (i % 2))
        dash.hear("ResponseRecorded", answer(invite, score, at=at, comment=f"comment {i}" if i % 3 else None))
        label = "negative" if score <= 6 else "positive"
        dash.hear("FeedbackScored", scored(invite, label, [("delivery_shipping", label)]))
    dash.hear("ResponseRecorded", answer("inv-b001", 1, comment="B's secret complaint"), shop=SHOP_B)


def test_a_key_is_needed_and_a_revoked_one_stops_at_once(dash: DashWorld) -> None:
    assert dash.call("GET", "/api/v1/me", key=None).status == 401
    assert dash.call("GET", "/api/v1/me", key="cxk_shop-a_00000000_" + "0" * 64).status == 401
    wrong_secret = dash.keys["shop-a"][:-4] + "ffff"
    assert dash.call("GET", "/api/v1/me", key=wrong_secret).status == 401
    me = dash.call("GET", "/api/v1/me")
    assert me.status == 200 and me.json()["shop_id"] == "shop-a"
    by_header = dash.call("GET", "/api/v1/me", key=None, headers={"x-api-key": dash.keys["shop-a"]})
    assert by_header.status == 200
    dash.built.keys.revoke("shop-a", me.json()["key_id"], NOW)
    refused = dash.call("GET", "/api/v1/me")
    assert refused.status == 401 and refused.json()["error"]["code"] == "unauthorized"


def test_keys_are_kept_as_digests_only(dash: DashWorld) -> None:
    items = dash.built.dynamodb.scan(TableName=dash.resources.tables["shops"])["Items"]
    stored = " ".join(str(i) for i in items)
    assert dash.keys["shop-a"] not in stored
    assert keys.digest(dash.keys["shop-a"]) in stored


def test_metrics_come_from_the_days_totals_with_intervals(dash: DashWorld) -> None:
    seed(dash)
    start = (NOW - timedelta(days=13)).date().isoformat()
    until = NOW.date().isoformat()  # not today's date: the module's NOW may be yesterday's by now
    report = dash.call("GET", "/api/v1/metrics", query={"interval": "day", "from": start, "to": until}).json()
    nps = next(s for s in report["total"]["surveys"] if s["survey_type"] == "nps")["score"]
    # 5 promoters, 3 detractors of 10: NPS +20, its interval around it.
    assert (nps["n"], nps["promoters"], nps["detractors"], nps["value"]) == (10, 5, 3, 20.0)
    assert nps["low"] < 20.0 < nps["high"]
    assert len(report["buckets"]) == 14
    assert sum(b["responses"] for b in report["buckets"]) == 10
    week = dash.call("GET", "/api/v1/metrics", query={"interval": "month", "from": start}).json()
    assert sum(b["responses"] for b in week["buckets"]) == 10


def test_a_changed_answer_moves_its_count_and_a_duplicate_does_not(dash: DashWorld) -> None:
    dash.hear("ResponseRecorded", answer("inv-x", 3))
    dash.hear("ResponseRecorded", answer("inv-x", 3))  # Shopify-style duplicate
    dash.hear("ResponseRecorded", answer("inv-x", 9, revision=2, comment="actually fine"))
    dash.hear("ResponseRecorded", answer("inv-x", 3))  # a stale revision arriving late
    total = dash.call("GET", "/api/v1/metrics").json()["total"]
    nps = total["surveys"][0]["score"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (1, 1, 0)


def test_themes_rise_and_hurt(dash: DashWorld) -> None:
    for i in range(4):
        dash.hear("ResponseRecorded", answer(f"t{i}", 2, comment="late"))
        dash.hear("FeedbackScored", scored(f"t{i}", "negative", [("delivery_shipping", "negative")]))
    rows = dash.call("GET", "/api/v1/themes").json()["themes"]
    row = next(r for r in rows if r["theme"] == "delivery_shipping")
    assert (row["mentions"], row["negative"], row["rising"], row["hurting"]) == (4, 4, True, True)


def test_feed_filters_and_cursor_pages(dash: DashWorld) -> None:
    seed(dash)
    detractors = dash.call("GET", "/api/v1/responses", query={"band": "detractor"}).json()["items"]
    assert sorted(i["score"] for i in detractors) == [2, 4, 6]
    negative = dash.call("GET", "/api/v1/feed", query={"sentiment": "negative", "theme": "delivery_shipping"})
    assert {i["score"] for i in negative.json()["items"]} == {2, 4, 6}
    with_text = dash.call("GET", "/api/v1/responses", query={"has_text": "true"}).json()["items"]
    assert all(i["text"] for i in with_text) and len(with_text) == 6
    recent = dash.call("GET", "/api/v1/responses", query={"from": NOW.date().isoformat()}).json()["items"]
    assert len(recent) == 5
    seen, cursor, pages = [], None, 0
    while True:
        page = dash.call(
            "GET", "/api/v1/responses", query={"limit": 3, **({"cursor": cursor} if cursor else {})}
        )
        body = page.json()
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"inv-a{i:03}" for i in range(10)) and pages >= 4
    ats = [datetime.fromisoformat(i["at"]) for i in dash.call("GET", "/api/v1/responses").json()["items"]]
    assert ats == sorted(ats, reverse=True)


@pytest.mark.parametrize("cursor", ["nonsense!", "e30", "eyJzayI6IkNBU0UjeCIsImZlZWRfc2siOiJ4In0"])
def test_a_bad_cursor_is_a_400(dash: DashWorld, cursor: str) -> None:
    reply = dash.call("GET", "/api/v1/responses", query={"cursor": cursor})
    assert reply.status == 400 and "cursor" in reply.json()["error"]["message"]


def test_tenancy_nothing_of_shop_b_is_reachable_with_shop_a_key(dash: DashWorld) -> None:
    seed(dash)
    b_case = "response:inv-b001"
    assert dash.call("GET", f"/api/v1/cases/{b_case}", key="shop-b").status == 200
    for method, path, body in (
        ("GET", f"/api/v1/cases/{b_case}", None),
        ("POST", f"/api/v1/cases/{b_case}/approve", None),
        ("POST", f"/api/v1/cases/{b_case}/resolve", None),
        ("POST", f"/api/v1/cases/{b_case}/reply", {"text": "hello from A"}),
    ):
        reply = dash.call(method, path, body=body)
        assert reply.status == 404, (method, path, reply.body)
    everything = " ".join(
        dash.call("GET", p).body
        for p in ("/api/v1/feed", "/api/v1/responses", "/api/v1/cases", "/api/v1/overview", "/api/v1/themes")
    )
    assert "B's secret complaint" not in everything and "inv-b001" not in everything
    # A cursor pointing at B's records only positions within A's own partition.
    forged = dash.call("GET", "/api/v1/feed", query={"cursor": _cursor_for("ANSWER#inv-b001")}).json()
    assert forged["items"] and all(i["id"].startswith("inv-a") for i in forged["items"])
    # B's case is untouched, and B's figures are B's alone.
    b = dash.call("GET", f"/api/v1/cases/{b_case}", key="shop-b").json()
    assert b["status"] == "open" and b["reply_state"] == "awaiting_approval"
    assert dash.call("GET", "/api/v1/metrics", key="shop-b").json()["total"]["responses"] == 1
    # Settings written with A's key land in A only.
    alerts = dash.call("GET", "/api/v1/settings/alerts").json()
    alerts["reply_mode"] = ReplyMode.OFF.value
    assert dash.call("PUT", "/api/v1/settings/alerts", body=alerts).status == 200
    assert dash.call("GET", "/api/v1/settings/alerts", key="shop-b").json()["reply_mode"] == "approval"


def _cursor_for(sk: str) -> str:
    from services.dashboard.domain.paging import encode

    encoded = encode({"sk": sk, "feed_sk": f"{NOW.isoformat()}#{sk}"})
    assert encoded
    return encoded


def test_reply_approve_and_resolve_a_case(dash: DashWorld) -> None:
    seed(dash)
    cases = dash.call("GET", "/api/v1/cases", query={"status": "open"}).json()["items"]
    assert {c["score"] for c in cases} == {2, 4, 6}
    first, second, third = (c["case_id"] for c in cases)
    sent = dash.call("POST", f"/api/v1/cases/{first}/reply", body={"text": "We are so sorry, Ana."}).json()
    assert sent["reply_state"] == "sent" and sent["reply_text"] == "We are so sorry, Ana."
    again = dash.call("POST", f"/api/v1/cases/{first}/reply", body={"text": "twice?"})
    assert again.status == 409 and again.json()["error"]["code"] == "conflict"
    approved = dash.call("POST", f"/api/v1/cases/{second}/approve").json()
    assert approved["reply_state"] == "sent" and approved["reply_text"].startswith("Hi Ana")
    resolved = dash.call("POST", f"/api/v1/cases/{third}/resolve").json()
    assert resolved["status"] == "resolved"
    assert dash.call("POST", f"/api/v1/cases/{first}/reply", body={}).status == 400
    assert dash.call("POST", f"/api/v1/cases/{first}/reply", body=b"not json").status == 400
    assert dash.call("GET", "/api/v1/cases/response:nope").status == 404


def test_a_review_its_source_takes_no_replies_for_is_replied_only_when_the_owner_posted_it(
    dash: DashWorld,
) -> None:
    """Issue 17 (3): the API says at once that the source takes no replies, never reports a reply it did
    not post, and counts the case replied when the owner says they posted it."""
    mention = "csv:judgeme:r9"
    dash.hear("FeedbackScored", scored(mention, "negative", [("product_quality", "negative")],
                                       subject="mention", source="judgeme", rating=1.0,
                                       url="https://judge.me/r9", takes_replies=False))  # fmt: skip
    path = f"/api/v1/cases/mention:{mention}"
    case = dash.call("GET", path).json()
    assert case["by_hand"].startswith("judgeme takes no replies through cxloop") and case["draft"]
    assert "https://judge.me/r9" in case["by_hand"]
    refused = dash.call("POST", f"{path}/reply", body={"text": "Sorry!"})
    assert refused.status == 409 and "takes no replies" in refused.json()["error"]["message"]
    assert dash.call("POST", f"{path}/approve").status == 409
    still = dash.call("GET", path).json()
    assert (still["status"], still["first_reply_at"]) == ("open", None)
    done = dash.call("POST", f"{path}/posted", body={"text": "Sorry, we are sending a new one."}).json()
    assert (done["status"], done["reply_state"]) == ("replied", "posted") and done["first_reply_at"]
    assert done["reply_text"] == "Sorry, we are sending a new one."
    assert dash.call("POST", f"{path}/posted").status == 409  # once


def test_csv_export_follows_the_filter_and_defuses_formulas(dash: DashWorld) -> None:
    seed(dash)
    dash.hear("ResponseRecorded", answer("inv-evil", 1, comment='=HYPERLINK("http://x")'))
    reply = dash.call("GET", "/api/v1/responses/export", query={"band": "detractor"})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.body)))
    assert sorted(int(r["score"]) for r in rows) == [1, 2, 4, 6]
    evil = next(r for r in rows if r["id"] == "inv-evil")
    assert evil["text"].startswith("'=")


def test_a_body_nested_past_any_request_is_a_400_not_a_503(dash: DashWorld) -> None:
    deep = b'{"platform": ' * 5000 + b'"shopify"' + b"}" * 5000
    refused = dash.call("POST", "/api/v1/customers/erasure", body=deep)
    assert refused.status == 400 and "nests deeper" in refused.json()["error"]["message"]
    assert dash.call("POST", "/api/v1/customers/erasure", body=deep, key=None).status == 401


def test_erasure_through_the_api(dash: DashWorld) -> None:
    reply = dash.call(
        "POST", "/api/v1/customers/erasure", body={"platform": "shopify", "email": "x@y.example"}
    )
    assert reply.status == 200 and reply.json()["customer_keys"] >= 1
    assert dash.call("POST", "/api/v1/customers/erasure", body={"platform": "shopify"}).status == 400


def test_errors_are_json_with_a_message(dash: DashWorld) -> None:
    for path, query in (
        ("/api/v1/metrics", {"interval": "year"}),
        ("/api/v1/metrics", {"from": "2026-13-01"}),
        ("/api/v1/metrics", {"from": "2026-11-10", "to": "2026-11-01"}),
        ("/api/v1/responses", {"limit": 1000}),
        ("/api/v1/responses", {"band": "grumpy"}),
    ):
        reply = dash.call("GET", path, query=query)
        assert reply.status == 400, (path, query, reply.body)
        assert reply.json()["error"]["message"]
    missing = dash.call("GET", "/api/v1/nothing-here")
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"


def test_suppressions_and_at_risk_are_paged(dash: DashWorld) -> None:
    assert dash.call("GET", "/api/v1/suppressions").json() == {"items": [], "next_cursor": None}
    store = dash.notifier.store
    from services.notifier.domain.ports import OrderLine, RiskRun

    store.put_risk_run("shop-a", RiskRun(computed_at=NOW, valuable_from=0.0))  # fresh: not computed again

    for i in range(3):
        key = f"email:c{i}"
        store.add_order(
            "shop-a", key, OrderLine(f"o{i}", NOW - timedelta(days=200), 50.0), {"first_name": "C"}
        )
        store.set_risk("shop-a", key, 0.5 + i / 10, True, ["no order for 200 days"])
    page = dash.call("GET", "/api/v1/customers/at-risk", query={"limit": 2}).json()
    assert [c["customer_key"] for c in page["items"]] == ["email:c2", "email:c1"]
    rest = dash.call("GET", "/api/v1/customers/at-risk", query={"cursor": page["next_cursor"]}).json()
    assert [c["customer_key"] for c in rest["items"]] == ["email:c0"]
    assert dash.call("GET", "/api/v1/customers/at-risk", key="shop-b").json()["items"] == []


def _orders(
    dash: DashWorld, shop: Shop, key: str, name: str, email: str, placed: list[tuple[float, int]]
) -> None:
    for n, (total, days) in enumerate(placed):
        order = events.OrderRecorded(
            order_id=f"{name}-{n}-{days}", platform="shopify", customer_key=key, first_name=name, email=email,
            placed_at=NOW - timedelta(days=days), total=total, currency="EUR",
        )  # fmt: skip
        dash.hear(events.ORDER_RECORDED, order.model_dump(mode="json"), shop=shop)


def test_at_risk_is_computed_on_reading_for_valuable_regulars_only_with_their_address(
    dash: DashWorld,
) -> None:
    """Issue 17 (5): no daily run, no digest: the API computes it, says when, lists Lou (a regular in the
    shop's top quarter who stopped), not Maya (one order today), not Tim (a regular who spends little),
    with Lou's address and the currency; shop B's key sees only shop B's customer."""
    from services.notifier.domain.model import AlertSettings

    for shop in ("shop-a", "shop-b"):
        # Lou's risk: about 0.67 after 150 quiet days, 0.43 the day he orders again (this retailer-fitted
        # score's floor for a small-order regular: 45 % of its customers leave within 90 days)
        dash.notifier.settings.put(shop, AlertSettings(churn_threshold=0.5))
    _orders(dash, SHOP_A, "email:maya", "Maya", "maya@example.net", [(64.90, 0)])
    _orders(dash, SHOP_A, "email:lou", "Lou", "lou@example.net", [(80.0, d) for d in (400, 300, 200, 150)])
    _orders(dash, SHOP_A, "email:tim", "Tim", "tim@example.net", [(10.0, d) for d in (400, 300, 200, 150)])
    _orders(dash, SHOP_B, "email:bo", "Bo", "bo@example.org", [(90.0, d) for d in (400, 300, 200, 150)])
    before = datetime.now(tz=UTC).replace(microsecond=0)
    page = dash.call("GET", "/api/v1/customers/at-risk").json()
    assert [(c["first_name"], c["email"], c["currency"], c["spend_total"]) for c in page["items"]] == [
        ("Lou", "lou@example.net", "EUR", 320.0)
    ]
    assert datetime.fromisoformat(page["computed_at"]) >= before
    assert page["valuable_from"] >= 80.0 and page["currency"] == "EUR"
    assert "€" in page["rule"] and "two orders or more" in page["rule"]
    other = dash.call("GET", "/api/v1/customers/at-risk", key="shop-b").json()
    assert [(c["first_name"], c["email"]) for c in other["items"]] == [("Bo", "bo@example.org")]

    # Lou orders again: the next read computes again, and he is no longer at risk.
    _orders(dash, SHOP_A, "email:lou", "Lou", "lou@example.net", [(80.0, 0)])
    again = dash.call("GET", "/api/v1/customers/at-risk").json()
    assert again["items"] == [] and again["computed_at"] >= page["computed_at"]


def test_the_document_describes_every_route(dash: DashWorld) -> None:
    doc = dash.call("GET", "/api/v1/openapi.json", key=None).json()
    assert doc["openapi"].startswith("3.1")
    assert {"bearer", "apiKey"} <= set(doc["components"]["securitySchemes"])
    paths = set(doc["paths"])
    for path in (
        "/api/v1/overview",
        "/api/v1/feed",
        "/api/v1/cases/{case_id}/reply",
        "/api/v1/cases/{case_id}/posted",
        "/api/v1/responses/export",
    ):
        assert path in paths
    for item in doc["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"] and "400" in operation["responses"]


def test_answers_stored_before_the_totals_are_added_once_by_retally(dash: DashWorld) -> None:
    from services.notifier.domain.model import SurveyAnswer

    old = SurveyAnswer(
        invite_id="inv-old", revision=1, survey_type="nps", score=3, answered_at=NOW, comment="old"
    )
    # As the notifier wrote answers before this release: the record, no share of any day, no feed place.
    dash.built.dynamodb.put_item(
        TableName=dash.resources.tables["notifier"],
        Item={
            "pk": {"S": "SHOP#shop-a"},
            "sk": {"S": "ANSWER#inv-old"},
            "doc": {"S": old.model_dump_json(exclude_none=True)},
            "rev": {"N": "1"},
            "gsi1pk": {"S": "SHOP#shop-a#ANSWER"},
            "gsi1sk": {"S": f"{NOW.isoformat()}#ANSWER#inv-old"},
        },
    )
    dash.hear("ResponseRecorded", answer("inv-new", 9))
    assert dash.call("GET", "/api/v1/metrics").json()["total"]["responses"] == 1
    store = dash.notifier.store
    assert store.retally("shop-a") == 1
    assert store.retally("shop-a") == 0
    total = dash.call("GET", "/api/v1/metrics").json()["total"]
    assert total["responses"] == 2 and total["surveys"][0]["score"]["detractors"] == 1
    ids = [i["id"] for i in dash.call("GET", "/api/v1/responses").json()["items"]]
    assert sorted(ids) == ["inv-new", "inv-old"]


def test_the_overview_counts_open_and_overdue_cases_from_their_index(dash: DashWorld) -> None:
    seed(dash)
    dash.hear("ResponseRecorded", answer("inv-late", 1), now=NOW - timedelta(days=3))  # target passed
    overview = dash.call("GET", "/api/v1/overview").json()
    assert (overview["open_cases"], overview["overdue_cases"]) == (4, 1)
    dash.call("POST", "/api/v1/cases/response:inv-late/resolve")
    dash.call("POST", "/api/v1/cases/response:inv-a000/resolve")
    overview = dash.call("GET", "/api/v1/overview").json()
    assert (overview["open_cases"], overview["overdue_cases"]) == (2, 0)
    assert dash.call("GET", "/api/v1/overview", key="shop-b").json()["open_cases"] == 1


def test_response_rates_come_from_the_dispatcher_runs_counted_once(dash: DashWorld) -> None:
    seed(dash)
    today = NOW.date().isoformat()
    for run in ("run-1", "run-2", "run-2"):  # run-2 redelivered
        dash.hear("SurveysSent", {"run_id": run, "day": today, "counts": {"nps": 5}})
    total = dash.call("GET", "/api/v1/metrics", query={"from": today}).json()["total"]
    nps = total["surveys"][0]
    assert (nps["sent"], nps["score"]["n"], nps["response_rate"]["value"]) == (10, 5, 50.0)


def test_a_sender_address_set_through_the_api_stays_in_the_shops_domain(dash: DashWorld) -> None:
    alerts = dash.call("GET", "/api/v1/settings/alerts").json()
    refused = dash.call(
        "PUT", "/api/v1/settings/alerts", body=alerts | {"reply_from": "support@bravo.example"}
    )
    assert refused.status == 400 and "domain" in refused.json()["error"]["message"]
    assert dash.call("GET", "/api/v1/settings/alerts").json()["reply_from"] is None
    ok = dash.call("PUT", "/api/v1/settings/alerts", body=alerts | {"reply_from": "care@acme.example"})
    assert ok.status == 200 and ok.json()["reply_from"] == "care@acme.example"
    programme = {"brand": {"name": "Acme", "sender": "ceo@bravo.example"}}
    refused = dash.call("PUT", "/api/v1/settings/surveys", body=programme)
    assert refused.status == 400 and "domain" in refused.json()["error"]["message"]
    programme["brand"]["sender"] = "hello@acme.example"
    assert dash.call("PUT", "/api/v1/settings/surveys", body=programme).status == 200
    assert dash.call("GET", "/api/v1/settings/surveys").json()["brand"]["sender"] == "hello@acme.example"


def test_a_cursor_outside_the_querys_period_is_a_400(dash: DashWorld) -> None:
    seed(dash)
    first = dash.call("GET", "/api/v1/feed", query={"limit": 2}).json()
    earlier = (NOW - timedelta(days=3)).date().isoformat()
    reply = dash.call("GET", "/api/v1/feed", query={"to": earlier, "cursor": first["next_cursor"]})
    assert reply.status == 400


def test_an_export_too_big_for_one_response_goes_on_with_its_cursor(
    dash: DashWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.dashboard import service

    seed(dash)
    monkeypatch.setattr(service, "EXPORT_ROWS", 4)
    monkeypatch.setattr(service, "EXPORT_PAGE", 3)
    ids: list[str] = []
    cursor: str | None = None
    files = 0
    while True:
        reply = dash.call("GET", "/api/v1/responses/export", query={"cursor": cursor} if cursor else {})
        rows = list(csv.DictReader(io.StringIO(reply.body)))
        assert len(rows) <= 4
        ids += [r["id"] for r in rows]
        files += 1
        cursor = reply.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert files == 3 and sorted(ids) == sorted(f"inv-a{i:03}" for i in range(10))


def test_concurrent_requests_of_two_shops_each_get_their_own_shop(dash: DashWorld) -> None:
    """The local stack serves requests in threads; each function runs one at a time, as in Lambda, so
    the resolver's per-request state (the caller's shop) is never another request's."""
    from concurrent.futures import ThreadPoolExecutor

    def me(shop: str) -> tuple[str, int, str]:
        reply = dash.call("GET", "/api/v1/me", key=shop)
        return shop, reply.status, reply.json().get("shop_id", "")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(me, ["shop-a", "shop-b"] * 60))
    assert all(status == 200 and got == shop for shop, status, got in results), [
        r for r in results if r[1] != 200 or r[0] != r[2]
    ][:5]


def test_a_date_out_of_range_is_a_400_naming_it_not_a_503(dash: DashWorld) -> None:
    """Schemathesis found ``/themes?to=0001-01-01`` answered 503: the default period ran before year 1."""
    for path in ("/api/v1/themes", "/api/v1/metrics"):
        for name in ("to", "from"):
            answer = dash.call("GET", path, query={name: "0001-01-01"})
            assert answer.status == 400, (path, name, answer.status)
            assert answer.json()["error"]["message"].startswith(f"{name}: 0001-01-01 is out of range")
