"""Answers and unsubscribes from the links of a survey e-mail that the dispatcher really sent (fakes,
real rendering): one click records the score, revisions, comments, tokens, publishing and its sweeper."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.feedback.domain.orders.normalise import email_key, order_sk
from services.feedback.domain.ports import Written
from services.feedback.domain.recovery import republish_answers
from services.feedback.domain.surveys.answers import (
    NOT_FOUND,
    AnswerDeps,
    clean_text,
    confirm_unsubscribe,
    record_comment,
    record_score,
    unsubscribe,
)
from services.feedback.domain.surveys.dispatch import DispatchDeps, Dispatcher, Links
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status, invitation_sk, invite_id
from services.feedback.domain.surveys.planning import PlanningDeps
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme, SurveyType
from services.feedback.domain.surveys.report import survey_report
from services.feedback.domain.surveys.views import MAX_COMMENT_CHARS, Page, PageView
from services.feedback.rendering import render_email
from shared import events
from shared import links as tokens
from shared.mail.message import OutgoingEmail
from shared.tenancy import Platform
from tests.fakes import (
    InMemoryFeedbackStore,
    InMemoryProgrammes,
    InMemorySurveyStore,
    ListPublisher,
    SinkMailer,
)

pytestmark = pytest.mark.unit

SHOP = "acme-shop"
T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
KEY = bytes(range(32))
PUBLIC = "https://fb.example"
BRAND = Brand(name="Acme", sender="surveys@acme.example", reply_to="help@acme.example")
JANE = "jane.doe@example.com"
DAY = timedelta(days=1)
FOLLOW_UP = "What could we do better?"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class BrokenPublisher:
    def __init__(self) -> None:
        self.calls = 0

    def publish(self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str) -> None:
        self.calls += 1
        raise ConnectionError("EventBridge unavailable")


class Bed:
    def __init__(self, **programme: Any) -> None:
        self.clock = Clock()
        self.records = InMemoryFeedbackStore()
        self.surveys = InMemorySurveyStore(self.records)
        self.programmes = InMemoryProgrammes()
        self.programmes.put(SHOP, SurveyProgramme(brand=BRAND, rules=Rules(quiet_hours=None), **programme))
        self.mailer = SinkMailer()
        self.publisher: Any = ListPublisher()
        self.links = Links(PUBLIC, [KEY])

    @property
    def deps(self) -> AnswerDeps:
        return AnswerDeps(self.surveys, self.programmes, self.publisher, self.links, self.clock)

    def plant(self, n: int, email: str = JANE) -> Invitation:
        sk = order_sk(Platform.SHOPIFY, n)
        inv = Invitation(
            shop_id=SHOP,
            invite_id=invite_id(SHOP, sk),
            order_sk=sk,
            order_name=f"#{1000 + n}",
            email=email,
            first_name="Jane",
            customer_key=f"shopify:{n}",
            contact_key=email_key(email),
            survey_type=self.programmes.get(SHOP).survey_type,  # type: ignore[union-attr]
            status=Status.PLANNED,
            planned_at=self.clock(),
            due_at=self.clock(),
            version=1,
        )
        assert self.surveys.write(inv, None) is Written.OK
        return inv

    def dispatch(self, run_id: str = "run-1") -> None:
        deps = DispatchDeps(
            surveys=self.surveys,
            programmes=self.programmes,
            mailer=self.mailer,
            render=render_email,
            links=self.links,
            clock=self.clock,
        )
        Dispatcher(deps, run_id).run()

    def send(self, n: int = 1, email: str = JANE) -> tuple[str, OutgoingEmail]:
        """Plant an order's invitation and let the dispatcher send it; the invitation id and the mail."""
        iid = self.plant(n, email).invite_id
        self.dispatch(f"run-{n}")
        [mail] = [m for m in self.mailer.sent if m.tags["invite"] == iid]
        return iid, mail

    def inv(self, iid: str) -> Invitation:
        found = self.surveys.invitation(SHOP, iid)
        assert found is not None
        return found


def answer_token(mail: OutgoingEmail) -> str:
    found = re.search(r"https://fb\.example/r/([A-Za-z0-9_.-]+)\?score=\d+", mail.text)
    assert found
    return found[1]


def unsubscribe_token(mail: OutgoingEmail) -> str:
    return urlsplit(mail.headers["List-Unsubscribe"].strip("<>")).path.removeprefix("/u/")


def responses(bed: Bed) -> list[dict[str, Any]]:
    return [e.data for e in bed.publisher.of(events.RESPONSE_RECORDED)]


# --- scores -------------------------------------------------------------------------------------------


def test_a_score_link_records_the_answer_and_announces_it() -> None:
    bed = Bed()
    iid, mail = bed.send()
    assert bed.inv(iid).due_at is not None  # the reminder
    bed.clock.advance(timedelta(hours=5))

    page, view = record_score(bed.deps, answer_token(mail), "9", "corr-9")

    assert page is Page.ANSWER
    assert view.score == 9 and view.brand_name == "Acme" and view.survey_type is SurveyType.NPS
    assert view.form_action == f"{PUBLIC}/r/{answer_token(mail)}"
    assert [s.score for s in view.scale] == list(range(11))
    inv = bed.inv(iid)
    assert (inv.score, inv.revision, inv.published_revision) == (9, 1, 1)
    assert inv.answered_at == T0 + timedelta(hours=5)
    assert inv.due_at is None  # no reminder once answered
    [event] = bed.publisher.events
    assert (
        event.name == events.RESPONSE_RECORDED and event.shop_id == SHOP and event.correlation_id == "corr-9"
    )
    data = events.ResponseRecorded.model_validate(event.data)
    assert (data.invite_id, data.revision, data.score, data.order_id, data.platform) == (
        iid,
        1,
        9,
        "1",
        "shopify",
    )
    assert data.order_name == "#1001" and data.survey_type == "nps" and data.comment is None
    # The closed-loop reply comes from the survey's sender, under its brand (issue 17, item 1).
    assert (data.brand_name, data.brand_sender) == ("Acme", "surveys@acme.example")


def test_changing_the_score_makes_revisions_and_the_comment_makes_it_final() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "9")
    first_answer = bed.inv(iid).answered_at

    bed.clock.advance(timedelta(minutes=1))
    page, _ = record_score(bed.deps, token, "9")
    assert page is Page.ANSWER
    assert bed.inv(iid).revision == 1 and len(bed.publisher.events) == 1

    page, view = record_score(bed.deps, token, "3")
    assert page is Page.ANSWER and view.score == 3
    inv = bed.inv(iid)
    assert (inv.score, inv.revision, inv.published_revision) == (3, 2, 2)
    assert inv.answered_at == first_answer
    assert [(d["revision"], d["score"]) for d in responses(bed)] == [(1, 9), (2, 3)]

    page, view = record_comment(bed.deps, token, {"comment": "Slow delivery"})
    assert page is Page.COMMENTED and view.comment == "Slow delivery" and not view.already_complete
    assert bed.inv(iid).revision == 3
    assert responses(bed)[-1]["comment"] == "Slow delivery" and responses(bed)[-1]["revision"] == 3

    before = bed.inv(iid)
    for raw in ("10", "3", "x", None):
        page, view = record_score(bed.deps, token, raw)
        assert page is Page.COMMENTED and view.already_complete and view.score == 3
    page, view = record_comment(bed.deps, token, {"comment": "changed my mind"})
    assert page is Page.COMMENTED and view.already_complete and view.comment == "Slow delivery"
    assert bed.inv(iid) == before and len(bed.publisher.events) == 3


@pytest.mark.parametrize(
    ("raw", "recorded"),
    [
        ("0", 0),
        ("10", 10),
        (" 7 ", 7),  # the code trims before reading the number
        ("007", 7),
        ("11", None),
        ("100", None),
        ("-1", None),
        ("+5", None),
        ("5.0", None),
        ("five", None),
        ("", None),
        (None, None),
        ("1e1", None),
    ],
)
def test_score_parsing(raw: str | None, recorded: int | None) -> None:
    bed = Bed()
    iid, mail = bed.send()
    reminder = bed.inv(iid).due_at

    page, view = record_score(bed.deps, answer_token(mail), raw)

    inv = bed.inv(iid)
    if recorded is None:
        assert page is Page.CHOOSE and view.score is None and [s.score for s in view.scale] == list(range(11))
        assert inv.score is None and inv.revision == 0 and inv.due_at == reminder
        assert bed.publisher.events == []
    else:
        assert page is Page.ANSWER and view.score == recorded and inv.score == recorded
        assert inv.revision == 1 and inv.due_at is None


@pytest.mark.parametrize(("raw", "recorded"), [("1", 1), ("5", 5), ("0", None), ("6", None)])
def test_the_scale_is_the_programmes(raw: str, recorded: int | None) -> None:
    bed = Bed(survey_type=SurveyType.CSAT)
    iid, mail = bed.send()

    page, _ = record_score(bed.deps, answer_token(mail), raw)

    assert page is (Page.CHOOSE if recorded is None else Page.ANSWER)
    assert bed.inv(iid).score == recorded


@pytest.mark.parametrize("raw", ["²", "①", "9" * 5000], ids=["superscript-two", "circled-one", "5000-digits"])
def test_a_score_that_str_isdigit_accepts_but_int_cannot_read_shows_the_scale(raw: str) -> None:
    """BUG: parse_score trusts ``str.isdigit()``, which is true for "²", "①" and for digit strings
    longer than int()'s 4300-digit limit; ``int()`` then raises ValueError (a 500, not the scale)."""
    bed = Bed()
    iid, mail = bed.send()

    page, _ = record_score(bed.deps, answer_token(mail), raw)

    assert page is Page.CHOOSE
    assert bed.inv(iid).score is None


def _switch_type(bed: Bed, survey_type: SurveyType) -> None:
    current = bed.programmes.get(SHOP)
    assert current is not None
    bed.programmes.put(SHOP, current.model_copy(update={"survey_type": survey_type}))


def test_an_answer_is_read_on_the_scale_of_the_invitations_survey_type() -> None:
    """BUG: parse_score and the answer page use the current programme's type, not the invitation's:
    an NPS e-mail answered after the shop switched to CSAT has its 9 refused (CHOOSE, with a 1-5 scale)."""
    bed = Bed()
    iid, mail = bed.send()  # NPS, 0-10
    _switch_type(bed, SurveyType.CSAT)

    page, view = record_score(bed.deps, answer_token(mail), "9")

    assert page is Page.ANSWER and bed.inv(iid).score == 9
    assert view.survey_type is SurveyType.NPS and [s.score for s in view.scale] == list(range(11))


def test_a_score_off_the_invitations_scale_never_reaches_the_report() -> None:
    """BUG (same cause): a CSAT invitation answered 9 on the NPS scale of the new programme is stored and
    published as CSAT 9, and the shop's report then fails (csat() refuses a score above 5)."""
    bed = Bed(survey_type=SurveyType.CSAT)
    iid, mail = bed.send()  # CSAT, 1-5
    _switch_type(bed, SurveyType.NPS)

    record_score(bed.deps, answer_token(mail), "9")

    survey_report(SHOP, bed.surveys.invitations(SHOP), T0 - DAY, T0 + DAY)  # must not raise
    inv = bed.inv(iid)
    assert inv.survey_type is SurveyType.CSAT
    assert inv.score is None or 1 <= inv.score <= 5


# --- tokens ------------------------------------------------------------------------------------------------


def _tampered(token: str) -> str:
    body, _, mac = token.partition(".")
    flipped = "A" if mac[0] != "A" else "B"
    return f"{body}.{flipped}{mac[1:]}"


def _bad_tokens(bed: Bed) -> dict[str, str]:
    iid, mail = bed.send()
    planned = bed.plant(2, email="other@example.com")
    bed.surveys.write(planned.model_copy(update={"due_at": None, "version": 2}), 1)  # never sent
    expires = T0 + 30 * DAY
    good = answer_token(mail)
    return {
        "tampered": _tampered(good),
        "truncated": good[:-3],
        "other key": tokens.issue(b"x" * 32, tokens.Purpose.ANSWER, SHOP, iid, expires),
        "expired": tokens.issue(KEY, tokens.Purpose.ANSWER, SHOP, iid, T0 + timedelta(minutes=1)),
        "unsubscribe token on /r": unsubscribe_token(mail),
        "unknown invitation": tokens.issue(KEY, tokens.Purpose.ANSWER, SHOP, "z" * 26, expires),
        "other shop": tokens.issue(KEY, tokens.Purpose.ANSWER, "other-shop", iid, expires),
        "never sent": tokens.issue(KEY, tokens.Purpose.ANSWER, SHOP, planned.invite_id, expires),
        "garbage": "not-a-token",
    }


def test_every_bad_answer_token_shows_the_same_not_found_page_and_changes_nothing() -> None:
    bed = Bed()
    bad = _bad_tokens(bed)
    bed.clock.advance(timedelta(minutes=1))  # the "expired" token expires now
    before = bed.records.dump(SHOP)

    results = {name: record_score(bed.deps, token, "9") for name, token in bad.items()}
    results |= {f"{n} (comment)": record_comment(bed.deps, t, {"comment": "hi"}) for n, t in bad.items()}

    assert all(r == (Page.NOT_FOUND, PageView()) for r in results.values()), results
    assert {r[1].model_dump_json() for r in results.values()} == {PageView().model_dump_json()}
    assert bed.records.dump(SHOP) == before and bed.publisher.events == []


def test_a_score_link_works_until_answer_days_after_the_send() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)

    bed.clock.now = T0 + 30 * DAY
    assert record_score(bed.deps, token, "8") == NOT_FOUND
    bed.clock.now = T0 + 30 * DAY - timedelta(seconds=1)
    assert record_score(bed.deps, token, "8")[0] is Page.ANSWER
    assert bed.inv(iid).score == 8


# --- comments ----------------------------------------------------------------------------------------------


def test_the_comment_is_trimmed_stripped_of_control_characters_and_capped() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "6")

    page, view = record_comment(
        bed.deps, token, {"comment": "  \tToo\x00 slow\x07,\r\nsorry\x1b[31m!\x7f \n "}
    )

    assert page is Page.COMMENTED
    assert bed.inv(iid).comment == "Too slow,\nsorry[31m!" == view.comment
    assert bed.inv(iid).revision == 2


def test_a_long_comment_is_capped() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "6")

    record_comment(bed.deps, token, {"comment": "  " + "é" * (MAX_COMMENT_CHARS + 50)})

    assert bed.inv(iid).comment == "é" * MAX_COMMENT_CHARS


def test_c1_control_characters_are_removed_from_comments() -> None:
    """BUG: the pattern only covers C0 controls and DEL; C1 controls (U+0080-U+009F, e.g. U+009B, the
    8-bit CSI of terminal escapes, and U+0085) pass into the stored comment and the published event."""
    assert clean_text("ok\x9b31mred\x85done") == "ok31mreddone"


def test_a_capped_comment_is_still_trimmed() -> None:
    """BUG: clean_text trims before it caps, so a cut that lands after a space leaves trailing space."""
    text = "a" * (MAX_COMMENT_CHARS - 1) + " b"

    cleaned = clean_text(text)

    assert len(cleaned) <= MAX_COMMENT_CHARS
    assert cleaned == cleaned.strip()


def test_an_empty_comment_locks_the_answer_and_publishes_nothing_new() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "8")
    assert len(bed.publisher.events) == 1

    page, _ = record_comment(bed.deps, token, {"comment": "  \n\x00 "})

    assert page is Page.COMMENTED
    inv = bed.inv(iid)
    assert inv.comment == "" and inv.revision == 1 and inv.published_revision == 1
    assert len(bed.publisher.events) == 1
    page, view = record_score(bed.deps, token, "2")
    assert page is Page.COMMENTED and view.already_complete and bed.inv(iid).score == 8


def test_a_comment_before_any_score_shows_the_scale() -> None:
    bed = Bed()
    iid, mail = bed.send()

    page, _ = record_comment(bed.deps, answer_token(mail), {"comment": "hello"})

    assert page is Page.CHOOSE
    assert bed.inv(iid).comment is None and bed.publisher.events == []


def test_the_follow_up_is_ignored_without_a_follow_up_question() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "7")

    page, view = record_comment(bed.deps, token, {"comment": "fine", "follow_up": "free shipping"})

    assert page is Page.COMMENTED and view.follow_up_question is None and view.follow_up_answer is None
    assert bed.inv(iid).follow_up_answer is None
    assert responses(bed)[-1]["follow_up_answer"] is None


def test_the_follow_up_is_stored_and_published_with_its_question() -> None:
    bed = Bed(follow_up_question=FOLLOW_UP)
    iid, mail = bed.send()
    token = answer_token(mail)
    record_score(bed.deps, token, "7")

    page, view = record_comment(bed.deps, token, {"comment": "", "follow_up": "  free shipping\x00 "})

    assert page is Page.COMMENTED and view.follow_up_answer == "free shipping"
    inv = bed.inv(iid)
    assert inv.follow_up_answer == "free shipping" and inv.comment == "" and inv.revision == 2
    last = responses(bed)[-1]
    assert last["follow_up_question"] == FOLLOW_UP and last["follow_up_answer"] == "free shipping"
    assert last["revision"] == 2


# --- publishing ---------------------------------------------------------------------------------------------


def test_a_failed_publish_keeps_the_answer_and_the_sweeper_announces_it_once() -> None:
    bed = Bed()
    iid, mail = bed.send()
    broken = BrokenPublisher()
    bed.publisher = broken

    page, view = record_score(bed.deps, answer_token(mail), "10")

    assert page is Page.ANSWER and view.score == 10 and broken.calls == 1
    inv = bed.inv(iid)
    assert inv.score == 10 and inv.revision == 1 and inv.published_revision == 0

    bus = ListPublisher()
    planning = PlanningDeps(records=bed.records, surveys=bed.surveys, programmes=bed.programmes)
    assert republish_answers(planning, bus, bed.clock()) == 0  # too fresh: the request may still be going
    bed.clock.advance(timedelta(minutes=2))
    assert republish_answers(planning, bus, bed.clock()) == 1

    [event] = bus.of(events.RESPONSE_RECORDED)
    assert event.data["invite_id"] == iid and event.data["revision"] == 1 and event.data["score"] == 10
    assert bed.inv(iid).published_revision == 1
    assert republish_answers(planning, bus, bed.clock() + DAY) == 0
    assert len(bus.events) == 1


# --- unsubscribing ------------------------------------------------------------------------------------------


def test_the_unsubscribe_page_changes_nothing() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = unsubscribe_token(mail)
    before = bed.records.dump(SHOP)

    page, view = confirm_unsubscribe(bed.deps, token)

    assert page is Page.UNSUBSCRIBE
    assert view.form_action == f"{PUBLIC}/u/{token}" and view.brand_name == "Acme"
    assert bed.records.dump(SHOP) == before
    assert bed.surveys.suppressions(SHOP) == [] and bed.inv(iid).due_at is not None


def test_the_one_click_post_unsubscribes_once() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = unsubscribe_token(mail)
    bed.clock.advance(DAY)

    page, view = unsubscribe(bed.deps, token)

    assert page is Page.UNSUBSCRIBED and view.brand_name == "Acme"
    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed is Reason.UNSUBSCRIBED
    assert contact.suppressed_at == T0 + DAY
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is Reason.UNSUBSCRIBED and entry.invite_id == iid
    assert entry.email_masked == "j***@example.com"
    assert bed.inv(iid).due_at is None  # the reminder is dropped
    [told] = bed.publisher.of(events.CONTACT_SUPPRESSED)  # the notifier's replies stop too
    assert told.data == {"email_hash": events.email_digest(JANE), "reason": "unsubscribed"}

    bed.clock.advance(timedelta(minutes=5))
    assert unsubscribe(bed.deps, token)[0] is Page.UNSUBSCRIBED
    assert len(bed.surveys.suppressions(SHOP)) == 1
    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed_at == T0 + DAY

    bed.clock.advance(3 * DAY)
    bed.dispatch("run-late")
    assert len(bed.mailer.sent) == 1  # no reminder


def test_an_unsubscribe_for_an_erased_invitation_still_answers_unsubscribed() -> None:
    bed = Bed()
    iid, mail = bed.send()
    token = unsubscribe_token(mail)
    bed.records.delete(SHOP, [invitation_sk(iid)])

    assert confirm_unsubscribe(bed.deps, token)[0] is Page.UNSUBSCRIBE
    assert unsubscribe(bed.deps, token)[0] is Page.UNSUBSCRIBED
    assert bed.surveys.suppressions(SHOP) == []


def test_bad_unsubscribe_tokens_are_not_found() -> None:
    bed = Bed()
    _, mail = bed.send()
    token = unsubscribe_token(mail)
    before = bed.records.dump(SHOP)

    for bad in (_tampered(token), token[:-2], answer_token(mail), ""):
        assert confirm_unsubscribe(bed.deps, bad) == NOT_FOUND
        assert unsubscribe(bed.deps, bad) == NOT_FOUND
    assert bed.records.dump(SHOP) == before


def test_an_unsubscribe_link_outlives_the_score_links() -> None:
    bed = Bed()
    iid, mail = bed.send()
    bed.clock.advance(200 * DAY)

    assert record_score(bed.deps, answer_token(mail), "5") == NOT_FOUND
    assert unsubscribe(bed.deps, unsubscribe_token(mail))[0] is Page.UNSUBSCRIBED
    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed is Reason.UNSUBSCRIBED
    assert bed.inv(iid).score is None


def test_after_unsubscribing_a_new_order_of_the_person_is_suppressed() -> None:
    bed = Bed()
    _, mail = bed.send()
    unsubscribe(bed.deps, unsubscribe_token(mail))
    bed.clock.advance(200 * DAY)  # well outside the throttle window

    later = bed.plant(2, email="Jane.Doe@example.com").invite_id
    bed.dispatch("run-later")

    assert len(bed.mailer.sent) == 1
    inv = bed.inv(later)
    assert inv.status is Status.SUPPRESSED and inv.reason is Reason.UNSUBSCRIBED


def test_a_comment_form_past_64_kb_is_cut_not_refused():
    """Decision 24: a long comment is cut, never lost (the form's body was refused past 64 KB)."""
    from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

    from services.feedback.handlers.answers import MAX_FORM_BYTES, _form

    long = "Seams+ripped+" * 6000
    form = _form(APIGatewayProxyEventV2({"body": f"comment={long}", "isBase64Encoded": False}))
    assert form["comment"].startswith("Seams ripped Seams ripped")
    assert len(form["comment"]) <= MAX_FORM_BYTES
    assert clean_text(form["comment"]).startswith("Seams ripped") and len(clean_text(form["comment"])) <= 2000
