"""Two dispatcher runs at once over the same due invitations: each invitation is claimed by one of them
and sent exactly once.

Plain moto evaluates a conditional write and applies it without a lock, so two threads can both pass the
same condition there (real DynamoDB never lets that happen). The local stack's server serialises DynamoDB
requests for that reason; here moto in-process gets the same treatment (the server's HTTP round trips
would make 300 invitations take far longer)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto.dynamodb.models as dynamodb_models
import pytest
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import DynamoDBBackend

from cxloop.local import aws_server
from cxloop.resources import provision
from services.feedback import rendering
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore, invitation_item
from services.feedback.domain.orders.normalise import email_key
from services.feedback.domain.surveys.dispatch import DispatchDeps, Dispatcher, DispatchReport, Links
from services.feedback.domain.surveys.invitations import Invitation, Stage, Status
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme
from shared.mail.message import OutgoingEmail
from tests.integration.conftest import AWS_UNDER_TEST, Moto

SHOPS = ("race-shop-1", "race-shop-2")
COUNT = 300
PROGRAMME = SurveyProgramme(
    brand=Brand(name="Race", sender="surveys@race.example"), rules=Rules(quiet_hours=None)
)
KEY = b"k" * 32


@pytest.fixture
def serialised_moto(aws: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """moto in-process, made to behave like the local stack's server (cxloop.local.aws_server): one
    request at a time (so conditional writes are atomic, as in DynamoDB), transactions backed up item by
    item (moto's own deep copy of whole tables would make 600 transactions take minutes). Everything is
    restored after the test. Yields the endpoint to use: None, moto in-process; or the endpoint named
    by $CXLOOP_AWS_UNDER_TEST (another emulator, as it is)."""
    if os.environ.get(AWS_UNDER_TEST):
        yield os.environ[AWS_UNDER_TEST]
        return
    monkeypatch.setattr(dynamodb_models, "copy", dynamodb_models.copy)  # restored at teardown...
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    aws_server.item_level_transactions()  # ...after the local server's own patches replace them
    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)
    yield None


class RecordingMailer:
    """Mailer shared by both runs: keeps every message handed to it, from any thread."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.closed = 0
        self._lock = threading.Lock()

    def send(self, email: OutgoingEmail) -> str:
        with self._lock:
            self.sent.append(email)
            return f"provider-{len(self.sent)}"

    def close(self) -> None:
        with self._lock:
            self.closed += 1


def _tables(endpoint: str | None) -> dict[str, str]:
    session = boto3.session.Session(region_name="us-east-1")
    resources = provision(
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("sqs", endpoint_url=endpoint),
        session.client("events", endpoint_url=endpoint),
        "race",
    )
    return resources.tables


def _client(endpoint: str | None) -> Any:
    """One client per dispatcher (each would be its own Lambda container), made before the threads start."""
    return boto3.session.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoint)


def _seed(db: Any, table: str, now: datetime) -> list[Invitation]:
    """Planned invitations, due, one person each, stored as the adapter stores them (25 to a request)."""
    invitations = []
    for n in range(COUNT):
        email = f"customer{n}@example.org"
        inv = Invitation(
            shop_id=SHOPS[n % 2],
            invite_id=f"race{n:04d}",
            order_sk=f"ORDER#shopify#{n}",
            order_name=f"#{n}",
            email=email,
            contact_key=email_key(email),
            survey_type=PROGRAMME.survey_type,
            status=Status.PLANNED,
            due_at=now - timedelta(minutes=1 + n % 50),
            planned_at=now - timedelta(days=1),
            version=1,
        )
        invitations.append(inv)
    for n in range(0, COUNT, 25):
        batch = [{"PutRequest": {"Item": invitation_item(inv)}} for inv in invitations[n : n + 25]]
        assert not db.batch_write_item(RequestItems={table: batch}).get("UnprocessedItems")
    return invitations


def _scan(db: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = db.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# Run ids decide where in the due index each run starts reading (Dispatcher.run): "race-a" and "race-i"
# start at the same shard (the hardest case: both want the same invitation at every step), "race-a"
# and "race-e" at shards four apart.
@pytest.mark.parametrize("runs", [("race-a", "race-i"), ("race-a", "race-e")], ids=["same-start", "apart"])
def test_two_dispatchers_at_once_send_each_invitation_exactly_once(
    serialised_moto: str | None, runs: tuple[str, str]
) -> None:
    endpoint = serialised_moto
    tables = _tables(endpoint)
    db = _client(endpoint)
    programmes = DynamoProgrammeStore(db, tables["shops"])
    for shop in SHOPS:
        programmes.put(shop, PROGRAMME)
    invitations = _seed(db, tables["feedback"], datetime.now(tz=UTC))
    store = DynamoSurveyStore(db, tables["feedback"])
    assert len(list(store.due(datetime.now(tz=UTC), 10_000))) == COUNT

    mailer = RecordingMailer()
    dispatchers = [
        Dispatcher(
            DispatchDeps(
                surveys=DynamoSurveyStore(_client(endpoint), tables["feedback"]),
                programmes=DynamoProgrammeStore(_client(endpoint), tables["shops"]),
                mailer=mailer,
                render=rendering.render_email,
                links=Links("https://feedback.race.example", [KEY]),
            ),
            run,
        )
        for run in runs
    ]
    barrier = threading.Barrier(len(dispatchers))
    reports: dict[str, DispatchReport] = {}
    errors: list[BaseException] = []

    def run(dispatcher: Dispatcher, run_id: str) -> None:
        try:
            barrier.wait(timeout=10)
            reports[run_id] = dispatcher.run(limit=1000, deadline_s=60)
        except BaseException as e:  # reported below: an exception in a thread would be lost
            errors.append(e)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(dispatchers, runs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert set(reports) == set(runs)

    # Every invitation was sent exactly once, counted by Message-ID (the same for a repeated send).
    counts = Counter(email.message_id for email in mailer.sent)
    expected = {f"<{inv.invite_id}.invite@race.example>" for inv in invitations}
    assert {m: c for m, c in counts.items() if c != 1} == {}, "sent more than once"
    assert set(counts) == expected
    assert len(mailer.sent) == COUNT
    assert sum(r.sent for r in reports.values()) == COUNT
    for report in reports.values():
        assert (report.failed, report.deferred, dict(report.suppressed)) == (0, 0, {}), report.as_dict()
    assert mailer.closed == len(runs)

    # Each one is recorded as sent (one consistent scan), its person marked as surveyed by it.
    items = _scan(db, tables["feedback"])
    stored = {
        i["sk"]["S"].removeprefix("SURVEY#"): Invitation.model_validate_json(i["doc"]["S"])
        for i in items
        if i["sk"]["S"].startswith("SURVEY#")
    }
    last_invite = {
        i["sk"]["S"]: i.get("last_invite", {}).get("S") for i in items if i["sk"]["S"].startswith("CONTACT#")
    }
    assert len(stored) == COUNT and len(last_invite) == COUNT
    for inv in invitations:
        got = stored[inv.invite_id]
        assert (got.status, got.stage, got.claim, got.attempts) == (Status.SENT, Stage.REMINDER, None, 0), got
        assert got.message_id == f"<{inv.invite_id}.invite@race.example>"
        assert last_invite[f"CONTACT#{inv.contact_key}"] == inv.invite_id
    assert not [i for i in items if i["sk"]["S"].startswith("SUPPRESSION#")]

    # Nothing is left due but the reminders.
    assert list(store.due(datetime.now(tz=UTC) + timedelta(days=1), 10_000)) == []
    later = list(store.due(datetime.now(tz=UTC) + timedelta(days=4), 10_000))
    assert len(later) == COUNT and {i.stage for i in later} == {Stage.REMINDER}
