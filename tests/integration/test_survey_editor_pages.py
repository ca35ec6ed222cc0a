"""The survey editor on moto, in-process, invoked as API Gateway invokes the dashboard: every setting
saved through the same rules as the API, errors beside their fields, the e-mail's preview under its own
sandboxing CSP, and the test send that reaches the owner's inbox over SMTP, records nothing, and is
rate-limited."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

import pytest

from cxloop.local.sinks import read_inbox
from services.dashboard import survey_editor
from services.dashboard.domain import survey_form
from tests.integration.dashboard_world import NOW, DashWorld, dash  # noqa: F401
from tests.integration.test_dashboard_pages import _csrf, _login, _page

pytestmark = pytest.mark.integration

EDITOR = "/dashboard/settings/surveys"
FORM = {
    "enabled": "on",
    "survey_type": "nps",
    "language": "de",
    "question": "",
    "follow_up_question": "",
    "brand.name": "Acme Socks",
    "brand.colour": "#0a7d33",
    "brand.logo_url": "https://cdn.acme.example/logo.png",
    "brand.sender": "hello@acme.example",
    "brand.reply_to": "care@acme.example",
    "rules.days_after_delivery": "2",
    "rules.days_after_fulfilment": "6",
    "rules.throttle_days": "60",
    "rules.sample_percent": "50",
    "rules.quiet_hours": "on",
    "rules.quiet_hours.start": "22:00",
    "rules.quiet_hours.end": "07:30",
    "timezone": "Europe/Berlin",
    "rules.reminder_after_days": "4",
    "rules.answer_days": "14",
}


@pytest.fixture
def owner(dash: DashWorld) -> tuple[DashWorld, str, str]:  # noqa: F811
    cookie = _login(dash)
    form = _page(dash, "GET", EDITOR, cookie)
    assert form.status == 200, form.body
    return dash, cookie, _csrf(form)


def _post(owner: tuple[DashWorld, str, str], action: str, **changes: str) -> str:
    world, cookie, csrf = owner
    done = _page(world, "POST", EDITOR, cookie, form={**FORM, **changes, "csrf": csrf, "action": action})
    return f"{done.status}\n{done.body}"


def _field_error(body: str, field: str) -> list[str]:
    """The error paragraphs inside the field's own block."""
    fid = "f-" + field.replace(".", "-")
    block = re.search(rf'<div class="field invalid">\s*<label for="{fid}">.*?</div>', body, re.S)
    return (
        [html.unescape(m) for m in re.findall(rf'<p class="error" id="{fid}-err">(.*?)</p>', block.group(0))]
        if block
        else []
    )


def test_a_new_shop_starts_from_its_name_and_nothing_is_stored(owner: tuple[DashWorld, str, str]) -> None:
    world, cookie, _ = owner
    page = _page(world, "GET", EDITOR, cookie)
    assert 'name="brand.name" value="Acme Socks"' in page.body
    # The programme's own defaults, ready to change: 3 days after delivery, quiet 21:00-08:00.
    assert 'name="rules.days_after_delivery" value="3"' in page.body
    assert 'name="rules.quiet_hours" checked' in page.body and 'value="21:00"' in page.body
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/static/survey.js"></script>' in page.body
    assert "<script>" not in page.body and " style=" not in page.body  # strict CSP: nothing inline
    assert world.built.feedback.programme("shop-a") is None


def test_saving_stores_every_setting_as_the_api_reads_it(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    reply = _post(owner, "save")
    assert reply.startswith("200") and "Saved." in reply
    stored = world.built.feedback.programme("shop-a")
    assert stored is not None
    api = world.call("GET", "/api/v1/settings/surveys").json()
    assert api == stored.model_dump(mode="json")
    assert api["language"] == "de" and api["survey_type"] == "nps" and api["timezone"] == "Europe/Berlin"
    assert api["brand"] == {"name": "Acme Socks", "colour": "#0a7d33", "logo_url": FORM["brand.logo_url"],
                            "sender": "hello@acme.example", "reply_to": "care@acme.example"}  # fmt: skip
    rules = api["rules"]
    assert (rules["days_after_delivery"], rules["days_after_fulfilment"], rules["throttle_days"]) == (
        2,
        6,
        60,
    )
    assert (
        rules["sample_percent"] == 50.0 and rules["reminder_after_days"] == 4 and rules["answer_days"] == 14
    )
    assert rules["quiet_hours"] == {"start": "22:00:00", "end": "07:30:00"}
    # And the page shows what was stored, ready to change again.
    again = _page(world, "GET", EDITOR, owner[1]).body
    assert 'name="rules.throttle_days" value="60"' in again and '<option value="de" selected>' in again


def test_turning_surveys_off_is_saved(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    form = {k: v for k, v in FORM.items() if k != "enabled"}
    world_cookie_csrf = owner
    done = _page(world, "POST", EDITOR, world_cookie_csrf[1],
                 form={**form, "csrf": world_cookie_csrf[2], "action": "save"})  # fmt: skip
    assert done.status == 200
    stored = world.built.feedback.programme("shop-a")
    assert stored is not None and not stored.enabled


def test_bad_values_are_refused_each_beside_its_field(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    reply = _post(owner, "save", **{"brand.colour": "green", "rules.throttle_days": "5000",
                                    "timezone": "Mars/Olympus"})  # fmt: skip
    assert reply.startswith("400") and "Not saved: see the fields marked below." in reply
    assert _field_error(reply, "brand.colour") == ["colour must be #rrggbb, not 'green'"]
    assert _field_error(reply, "rules.throttle_days") == ["must be at most 3650"]
    assert _field_error(reply, "timezone")[0].startswith("unknown time zone 'Mars/Olympus'")
    assert _field_error(reply, "brand.name") == []
    assert 'value="green"' in reply  # what was typed stays, to be corrected
    assert world.built.feedback.programme("shop-a") is None
    # A rule across fields is judged once each field is right (pydantic's order), beside the later one.
    crossed = _post(owner, "save", **{"rules.days_after_fulfilment": "1"})
    assert crossed.startswith("400")
    assert _field_error(crossed, "rules.days_after_fulfilment") == [
        "days_after_fulfilment must be at least days_after_delivery "
        "(the fallback waits for a delivery that was never reported)"
    ]


def test_a_sender_outside_the_owner_s_domain_is_refused_as_the_api_refuses_it(
    owner: tuple[DashWorld, str, str],
) -> None:
    world, *_ = owner
    reply = _post(owner, "save", **{"brand.sender": "hello@other.example"})
    assert reply.startswith("400")
    assert _field_error(reply, "brand.sender") == [
        "a sender address must be in the shop owner's domain (acme.example)"
    ]
    api = world.call("PUT", "/api/v1/settings/surveys",
                     body={"brand": {"name": "A", "sender": "hello@other.example"}})  # fmt: skip
    assert api.status == 400 and "shop owner's domain" in api.body
    assert world.built.feedback.programme("shop-a") is None


def test_a_form_without_its_token_changes_nothing(owner: tuple[DashWorld, str, str]) -> None:
    world, cookie, _ = owner
    done = _page(world, "POST", EDITOR, cookie, form={**FORM, "action": "save"})
    assert done.status == 403
    assert world.built.feedback.programme("shop-a") is None


def test_the_preview_is_the_e_mail_in_the_chosen_language_under_its_own_csp(
    owner: tuple[DashWorld, str, str],
) -> None:
    world, cookie, _ = owner
    query = "&".join(f"{k}={v}" for k, v in {**FORM, "language": "fr", "survey_type": "csat"}.items()
                     if v and k != "brand.logo_url")  # fmt: skip
    shown = _page(world, "GET", f"{EDITOR}/preview?{query}", cookie)
    assert shown.status == 200
    csp = shown.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "frame-ancestors 'self'" in csp and "script-src" not in csp
    assert shown.headers["x-frame-options"] == "SAMEORIGIN"
    assert "Bonjour Alex," in shown.body and "chez Acme Socks" in shown.body
    assert "1 — Très insatisfait(e)" in shown.body and "5 — Très satisfait(e)" in shown.body
    assert "background-color:#d73027" in shown.body  # CSAT 1 is red
    assert "http://127.0.0.1:8080/dashboard/survey-test?score=5" in shown.body
    assert "<img" not in shown.body
    with_logo = _page(
        world, "GET", f"{EDITOR}/preview?{query}&brand.logo_url={FORM['brand.logo_url']}", cookie
    )
    assert f'<img src="{FORM["brand.logo_url"]}" alt="Acme Socks"' in with_logo.body


def test_the_preview_of_bad_values_lists_what_to_fix(owner: tuple[DashWorld, str, str]) -> None:
    world, cookie, _ = owner
    shown = _page(world, "GET", f"{EDITOR}/preview?brand.colour=blue&brand.sender=x", cookie)
    assert shown.status == 200 and "No preview until these are fixed" in shown.body
    assert "brand.colour: colour must be #rrggbb" in html.unescape(shown.body)


def test_the_preview_needs_a_session(dash: DashWorld) -> None:  # noqa: F811
    assert _page(dash, "GET", f"{EDITOR}/preview?brand.name=A").status == 303


def test_the_preview_button_works_without_script(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    reply = _post(owner, "preview", **{"language": "de"})
    assert reply.startswith("200")
    frames = re.findall(r'<iframe title="[^"]+" src="([^"]+)" sandbox=""', reply)
    assert len(frames) == 2 and frames[0] == frames[1] and "language=de" in html.unescape(frames[0])
    assert world.built.feedback.programme("shop-a") is None  # a preview saves nothing


def _tests_sent(world: DashWorld) -> list[EmailMessage]:
    return [m for _, m in read_inbox(world.inbox_dir) if str(m["Subject"]).startswith("[Test]")]


def test_send_me_a_test_reaches_the_owner_and_records_nothing(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    reply = _post(owner, "test", **{"language": "en"})
    assert reply.startswith("200") and "A test e-mail went to o@acme.example." in reply
    (mail,) = _tests_sent(world)
    assert mail["To"] == "o@acme.example" and "hello@acme.example" in mail["From"]
    assert mail["X-Cxloop-Test"] == "1" and mail["Reply-To"] == "care@acme.example"
    assert mail["Subject"] == "[Test] Quick question about your order #1001"
    body = mail.get_body(("html",))
    assert body is not None
    text = body.get_content()
    assert (
        "background-color:#a50026" in text and "http://127.0.0.1:8080/dashboard/survey-test?score=10" in text
    )
    # Nothing stored: no programme, no invitation, nothing in the feedback table for the shop.
    assert world.built.feedback.programme("shop-a") is None
    items = world.built.dynamodb.scan(TableName=world.resources.tables["feedback"])["Items"]
    assert not [i for i in items if i["pk"]["S"].endswith("shop-a")], items
    # Its links land on a page that says so, without a login.
    page = _page(world, "GET", "/dashboard/survey-test?score=10")
    assert page.status == 200 and "nothing was recorded" in page.body and "<strong>10</strong>" in page.body


def test_test_sends_are_limited_per_hour(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    for _ in range(survey_form.TEST_SENDS_PER_HOUR):
        assert _post(owner, "test").startswith("200")
    refused = _post(owner, "test")
    assert refused.startswith("429")
    assert (
        f"Not sent: {survey_form.TEST_SENDS_PER_HOUR} test e-mails an hour at most: the next can go at"
        in refused
    )
    assert len(_tests_sent(world)) == survey_form.TEST_SENDS_PER_HOUR


def test_a_test_of_bad_values_is_not_sent(owner: tuple[DashWorld, str, str]) -> None:
    world, *_ = owner
    reply = _post(owner, "test", **{"brand.sender": "nobody"})
    assert reply.startswith("400") and "Not sent: see the fields marked below." in reply
    assert _field_error(reply, "brand.sender") == ["address is not an e-mail address: 'nobody'"]
    assert _tests_sent(world) == []


def test_the_test_link_page_is_public_and_inert(dash: DashWorld) -> None:  # noqa: F811
    page = _page(dash, "GET", "/dashboard/survey-test?unsubscribe=1")
    assert page.status == 200 and "nothing changed" in page.body
    odd = _page(dash, "GET", "/dashboard/survey-test?score=<b>")
    assert odd.status == 200 and "<b>" not in odd.body


def test_the_test_url_is_the_dashboard_s_own() -> None:
    assert survey_editor.TEST_PATH == "/dashboard/survey-test"


def test_the_count_is_per_shop_and_hour(dash: DashWorld) -> None:  # noqa: F811
    limits, hour = dash.built.limits, survey_form.test_window(NOW)
    assert [limits.take("shop-a", hour, 2) for _ in range(3)] == [True, True, False]
    assert limits.take("shop-b", hour, 2)  # another shop has its own count
    assert limits.take("shop-a", survey_form.next_window(NOW), 2)  # and the next hour starts afresh
