"""Two dispatcher runs at once over the same due invitations: each invitation is claimed by one of them
and sent exactly once.

Against the local stack's AWS server: moto in-process evaluates a conditional write and applies it without
a lock, so two threads can both pass the same condition there (real DynamoDB never lets that happen);
the local server serialises DynamoDB requests, as DynamoDB's conditions behave."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cxloop.resources import provision
from services.feedback import rendering
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
from services.feedback.domain.dispatch import DispatchDeps, Dispatcher, DispatchReport, Links
from services.feedback.domain.invitations import Invitation, Stage, Status
from services.feedback.domain.mail import OutgoingEmail
from services.feedback.domain.normalise import email_key
from services.feedback.domain.ports import Written
from services.feedback.domain.programme import Brand, Rules, SurveyProgramme

SHOPS = ("race-shop-1", "race-shop-2")
COUNT = 300
PROGRAMME = SurveyProgramme(
    brand=Brand(name="Race", sender="surveys@race.example"), rules=Rules(quiet_hours=None)
)
KEY = b"k" * 32


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """The local stack's AWS server (moto, serialised DynamoDB, item-level transaction backups)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "cxloop.local.aws_server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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


def _tables(endpoint: str) -> dict[str, str]:
    session = boto3.session.Session(region_name="us-east-1")
    resources = provision(
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("sqs", endpoint_url=endpoint),
        session.client("events", endpoint_url=endpoint),
        f"race{time.monotonic_ns()}",
    )
    return resources.tables


def _client(endpoint: str) -> object:
    """One client per dispatcher (each would be its own Lambda container), made before the threads start."""
    return boto3.session.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoint)


def _seed(store: DynamoSurveyStore, now: datetime) -> list[Invitation]:
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
        assert store.write(inv, None) is Written.OK
        invitations.append(inv)
    return invitations


# Run ids decide where in the due index each run starts reading (Dispatcher.run): "race-a" and "race-i"
# start at the same shard (the hardest case: both want the same invitation at every step), "race-a"
# and "race-e" at shards four apart.
@pytest.mark.parametrize("runs", [("race-a", "race-i"), ("race-a", "race-e")], ids=["same-start", "apart"])
def test_two_dispatchers_at_once_send_each_invitation_exactly_once(
    local_server: str, runs: tuple[str, str]
) -> None:
    started = time.monotonic()
    tables = _tables(local_server)
    seed_store = DynamoSurveyStore(_client(local_server), tables["feedback"])
    programmes = DynamoProgrammeStore(_client(local_server), tables["shops"])
    for shop in SHOPS:
        programmes.put(shop, PROGRAMME)
    now = datetime.now(tz=UTC)
    invitations = _seed(seed_store, now)

    mailer = RecordingMailer()
    dispatchers = [
        Dispatcher(
            DispatchDeps(
                surveys=DynamoSurveyStore(_client(local_server), tables["feedback"]),
                programmes=DynamoProgrammeStore(_client(local_server), tables["shops"]),
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

    # Each one is recorded as sent, with its reminder the only thing left due.
    for inv in invitations:
        stored = seed_store.invitation(inv.shop_id, inv.invite_id)
        assert stored is not None
        assert (stored.status, stored.stage, stored.claim) == (Status.SENT, Stage.REMINDER, None), stored
        assert stored.message_id == f"<{inv.invite_id}.invite@race.example>"
        contact = seed_store.contact(inv.shop_id, str(inv.contact_key))
        assert contact is not None and contact.last_invite == inv.invite_id
    assert list(seed_store.due(datetime.now(tz=UTC) + timedelta(days=1), 10_000)) == []
    later = list(seed_store.due(datetime.now(tz=UTC) + timedelta(days=4), 10_000))
    assert len(later) == COUNT and {i.stage for i in later} == {Stage.REMINDER}
    assert time.monotonic() - started < 30, "keep the race test fast"
