"""One survey-store contract, three stores: the in-memory fake the unit tier uses, DynamoSurveyStore on
moto in-process, and DynamoSurveyStore on the local stack's patched moto server. The same story runs on
each; what each store answers is compared step by step, and the story's answers are checked against
what the contract says, so the stores cannot agree on something wrong."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.feedback.adapters.dynamo_surveys import PAGE, DynamoSurveyStore, shard
from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.changes import bump, log_entry
from services.feedback.domain.surveys.invitations import (
    ContactGuard,
    GuardMode,
    Invitation,
    Reason,
    Stage,
    Status,
)
from services.feedback.domain.surveys.programme import SurveyType
from tests.fakes import InMemoryFeedbackStore, InMemorySurveyStore
from tests.integration.conftest import Moto, feedback_table_at

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=200)  # the "now" of the due() part of the story
SHOP = "contract-shop"
DUE_SHOPS = ("due-shop-1", "due-shop-2", "due-shop-3")
WINDOW = timedelta(days=90)
BIG_SHARD = 5  # one shard gets more due invitations than a page holds
MINUTE = timedelta(minutes=1)
STARTS = (0, BIG_SHARD, 123_456_789)  # where due() begins: spread dispatchers read shards in other orders


# --- the stores ---------------------------------------------------------------------------------------


def _dynamo_at(endpoint: str | None, prefix: str) -> DynamoSurveyStore:
    return DynamoSurveyStore(*feedback_table_at(endpoint, prefix))


@pytest.fixture
def dynamo(aws: Moto) -> DynamoSurveyStore:
    return _dynamo_at(None, "surveycontract")


@pytest.fixture(scope="module")
def on_moto(moto_world: Moto) -> Story:
    """The story told once to DynamoSurveyStore on moto in-process (its due() queries are slow in moto)."""
    moto_world.reset()
    return story(_dynamo_at(None, "surveyreference"))


def _fake() -> InMemorySurveyStore:
    return InMemorySurveyStore(InMemoryFeedbackStore())


# --- builders -----------------------------------------------------------------------------------------


def _inv(invite_id: str, contact: str = "alice", shop: str = SHOP, **changes: Any) -> Invitation:
    fields: dict[str, Any] = {
        "shop_id": shop,
        "invite_id": invite_id,
        "order_sk": f"ORDER#shopify#{invite_id}",
        "order_name": f"#{invite_id}",
        "email": f"{contact}@example.org",
        "first_name": contact.title(),
        "contact_key": f"email:{contact}",
        "survey_type": SurveyType.NPS,
        "status": Status.PLANNED,
        "due_at": T0,
        "planned_at": T0 - timedelta(days=3),
        "version": 1,
    }
    fields.update(changes)
    return Invitation(**fields)


def _survey(inv: Invitation, at: datetime, since: datetime | None = None) -> ContactGuard:
    return ContactGuard(
        key=str(inv.contact_key),
        mode=GuardMode.SURVEY,
        invite_id=inv.invite_id,
        at=at,
        since=at - WINDOW if since is None else since,
    )


def _guard(inv: Invitation, mode: GuardMode, at: datetime) -> ContactGuard:
    return ContactGuard(key=str(inv.contact_key), mode=mode, invite_id=inv.invite_id, at=at)


def _claim(inv: Invitation, run: str, at: datetime) -> Invitation:
    return bump(inv, status=Status.SENDING, claim=run, due_at=at + 10 * MINUTE)


def _plain(value: Any) -> Any:
    if isinstance(value, Written):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _due_ids(store: Any, now: datetime, limit: int, start: int) -> list[str]:
    return [f"{i.shop_id}/{i.invite_id}" for i in store.due(now, limit, start)]


def _ids_in_big_shard(count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        iid = f"big-{n:04d}"
        if shard(iid) == BIG_SHARD:
            found.append(iid)
        n += 1
    return found


# --- the story ----------------------------------------------------------------------------------------


class Story:
    """Runs the steps on one store; each answer is kept under a label, and every invitation the store
    accepted is kept in ``ledger`` (what ``due`` must find, worked out without the store)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.seen: dict[str, Any] = {}
        self.ledger: dict[str, Invitation] = {}

    def note(self, label: str, value: Any) -> Any:
        assert label not in self.seen, label
        self.seen[label] = _plain(value)
        return value

    def write(self, label: str, inv: Invitation, expected: int | None, **kw: Any) -> Written:
        written = self.store.write(inv, expected, **kw)
        if written is Written.OK:
            self.ledger[f"{inv.shop_id}/{inv.invite_id}"] = inv
        return self.note(label, written)

    def contact(self, label: str, who: str, shop: str = SHOP) -> None:
        self.note(label, self.store.contact(shop, f"email:{who}"))


def story(store: Any) -> Story:
    s = Story(store)

    # Create, then writes that must not win.
    a1 = _inv("a1")
    s.write("create", a1, None)
    s.write("create again: expected None but it exists", a1, None)
    s.write("wrong expected version", bump(a1, order_name="#changed"), 7)
    s.write("expected a version of one that does not exist", _inv("ghost", version=2), 1)
    s.note("a1 after the refused writes", store.invitation(SHOP, "a1"))
    s.note("ghost was not created", store.invitation(SHOP, "ghost"))
    s.contact("no contact before any guard", "alice")

    # The SURVEY guard: the first claim passes and marks the person.
    a1_claimed = _claim(a1, "run-1", T0)
    s.write("survey guard, first invitation", a1_claimed, 1, guard=_survey(a1_claimed, T0))
    s.contact("alice surveyed by a1", "alice")

    # A second invitation for the same person within the window is blocked, and nothing of it is written.
    a2 = _inv("a2", due_at=T0 + timedelta(days=30))
    s.write("create a2", a2, None)
    at = T0 + timedelta(days=30)
    s.write("a2 within the window", _claim(a2, "run-2", at), 1, guard=_survey(a2, at))
    s.note("a2 untouched after BLOCKED", store.invitation(SHOP, "a2"))
    s.contact("alice unchanged after BLOCKED", "alice")
    at = T0 + 89 * timedelta(days=1)
    s.write(
        "a2 at the edge (since == last surveyed)", _claim(a2, "run-2", at), 1, guard=_survey(a2, at, since=T0)
    )

    # The same invitation again (a retry after a crash) passes.
    a1_retry = bump(a1_claimed, claim="run-3", due_at=T0 + 20 * MINUTE)
    s.write(
        "retry by a1 within the window",
        a1_retry,
        a1_claimed.version,
        guard=_survey(a1_retry, T0 + 10 * MINUTE),
    )
    s.contact("alice after the retry", "alice")

    # Outside the window the second invitation passes; then a1 is the one within the window of a2.
    at = T0 + 91 * timedelta(days=1)
    a2_claimed = _claim(a2, "run-4", at)
    s.write("a2 outside the window", a2_claimed, 1, guard=_survey(a2_claimed, at))
    s.contact("alice surveyed by a2", "alice")
    at = T0 + 92 * timedelta(days=1)
    s.write(
        "a1 again, now within a2's window",
        bump(a1_retry, claim="run-5"),
        a1_retry.version,
        guard=_survey(a1_retry, at),
    )
    s.note("a1 after that BLOCKED", store.invitation(SHOP, "a1"))

    # REMINDER: only "not suppressed"; it never marks the person, and creates no contact.
    bob_sent = _inv("b1", contact="bob", status=Status.SENT, stage=Stage.REMINDER, sent_at=T0)
    s.write("create b1 (sent, reminder due)", bob_sent, None)
    bounce_at = T0 + timedelta(hours=1)
    store.suppress_contact(
        SHOP, "email:bob", Reason.BOUNCED, bounce_at, log_entry(bob_sent, Reason.BOUNCED, bounce_at)
    )
    s.contact("bob suppressed", "bob")
    at = T0 + timedelta(days=3)
    s.write(
        "reminder guard, suppressed contact",
        bump(bob_sent, claim="run-6"),
        1,
        guard=_guard(bob_sent, GuardMode.REMINDER, at),
    )
    s.write("survey guard, suppressed contact", bump(bob_sent, claim="run-6"), 1, guard=_survey(bob_sent, at))
    s.note("b1 untouched", store.invitation(SHOP, "b1"))
    a1_now = store.invitation(SHOP, "a1")
    s.write(
        "reminder guard, clean contact",
        bump(a1_now, claim="run-7", stage=Stage.REMINDER),
        a1_now.version,
        guard=_guard(a1_now, GuardMode.REMINDER, at),
    )
    s.contact("alice untouched by the reminder guard", "alice")
    carol = _inv("c1", contact="carol", status=Status.SENT, stage=Stage.REMINDER)
    s.write("create c1", carol, None)
    s.write(
        "reminder guard, no contact yet",
        bump(carol, claim="run-8"),
        1,
        guard=_guard(carol, GuardMode.REMINDER, at),
    )
    s.contact("the reminder guard created no contact", "carol")

    # RELEASE: a failed send stops counting, but only if it is the one the person was last surveyed by.
    a1_now = store.invitation(SHOP, "a1")
    a1_failed = bump(a1_now, status=Status.FAILED, reason=Reason.FAILED, claim=None, due_at=None)
    s.write(
        "release by a1 (not the last invite)",
        a1_failed,
        a1_now.version,
        guard=_guard(a1_now, GuardMode.RELEASE, at),
    )
    s.contact("alice still surveyed by a2", "alice")
    a2_now = store.invitation(SHOP, "a2")
    a2_failed = bump(a2_now, status=Status.FAILED, reason=Reason.FAILED, claim=None, due_at=None)
    s.write(
        "release with a wrong version",
        a2_failed,
        a2_now.version + 5,
        guard=_guard(a2_now, GuardMode.RELEASE, at),
    )
    s.contact("a refused release releases nothing", "alice")
    s.write(
        "release by a2 (the last invite)",
        a2_failed,
        a2_now.version,
        guard=_guard(a2_now, GuardMode.RELEASE, at),
    )
    s.contact("alice released", "alice")
    a3 = _inv("a3", due_at=at)
    s.write("create a3", a3, None)
    s.write(
        "after the release alice may be surveyed at once", _claim(a3, "run-9", at), 1, guard=_survey(a3, at)
    )
    s.contact("alice surveyed by a3", "alice")

    # suppress_contact twice: the first reason stands and only one entry is logged.
    erin = _inv("e1", contact="erin", status=Status.SENT, due_at=None)
    s.write("create e1", erin, None)
    first, second = T0 + timedelta(days=4), T0 + timedelta(days=5)
    store.suppress_contact(
        SHOP, "email:erin", Reason.UNSUBSCRIBED, first, log_entry(erin, Reason.UNSUBSCRIBED, first, "first")
    )
    store.suppress_contact(
        SHOP, "email:erin", Reason.COMPLAINED, second, log_entry(erin, Reason.COMPLAINED, second, "second")
    )
    s.contact("erin: the first reason stands", "erin")
    store.suppress_contact(SHOP, "email:frank", Reason.COMPLAINED, second, None)  # no log entry
    s.contact("frank suppressed without a log entry", "frank")

    # Suppression decisions written with invitations (the dispatcher's _settle).
    for n, reason in enumerate((Reason.THROTTLED, Reason.NO_EMAIL, Reason.DISABLED)):
        when = T0 + timedelta(days=6, hours=n)
        settled = _inv(f"s{n}", contact=f"settled{n}", status=Status.SUPPRESSED, reason=reason, due_at=None)
        s.write(f"settle s{n}", settled, None, log=log_entry(settled, reason, when))
    s.note("suppressions, newest first", store.suppressions(SHOP))
    s.note("suppressions, limit 2", store.suppressions(SHOP, limit=2))
    s.note("suppressions, limit 1", store.suppressions(SHOP, limit=1))
    s.note("suppressions of a shop without any", store.suppressions("no-such-shop"))

    # Answers waiting to be announced.
    answered = {"status": Status.SENT, "due_at": None, "score": 9, "revision": 1}
    for iid, hours, published in (("p1", 1, 0), ("p2", 5, 0), ("p3", 2, 1), ("p4", 30, 0)):
        inv = _inv(
            iid,
            contact=iid,
            answered_at=T0 + timedelta(hours=hours),
            published_revision=published,
            **answered,
        )
        s.write(f"create answered {iid}", inv, None)
    s.note("unpublished before T0+3h", store.unpublished(T0 + timedelta(hours=3), 10))
    s.note("unpublished before T0+10h", store.unpublished(T0 + timedelta(hours=10), 10))
    s.note("unpublished before T0+10h, limit 1", store.unpublished(T0 + timedelta(hours=10), 1))
    p1 = store.invitation(SHOP, "p1")
    s.write("announce p1", bump(p1, published_revision=1), p1.version)
    s.note("unpublished after p1 was announced", store.unpublished(T0 + timedelta(hours=10), 10))

    # due(): many shops, all shards, more than a page in one shard, and the ones that are not due.
    for n, iid in enumerate(_ids_in_big_shard(PAGE + 8)):
        s.write(f"due {iid}", _inv(iid, contact=iid, shop=DUE_SHOPS[n % 3], due_at=NOW - n * MINUTE), None)
    for n in range(24):  # spread over the other shards
        iid = f"spread-{n:02d}"
        s.write(
            f"due {iid}", _inv(iid, contact=iid, shop=DUE_SHOPS[n % 3], due_at=NOW - n * 7 * MINUTE), None
        )
    for n in range(6):
        iid = f"later-{n}"
        s.write(
            f"not yet due {iid}",
            _inv(iid, contact=iid, shop=DUE_SHOPS[n % 3], due_at=NOW + (n + 1) * MINUTE),
            None,
        )
        iid = f"undue-{n}"
        s.write(
            f"no due_at {iid}",
            _inv(iid, contact=iid, shop=DUE_SHOPS[n % 3], due_at=None, status=Status.SENT, sent_at=T0),
            None,
        )
    s.write("due exactly now", _inv("edge-now", contact="edge", shop=DUE_SHOPS[0], due_at=NOW), None)
    plus_five = timezone(timedelta(hours=5))
    s.write(
        "due an hour ago, in another zone",
        _inv(
            "zoned",
            contact="zoned",
            shop=DUE_SHOPS[1],
            due_at=(NOW - timedelta(hours=1)).astimezone(plus_five),
        ),
        None,
    )
    s.write(
        "due in an hour, in another zone",
        _inv(
            "zoned-later",
            contact="zl",
            shop=DUE_SHOPS[1],
            due_at=(NOW + timedelta(hours=1)).astimezone(plus_five),
        ),
        None,
    )
    left = _inv("left", contact="left", shop=DUE_SHOPS[2], due_at=NOW - timedelta(days=1))
    s.write("create a due one", left, None)
    s.write("no longer due (rewritten without due_at)", bump(left, due_at=None, status=Status.SENT), 1)

    for start in STARTS:
        due = _due_ids(store, NOW, 10_000, start)
        s.note(f"due(NOW), start {start}", sorted(due))
        s.note(f"due(NOW), start {start}, distinct", len(set(due)))
    s.note("due(T0 - 1 day)", _due_ids(store, T0 - timedelta(days=1), 10_000, 0))
    s.note("count of due(NOW, limit 27, from the big shard)", len(_due_ids(store, NOW, PAGE + 2, BIG_SHARD)))
    s.note("count of due(NOW, limit 10)", len(_due_ids(store, NOW, 10, 2)))
    s.note("subset: due(NOW, limit 10)", set(_due_ids(store, NOW, 10, 2)) <= set(s.seen["due(NOW), start 0"]))
    s.note("due is lazy and stops at the limit", len(_due_ids(store, NOW, 1, 0)))

    for shop in (SHOP, *DUE_SHOPS):
        s.note(f"invitations of {shop}", store.invitations(shop))
    s.note("invitations of a shop without any", store.invitations("no-such-shop"))
    return s


def _expected_due(s: Story, now: datetime) -> list[str]:
    """Worked out from what the store accepted, not from the store: due at or before ``now``."""
    return sorted(k for k, inv in s.ledger.items() if inv.due_at is not None and inv.due_at <= now)


def _check_the_story(s: Story) -> None:
    """What the contract says each step answers (on one store; the others are compared to it)."""
    seen, ok, conflict, blocked = s.seen, "ok", "conflict", "blocked"
    assert seen["create"] == ok
    assert seen["create again: expected None but it exists"] == conflict
    assert seen["wrong expected version"] == conflict
    assert seen["expected a version of one that does not exist"] == conflict
    assert seen["a1 after the refused writes"] == _plain(_inv("a1"))
    assert seen["ghost was not created"] is None
    assert seen["no contact before any guard"] is None

    assert seen["survey guard, first invitation"] == ok
    alice = seen["alice surveyed by a1"]
    assert (alice["last_invite"], alice["suppressed"]) == ("a1", None)
    assert datetime.fromisoformat(alice["last_surveyed_at"]) == T0
    assert seen["a2 within the window"] == blocked
    assert seen["a2 untouched after BLOCKED"] == _plain(_inv("a2", due_at=T0 + timedelta(days=30)))
    assert seen["alice unchanged after BLOCKED"] == alice
    assert seen["a2 at the edge (since == last surveyed)"] == blocked
    assert seen["retry by a1 within the window"] == ok
    assert seen["alice after the retry"]["last_invite"] == "a1"
    assert seen["a2 outside the window"] == ok
    assert seen["alice surveyed by a2"]["last_invite"] == "a2"
    assert seen["a1 again, now within a2's window"] == blocked
    assert seen["a1 after that BLOCKED"]["claim"] == "run-3"

    assert seen["bob suppressed"]["suppressed"] == "bounced"
    assert seen["reminder guard, suppressed contact"] == blocked
    assert seen["survey guard, suppressed contact"] == blocked
    assert seen["b1 untouched"]["version"] == 1
    assert seen["reminder guard, clean contact"] == ok
    assert seen["alice untouched by the reminder guard"] == seen["alice surveyed by a2"]
    assert seen["reminder guard, no contact yet"] == ok
    assert seen["the reminder guard created no contact"] is None

    assert seen["release by a1 (not the last invite)"] == ok
    assert seen["alice still surveyed by a2"] == seen["alice surveyed by a2"]
    assert seen["release with a wrong version"] == conflict
    assert seen["a refused release releases nothing"] == seen["alice surveyed by a2"]
    assert seen["release by a2 (the last invite)"] == ok
    released = seen["alice released"]
    assert released is None or (released["last_invite"], released["last_surveyed_at"]) == (None, None)
    assert seen["after the release alice may be surveyed at once"] == ok
    assert seen["alice surveyed by a3"]["last_invite"] == "a3"

    erin = seen["erin: the first reason stands"]
    assert erin["suppressed"] == "unsubscribed"
    assert datetime.fromisoformat(erin["suppressed_at"]) == T0 + timedelta(days=4)
    assert seen["frank suppressed without a log entry"]["suppressed"] == "complained"

    log = seen["suppressions, newest first"]
    assert [(e["invite_id"], e["reason"], e["detail"]) for e in log] == [
        ("s2", "disabled", ""),
        ("s1", "no_email", ""),
        ("s0", "throttled", ""),
        ("e1", "unsubscribed", "first"),  # one entry: the second suppression logged nothing
        ("b1", "bounced", ""),
    ]
    assert log[0]["email_masked"] == "s***@example.org"
    assert seen["suppressions, limit 2"] == log[:2]
    assert seen["suppressions, limit 1"] == log[:1]
    assert seen["suppressions of a shop without any"] == []

    def ids(label: str) -> list[str]:
        return [i["invite_id"] for i in seen[label]]

    assert ids("unpublished before T0+3h") == ["p1"]
    assert ids("unpublished before T0+10h") == ["p1", "p2"]  # oldest answer first
    assert ids("unpublished before T0+10h, limit 1") == ["p1"]
    assert ids("unpublished after p1 was announced") == ["p2"]

    expected = _expected_due(s, NOW)
    assert len(expected) > PAGE + 24 and sum(shard(k.split("/")[1]) == BIG_SHARD for k in expected) > PAGE
    assert {k.split("/")[0] for k in expected} == {SHOP, *DUE_SHOPS}
    assert f"{DUE_SHOPS[0]}/edge-now" in expected and f"{DUE_SHOPS[1]}/zoned" in expected
    assert not {k for k in expected if k.split("/")[1].startswith(("later", "undue", "left", "zoned-later"))}
    for start in STARTS:
        assert seen[f"due(NOW), start {start}"] == expected, start
        assert seen[f"due(NOW), start {start}, distinct"] == len(expected), start
    assert seen["due(T0 - 1 day)"] == []
    assert seen["count of due(NOW, limit 27, from the big shard)"] == PAGE + 2
    assert seen["count of due(NOW, limit 10)"] == 10
    assert seen["subset: due(NOW, limit 10)"] is True
    assert seen["due is lazy and stops at the limit"] == 1

    for shop in (SHOP, *DUE_SHOPS):  # every invitation, in invite id order, as last written
        mine = {k.split("/")[1]: inv for k, inv in s.ledger.items() if k.startswith(f"{shop}/")}
        assert seen[f"invitations of {shop}"] == [_plain(mine[iid]) for iid in sorted(mine)], shop
    assert seen["invitations of a shop without any"] == []


def _differences(reference: Story, other: Story) -> list[str]:
    assert list(reference.seen) == list(other.seen)
    return [
        f"{label}:\n    fake/reference: {reference.seen[label]!r}\n    other:          {other.seen[label]!r}"
        for label in reference.seen
        if reference.seen[label] != other.seen[label]
    ]


# --- the tests ----------------------------------------------------------------------------------------


def test_dynamodb_on_moto_keeps_the_survey_contract(on_moto: Story) -> None:
    _check_the_story(on_moto)


def test_the_fake_keeps_the_survey_contract() -> None:
    _check_the_story(story(_fake()))


def test_fake_and_dynamodb_answer_the_same_step_by_step(on_moto: Story) -> None:
    differences = _differences(story(_fake()), on_moto)
    assert not differences, "the fake and DynamoDB differ at:\n" + "\n".join(differences)


def test_the_local_server_answers_like_moto_in_process(on_moto: Story, local_server: str) -> None:
    served = story(_dynamo_at(local_server, f"surveyserved{time.monotonic_ns()}"))
    _check_the_story(served)
    differences = _differences(on_moto, served)
    assert not differences, "moto in-process and the local server differ at:\n" + "\n".join(differences)


def test_a_released_contact_reads_the_same_in_both_stores(dynamo: DynamoSurveyStore) -> None:
    """Minimal case of the divergence the story shows: after a RELEASE empties a contact, DynamoDB keeps
    the item (an UpdateItem REMOVE leaves pk/sk) and ``contact()`` answers an empty Contact; the fake
    deletes the item and answers None."""
    answers = []
    for store in (_fake(), dynamo):
        inv = _inv("d1", contact="dave")
        assert store.write(inv, None) is Written.OK
        claimed = _claim(inv, "run", T0)
        assert store.write(claimed, 1, guard=_survey(claimed, T0)) is Written.OK
        failed = bump(claimed, status=Status.FAILED, claim=None, due_at=None)
        assert store.write(failed, 2, guard=_guard(claimed, GuardMode.RELEASE, T0)) is Written.OK
        answers.append(_plain(store.contact(SHOP, "email:dave")))
    assert answers[0] == answers[1]
