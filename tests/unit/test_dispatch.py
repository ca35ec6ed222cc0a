"""The dispatcher: due invitations are claimed, rendered (real templates), sent once, and recorded;
throttling, suppression, retries, leases and concurrent runs, all over the in-memory fakes."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.feedback.domain.orders.normalise import email_key, order_sk
from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.answers import AnswerDeps, record_score
from services.feedback.domain.surveys.dispatch import DispatchDeps, Dispatcher, DispatchReport, Links
from services.feedback.domain.surveys.invitations import Invitation, Reason, Stage, Status, invite_id
from services.feedback.domain.surveys.programme import (
    SCALES,
    Brand,
    QuietHours,
    Rules,
    SurveyProgramme,
    SurveyType,
)
from services.feedback.domain.surveys.views import Page
from services.feedback.rendering import render_email
from shared import links as tokens
from shared.mail.message import MailDeferred, MailRejected, OutgoingEmail
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
T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # a Monday, midday UTC
KEY = bytes(range(32))
PUBLIC = "https://fb.example"
BRAND = Brand(name="Acme", sender="surveys@acme.example", reply_to="help@acme.example")
JANE = "jane.doe@example.com"
NO_QUIET = Rules(quiet_hours=None)
DAY = timedelta(days=1)


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Crash(RuntimeError):
    """The dispatcher's process dies (not a mail error: nothing catches it)."""


class CrashingMailer(SinkMailer):
    """Hands the message over, then the process dies before the send is recorded."""

    def send(self, email: OutgoingEmail) -> str:
        super().send(email)
        raise Crash("killed after the send")


class Bed:
    """The fakes, a fixed clock and one shop with a programme (no quiet hours unless asked)."""

    def __init__(self, rules: Rules = NO_QUIET, **programme: object) -> None:
        self.clock = Clock()
        self.records = InMemoryFeedbackStore()
        self.surveys = InMemorySurveyStore(self.records)
        self.programmes = InMemoryProgrammes()
        self.programmes.put(SHOP, SurveyProgramme(brand=BRAND, rules=rules, **programme))  # type: ignore[arg-type]
        self.mailer = SinkMailer()
        self.links = Links(PUBLIC, [KEY])
        self.publisher = ListPublisher()

    def deps(self, **overrides: object) -> DispatchDeps:
        values: dict[str, object] = {
            "surveys": self.surveys,
            "programmes": self.programmes,
            "mailer": self.mailer,
            "render": render_email,
            "links": self.links,
            "clock": self.clock,
        }
        values.update(overrides)
        return DispatchDeps(**values)  # type: ignore[arg-type]

    def plant(self, n: int, email: str | None = JANE, due: datetime | None = None) -> Invitation:
        """A PLANNED invitation for order ``n``, due at ``due`` (now by default), as planning stores it."""
        sk = order_sk(Platform.SHOPIFY, n)
        inv = Invitation(
            shop_id=SHOP,
            invite_id=invite_id(SHOP, sk),
            order_sk=sk,
            order_name=f"#{1000 + n}",
            email=email,
            first_name="Jane",
            customer_key=f"shopify:{n}",
            contact_key=email_key(email) if email else None,
            survey_type=SurveyType.NPS,
            status=Status.PLANNED,
            planned_at=self.clock(),
            due_at=due or self.clock(),
            version=1,
        )
        assert self.surveys.write(inv, None) is Written.OK
        return inv

    def run(self, run_id: str = "run-1", **overrides: object) -> DispatchReport:
        return Dispatcher(self.deps(**overrides), run_id).run()

    def inv(self, iid: str) -> Invitation:
        found = self.surveys.invitation(SHOP, iid)
        assert found is not None
        return found

    def due(self) -> list[Invitation]:
        return list(self.surveys.due(self.clock(), 1000))

    def invites_sent(self) -> list[OutgoingEmail]:
        return [m for m in self.mailer.sent if ".invite@" in m.message_id]

    def answers(self) -> AnswerDeps:
        return AnswerDeps(self.surveys, self.programmes, self.publisher, self.links, self.clock)


def unsubscribe_token(mail: OutgoingEmail) -> str:
    found = re.fullmatch(r"<(https?://[^<>\s]+)/u/([^<>/\s]+)>", mail.headers["List-Unsubscribe"])
    assert found, mail.headers["List-Unsubscribe"]
    assert found[1] == PUBLIC
    return found[2]


def score_urls(part: str) -> dict[int, str]:
    return {int(m[1]): m[0] for m in re.finditer(r"https://fb\.example/r/[A-Za-z0-9_.-]+\?score=(\d+)", part)}


# --- the first e-mail and its reminder ----------------------------------------------------------------


def test_a_due_invitation_is_sent_once_then_reminded_once() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id

    report = bed.run()

    assert (report.sent, report.reminders, report.lost) == (1, 0, 0)
    [mail] = bed.mailer.sent
    assert mail.to == JANE
    assert "Acme" in mail.sender and "<surveys@acme.example>" in mail.sender
    assert mail.reply_to == "help@acme.example"
    assert mail.message_id == f"<{iid}.invite@acme.example>"
    assert mail.tags["shop"] == SHOP and mail.tags["invite"] == iid
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    claims = tokens.read([KEY], unsubscribe_token(mail), tokens.Purpose.UNSUBSCRIBE, T0)
    assert claims is not None and (claims.shop_id, claims.invite_id) == (SHOP, iid)
    # Both parts carry the whole scale (0-10) as signed answer links for this invitation.
    for part in (mail.text, mail.html.replace("&amp;", "&")):
        urls = score_urls(part)
        assert sorted(urls) == list(range(11))
        for score, url in urls.items():
            token = urlsplit(url).path.rsplit("/", 1)[1]
            answer = tokens.read([KEY], token, tokens.Purpose.ANSWER, T0)
            assert answer is not None and answer.invite_id == iid
            assert parse_qs(urlsplit(url).query)["score"] == [str(score)]
    assert "#1001" in mail.subject

    sent = bed.inv(iid)
    assert sent.status is Status.SENT and sent.sent_at == T0
    assert sent.stage is Stage.REMINDER and sent.due_at == T0 + 3 * DAY
    assert sent.claim is None and sent.message_id == mail.message_id

    assert bed.run("run-2").sent == 0  # the same moment: nothing is due
    bed.clock.advance(3 * DAY - timedelta(seconds=1))
    assert bed.run("run-3").as_dict()["reminders"] == 0
    assert len(bed.mailer.sent) == 1

    bed.clock.advance(timedelta(seconds=1))
    report = bed.run("run-4")

    assert (report.sent, report.reminders) == (0, 1)
    reminder = bed.mailer.sent[-1]
    assert len(bed.mailer.sent) == 2
    assert reminder.subject != mail.subject
    assert reminder.message_id == f"<{iid}.reminder@acme.example>"
    assert reminder.tags["stage"] == "reminder"
    after = bed.inv(iid)
    assert after.stage is Stage.REMINDER and after.reminded_at == T0 + 3 * DAY
    assert after.status is Status.SENT and after.sent_at == T0 and after.due_at is None
    bed.clock.advance(60 * DAY)
    assert bed.due() == []
    assert bed.run("run-5").reminders == 0 and len(bed.mailer.sent) == 2


def test_no_reminder_is_planned_when_the_programme_has_none() -> None:
    bed = Bed(Rules(quiet_hours=None, reminder_after_days=None))
    iid = bed.plant(1).invite_id

    bed.run()

    sent = bed.inv(iid)
    assert sent.status is Status.SENT and sent.due_at is None and sent.stage is Stage.INVITE
    bed.clock.advance(40 * DAY)
    assert bed.due() == []
    assert bed.run("run-2").reminders == 0 and len(bed.mailer.sent) == 1


def test_the_reminder_waits_for_the_end_of_the_quiet_hours() -> None:
    bed = Bed(Rules(quiet_hours=QuietHours(start=time(21), end=time(8)), reminder_after_days=2))
    bed.clock.now = T0.replace(hour=22, minute=30)
    iid = bed.plant(1).invite_id

    bed.run()

    assert bed.inv(iid).due_at == datetime(2026, 5, 7, 8, 0, tzinfo=UTC)


def test_an_answered_invitation_gets_no_reminder() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.run()
    [mail] = bed.mailer.sent
    bed.clock.advance(DAY)

    page, _ = record_score(bed.answers(), urlsplit(score_urls(mail.text)[9]).path.rsplit("/", 1)[1], "9")

    assert page is Page.ANSWER
    assert bed.inv(iid).due_at is None
    bed.clock.advance(10 * DAY)
    assert bed.run("run-2").reminders == 0
    assert len(bed.mailer.sent) == 1


def test_an_answer_after_the_due_list_was_read_still_stops_the_reminder() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.run()
    [mail] = bed.mailer.sent
    bed.clock.advance(3 * DAY)
    [stale] = bed.due()  # the reminder, read before the customer clicks

    record_score(bed.answers(), urlsplit(score_urls(mail.text)[4]).path.rsplit("/", 1)[1], "4")
    dispatcher = Dispatcher(bed.deps(), "run-2")
    dispatcher.one(stale)

    assert len(bed.mailer.sent) == 1
    assert dispatcher.report.lost == 1 and dispatcher.report.reminders == 0
    assert bed.inv(iid).due_at is None


def test_an_answer_given_while_a_reminder_was_claimed_cancels_it_when_it_comes_back() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.run()
    [mail] = bed.mailer.sent
    bed.clock.advance(3 * DAY)
    with pytest.raises(Crash):
        bed.run("run-crash", mailer=CrashingMailer())  # the claim stays, the send is never recorded
    assert bed.inv(iid).claim == "run-crash"

    record_score(bed.answers(), urlsplit(score_urls(mail.text)[10]).path.rsplit("/", 1)[1], "10")
    bed.clock.advance(timedelta(minutes=11))
    report = bed.run("run-2")

    assert report.reminders == 0 and len(bed.mailer.sent) == 1
    after = bed.inv(iid)
    assert after.due_at is None and after.score == 10 and after.reminded_at is None


# --- throttling


def test_two_orders_of_one_address_on_one_day_send_one_survey() -> None:
    bed = Bed(Rules(quiet_hours=None, throttle_days=90, reminder_after_days=None))
    first = bed.plant(1).invite_id
    second = bed.plant(2, email="Jane.Doe@Example.com", due=T0 + timedelta(hours=5)).invite_id
    bed.clock.advance(timedelta(hours=6))

    report = bed.run()

    assert report.sent == 1 and report.suppressed == {"throttled": 1}
    [mail] = bed.mailer.sent
    statuses = {bed.inv(first).status, bed.inv(second).status}
    assert statuses == {Status.SENT, Status.SUPPRESSED}
    loser = first if bed.inv(first).status is Status.SUPPRESSED else second
    assert mail.tags["invite"] != loser
    assert bed.inv(loser).reason is Reason.THROTTLED and bed.inv(loser).due_at is None
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is Reason.THROTTLED and entry.invite_id == loser
    assert entry.email_masked in ("j***@example.com", "J***@Example.com")
    assert "jane" not in entry.model_dump_json().lower()

    # The window runs from the send. Just inside it: still throttled; just after it: surveyed again.
    winner = first if loser == second else second
    sent_at = bed.inv(winner).sent_at
    assert sent_at == T0 + timedelta(hours=6)
    bed.clock.now = sent_at + 90 * DAY - timedelta(seconds=1)
    inside = bed.plant(3).invite_id
    bed.run("run-2")
    assert bed.inv(inside).reason is Reason.THROTTLED
    bed.clock.now = sent_at + 90 * DAY + timedelta(seconds=1)
    third = bed.plant(4).invite_id
    assert bed.run("run-3").sent == 1
    assert bed.inv(third).status is Status.SENT
    assert len(bed.invites_sent()) == 2


class Flaky(SinkMailer):
    """Fails some sends as drawn (defer, reject), records when each message was received."""

    def __init__(self, clock: Clock, outcomes: list[str]) -> None:
        super().__init__()
        self._clock = clock
        self._outcomes = list(outcomes)
        self.received: list[tuple[str, datetime, str]] = []

    def send(self, email: OutgoingEmail) -> str:
        outcome = self._outcomes.pop(0) if self._outcomes else "ok"
        if outcome == "defer":
            raise MailDeferred("421 try later")
        if outcome == "reject":
            raise MailRejected("550 no such user")
        self.received.append((email.to.lower(), self._clock(), email.message_id))
        return super().send(email)


orders = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 20 * 24 * 60)),  # (address, due offset in minutes)
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    throttle_days=st.integers(0, 6),
    planned=orders,
    outcomes=st.lists(st.sampled_from(["ok", "ok", "defer", "reject"]), max_size=30),
    jitter=st.lists(st.integers(0, 600), min_size=1, max_size=10),
)
def test_no_address_receives_two_first_emails_within_the_throttle_window(
    throttle_days: int, planned: list[tuple[int, int]], outcomes: list[str], jitter: list[int]
) -> None:
    bed = Bed(Rules(quiet_hours=None, throttle_days=throttle_days, reminder_after_days=1))
    mailer = Flaky(bed.clock, outcomes)
    addresses = [f"person{i}@example.com" for i in range(3)]
    for n, (who, minutes) in enumerate(planned):
        bed.plant(n, email=addresses[who], due=T0 + timedelta(minutes=minutes))
    # Event-driven: wake at the next due time (plus a drawn delay) and run a dispatcher.
    for step in range(400):
        dues = [i.due_at for i in bed.surveys.invitations(SHOP) if i.due_at is not None]
        if not dues:
            break
        bed.clock.now = max(bed.clock.now, min(dues)) + timedelta(seconds=jitter[step % len(jitter)])
        bed.run(f"run-{step}", mailer=mailer)
    else:
        pytest.fail("invitations kept coming due")

    firsts: dict[str, list[datetime]] = {}
    for to, at, message_id in mailer.received:
        if ".invite@" in message_id:
            firsts.setdefault(to, []).append(at)
    for to, times in firsts.items():
        times.sort()
        for earlier, later in itertools.pairwise(times):
            assert later - earlier >= throttle_days * DAY, (to, earlier, later)
    invite_ids = [m for _, _, m in mailer.received if ".invite@" in m]
    assert len(invite_ids) == len(set(invite_ids))  # no invitation was sent twice
    # Every invitation ended somewhere final.
    final = {Status.SENT, Status.SUPPRESSED, Status.FAILED}
    assert all(i.status in final for i in bed.surveys.invitations(SHOP))


# --- suppressed contacts and disabled programmes


@pytest.mark.parametrize("reason", [Reason.UNSUBSCRIBED, Reason.BOUNCED, Reason.COMPLAINED])
def test_a_suppressed_address_is_not_mailed(reason: Reason) -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.surveys.suppress_contact(SHOP, email_key(JANE), reason, T0 - DAY, None)

    report = bed.run()

    assert bed.mailer.sent == []
    assert report.sent == 0 and report.suppressed == {reason.value: 1}
    inv = bed.inv(iid)
    assert inv.status is Status.SUPPRESSED and inv.reason is reason and inv.due_at is None
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is reason and entry.invite_id == iid and entry.email_masked == "j***@example.com"


@pytest.mark.parametrize("reason", [Reason.UNSUBSCRIBED, Reason.BOUNCED, Reason.COMPLAINED])
def test_a_reminder_to_an_address_suppressed_since_is_dropped_and_logged(reason: Reason) -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.run()
    bed.surveys.suppress_contact(SHOP, email_key(JANE), reason, T0 + DAY, None)
    bed.clock.advance(3 * DAY)

    report = bed.run("run-2")

    assert len(bed.mailer.sent) == 1
    assert report.reminders == 0 and report.suppressed == {reason.value: 1}
    inv = bed.inv(iid)
    assert inv.status is Status.SENT and inv.due_at is None and inv.reminded_at is None
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is reason and entry.detail == "reminder not sent"


@pytest.mark.parametrize("how", ["disabled", "deleted"])
def test_a_programme_switched_off_after_planning_suppresses_the_send(how: str) -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    if how == "disabled":
        current = bed.programmes.get(SHOP)
        assert current is not None
        bed.programmes.put(SHOP, current.model_copy(update={"enabled": False}))
    else:
        bed.programmes.delete(SHOP)

    report = bed.run()

    assert bed.mailer.sent == [] and report.suppressed == {"disabled": 1}
    inv = bed.inv(iid)
    assert inv.status is Status.SUPPRESSED and inv.reason is Reason.DISABLED and inv.due_at is None
    assert [e.reason for e in bed.surveys.suppressions(SHOP)] == [Reason.DISABLED]


def test_the_email_asks_on_the_scale_of_the_invitations_survey_type() -> None:
    """BUG: compose() takes the survey type (question and scale) from the current programme, while the
    invitation keeps the type it was planned with: after a switch NPS -> CSAT the e-mail asks 1-5 and
    the answer is stored and published as an NPS score."""
    bed = Bed()
    iid = bed.plant(1).invite_id  # planned as NPS
    current = bed.programmes.get(SHOP)
    assert current is not None
    bed.programmes.put(SHOP, current.model_copy(update={"survey_type": SurveyType.CSAT}))

    bed.run()

    [mail] = bed.mailer.sent
    low, high = SCALES[bed.inv(iid).survey_type]
    assert sorted(score_urls(mail.text)) == list(range(low, high + 1))


def test_an_invitation_without_an_address_is_suppressed_no_email() -> None:
    bed = Bed()
    iid = bed.plant(1, email=None).invite_id

    bed.run()

    assert bed.mailer.sent == []
    assert (bed.inv(iid).status, bed.inv(iid).reason) == (Status.SUPPRESSED, Reason.NO_EMAIL)


# --- concurrent runs


def test_two_dispatchers_over_the_same_due_list_send_each_invitation_once() -> None:
    bed = Bed()
    iids = [bed.plant(n, email=f"p{n}@example.com").invite_id for n in range(4)]
    due = bed.due()
    assert len(due) == 4
    a, b = Dispatcher(bed.deps(), "run-a"), Dispatcher(bed.deps(), "run-b")

    for i, inv in enumerate(due):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        first.one(inv)
        second.one(inv)

    sent_to = sorted(m.tags["invite"] for m in bed.mailer.sent)
    assert sent_to == sorted(iids)
    assert (a.report.sent, b.report.sent) == (2, 2)
    assert (a.report.lost, b.report.lost) == (2, 2)
    assert all(bed.inv(i).status is Status.SENT and bed.inv(i).claim is None for i in iids)


def test_a_dispatcher_holding_a_stale_copy_loses_to_the_one_that_sent() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    [inv] = bed.due()
    a, b = Dispatcher(bed.deps(), "run-a"), Dispatcher(bed.deps(), "run-b")

    a.one(inv)
    b.one(inv)
    b.one(inv)

    assert len(bed.mailer.sent) == 1
    assert b.report.lost == 2 and b.report.sent == 0
    assert bed.inv(iid).status is Status.SENT


# --- provider failures


def test_a_deferred_send_is_retried_with_growing_backoff() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.mailer.failures = [MailDeferred("421 slow down"), MailDeferred("421 slow down")]

    report = bed.run()

    assert bed.mailer.sent == [] and report.deferred == 1 and report.sent == 0
    inv = bed.inv(iid)
    assert inv.status is Status.PLANNED and inv.attempts == 1 and inv.claim is None
    assert inv.due_at == T0 + timedelta(minutes=1) and inv.last_error == "421 slow down"

    bed.clock.advance(timedelta(seconds=59))
    assert bed.run("run-2").deferred == 0  # not yet due
    bed.clock.advance(timedelta(seconds=1))
    assert bed.run("run-3").deferred == 1
    inv = bed.inv(iid)
    assert inv.attempts == 2 and inv.due_at == bed.clock() + timedelta(minutes=2)

    bed.clock.advance(timedelta(minutes=2))
    assert bed.run("run-4").sent == 1
    inv = bed.inv(iid)
    assert inv.status is Status.SENT and inv.attempts == 0 and inv.last_error is None
    assert inv.sent_at == T0 + timedelta(minutes=3)


@pytest.mark.parametrize(
    ("retry_after", "wait"), [(600.0, timedelta(minutes=10)), (5.0, timedelta(minutes=1))]
)
def test_a_longer_retry_after_wins_over_the_backoff(retry_after: float, wait: timedelta) -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.mailer.failures = [MailDeferred("throttled", retry_after_s=retry_after)]

    bed.run()

    assert bed.inv(iid).due_at == T0 + wait


def test_after_max_attempts_deferrals_the_send_fails_and_releases_the_throttle() -> None:
    bed = Bed(Rules(quiet_hours=None, throttle_days=90))
    iid = bed.plant(1).invite_id
    bed.mailer.failures = [MailDeferred(f"421 attempt {k}") for k in range(1, 4)]
    deps = {"max_attempts": 3}

    bed.run("run-1", **deps)
    # While the first order is being retried, a second order of the same person is throttled.
    during = bed.plant(2, due=bed.clock()).invite_id
    bed.clock.advance(timedelta(minutes=1))
    bed.run("run-2", **deps)
    assert bed.inv(during).reason is Reason.THROTTLED
    assert bed.inv(iid).attempts == 2
    bed.clock.advance(timedelta(minutes=2))
    report = bed.run("run-3", **deps)

    assert report.failed == 1 and report.deferred == 0 and bed.mailer.sent == []
    inv = bed.inv(iid)
    assert (inv.status, inv.reason, inv.attempts, inv.due_at) == (Status.FAILED, Reason.FAILED, 3, None)
    failed = [e for e in bed.surveys.suppressions(SHOP) if e.invite_id == iid]
    assert [e.reason for e in failed] == [Reason.FAILED] and "attempt 3" in failed[0].detail
    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is None or contact.last_surveyed_at is None

    bed.clock.advance(timedelta(hours=1))
    later = bed.plant(3).invite_id
    assert bed.run("run-4", **deps).sent == 1
    assert bed.inv(later).status is Status.SENT
    bed.clock.advance(30 * DAY)
    bed.run("run-5", **deps)
    assert bed.inv(iid).status is Status.FAILED  # never retried


def test_the_default_max_attempts_is_honoured() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    max_attempts = bed.deps().max_attempts
    bed.mailer.failures = [MailDeferred("421") for _ in range(max_attempts)]

    for k in range(max_attempts):
        inv = bed.inv(iid)
        assert inv.due_at is not None, k
        bed.clock.now = inv.due_at
        bed.run(f"run-{k}")

    inv = bed.inv(iid)
    assert inv.status is Status.FAILED and inv.attempts == max_attempts and inv.due_at is None


def test_a_rejected_send_fails_at_once_and_is_never_retried() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    bed.mailer.failures = [MailRejected("550 5.1.1 unknown user")]

    report = bed.run()

    assert report.failed == 1 and report.deferred == 0
    inv = bed.inv(iid)
    assert (inv.status, inv.reason, inv.attempts, inv.due_at) == (Status.FAILED, Reason.FAILED, 1, None)
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is Reason.FAILED and "unknown user" in entry.detail
    bed.clock.advance(10 * DAY)
    assert bed.due() == []
    assert bed.run("run-2").sent == 0 and bed.mailer.sent == []


# --- crashes


def test_a_crashed_dispatchers_claim_expires_and_another_run_sends_with_the_same_message_id() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    crashing = CrashingMailer()

    with pytest.raises(Crash):
        bed.run("run-dead", mailer=crashing)

    held = bed.inv(iid)
    assert held.status is Status.SENDING and held.claim == "run-dead" and held.sent_at is None
    assert held.due_at == T0 + timedelta(minutes=10)
    bed.clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert bed.run("run-2").sent == 0 and bed.mailer.sent == []

    bed.clock.advance(timedelta(seconds=1))
    assert bed.run("run-3").sent == 1

    [copy] = bed.mailer.sent
    assert copy.message_id == crashing.sent[0].message_id == f"<{iid}.invite@acme.example>"
    after = bed.inv(iid)
    assert after.status is Status.SENT and after.claim is None and after.sent_at == bed.clock()
    assert after.stage is Stage.REMINDER


def test_an_answer_to_a_crashed_send_means_no_reminder_after_the_resend() -> None:
    bed = Bed()
    iid = bed.plant(1).invite_id
    crashing = CrashingMailer()
    with pytest.raises(Crash):
        bed.run("run-dead", mailer=crashing)
    [delivered] = crashing.sent
    token = urlsplit(score_urls(delivered.text)[8]).path.rsplit("/", 1)[1]

    assert record_score(bed.answers(), token, "8")[0] is Page.ANSWER  # SENDING is answerable
    bed.clock.advance(timedelta(minutes=10))
    assert bed.run("run-2").sent == 1

    after = bed.inv(iid)
    assert after.status is Status.SENT and after.score == 8
    assert after.due_at is None and after.stage is Stage.INVITE
    bed.clock.advance(30 * DAY)
    assert bed.run("run-3").reminders == 0


# --- the mailer's connections


def test_the_mailer_is_closed_at_the_end_of_a_run() -> None:
    bed = Bed()
    bed.run()
    assert bed.mailer.closed == 1  # nothing due

    bed.plant(1)
    bed.plant(2, email="other@example.com")
    bed.run("run-2")
    assert bed.mailer.closed == 2 and len(bed.mailer.sent) == 2


def test_the_mailer_is_closed_when_a_run_fails() -> None:
    bed = Bed()
    bed.plant(1)

    def broken(view: object) -> object:
        raise KeyError("template missing")

    with pytest.raises(KeyError):
        bed.run(render=broken)
    assert bed.mailer.closed == 1


def test_a_run_announces_its_first_sends_per_shop_and_survey_type_not_its_reminders() -> None:
    from services.feedback.domain.surveys.dispatch import announce_sent
    from shared import events
    from tests.fakes import ListPublisher

    bed = Bed()
    bed.plant(1)
    bed.plant(2, email="second@example.com")
    report = bed.run()
    publisher = ListPublisher()
    assert announce_sent(publisher, report, "run-1", T0) == 1
    [sent] = publisher.of(events.SURVEYS_SENT)
    assert (sent.shop_id, sent.data) == (
        SHOP,
        {"run_id": "run-1", "day": T0.date().isoformat(), "counts": {"nps": 2}},
    )
    assert announce_sent(publisher, DispatchReport(reminders=3), "run-2", T0) == 0
