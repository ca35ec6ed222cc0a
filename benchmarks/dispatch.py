"""Survey dispatch benchmark: invitations sent per second by racing dispatchers, duplicates, AWS calls.

Starts the local AWS endpoint (``python -m cxloop.local.aws_server``: moto's server with DynamoDB
serialised) on a free port, provisions the tables, puts a survey programme for each shop, writes the due
invitations straight into the feedback table (setup, not measured), then starts the dispatcher
processes together after a barrier. Each builds its own clients and loops
``Dispatcher(deps, run_id).run(limit=500)`` until a run finds nothing due. It reports throughput,
duplicates sent (read back from moto's SES or counted at an SMTP server by Message-ID), the state of
every invitation in the table, AWS calls per sent survey by operation, and where the CPU went. It prints
figures and exits 0 whatever they are: it is not a test.

    .venv/bin/python benchmarks/dispatch.py [--invitations 10000] [--dispatchers 2] [--transport ses|smtp]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import platform
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
REGION = "us-east-1"
PREFIX = "cxloop"
SENDER = "surveys@bench.example"
PUBLIC_URL = "http://127.0.0.1:8080"
RUN_LIMIT = 500  # invitations per Dispatcher.run, as the brief's scheduled run
BATCH = 25  # BatchWriteItem's maximum
WORKER_TIMEOUT_S = 4 * 3600.0
PROGRESS_EVERY_S = 120.0

TARGET_RATE = 50.0
TARGET_CALLS = 4.0

# What the dispatcher processes see (inherited through spawn); set before any handler module is imported.
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "cxloop",
    "POWERTOOLS_TRACE_DISABLED": "1",
}

FIRST_NAMES = ("Jane", "Ahmed", "Li", "Marta", None, "Søren", "Olu", "Priya")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def line(label: str, value: str) -> None:
    print(f"  {label:<46} {value}")


def verdict_line(ok: bool, text: str) -> None:
    print(f"  [{'PASS' if ok else 'FAIL'}] {text}")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used so far (every core; /proc/stat, not idle)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:8]) - idle - steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


# --- the local AWS endpoint ---------------------------------------------------------------------------


class AwsServer:
    """``python -m cxloop.local.aws_server`` on a port; always stopped in ``finally``."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.endpoint = f"http://{HOST}:{port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> float:
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "cxloop.local.aws_server", "--host", HOST, "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"the AWS endpoint exited with {self.proc.returncode}:\n{self.log.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/reset-auth", timeout=2):
                    pass
            except urllib.error.HTTPError:
                return time.perf_counter() - started  # it answers (400: nothing to reset)
            except OSError:
                time.sleep(0.2)
                continue
            return time.perf_counter() - started
        raise SystemExit(f"the AWS endpoint did not answer within {timeout_s:.0f} s; see {self.log}")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


# --- an SMTP server counting what it receives -------------------------------------------------------

MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingHandler:
    def __init__(self) -> None:
        self.by_message_id: Counter[str] = Counter()
        self.by_recipient: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content or b""
        head = data.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        message_id = found.group(1).decode("ascii", "replace") if found else "(none)"
        with self._lock:
            self.by_message_id[message_id] += 1
            for rcpt in envelope.rcpt_tos:
                self.by_recipient[rcpt.lower()] += 1
        return "250 Message accepted for delivery"


class SmtpCounter:
    """A real aiosmtpd server in a thread of the harness process (idle otherwise while it runs)."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.port = port
        self.handler = CountingHandler()
        self.controller = Controller(self.handler, hostname=HOST, port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


# --- setup (not measured) ---------------------------------------------------------------------------


def setup_clients(endpoint: str) -> dict[str, Any]:
    from shared import aws
    from shared.settings import AwsSettings

    settings = AwsSettings(region=REGION, endpoint_url=endpoint)
    return {n: aws.client(n, settings) for n in ("dynamodb", "sqs", "events", "secretsmanager", "sesv2")}


def programme(n: int) -> Any:
    from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme, SurveyType

    return SurveyProgramme(
        survey_type=SurveyType.NPS,
        brand=Brand(name=f"Bench Shop {n}", sender=SENDER, reply_to="help@bench.example"),
        # No quiet hours, no reminders: every invitation is a first e-mail due now.
        rules=Rules(quiet_hours=None, reminder_after_days=None),
    )


def shop_ids(shops: int) -> list[str]:
    return [f"bench-shop-{n:02d}" for n in range(1, shops + 1)]


def invitations(count: int, shops: int, now: datetime) -> list[Any]:
    from services.feedback.domain.orders.normalise import email_key, order_sk
    from services.feedback.domain.surveys.invitations import Invitation, Status, invite_id
    from services.feedback.domain.surveys.programme import SurveyType
    from shared.tenancy import Platform

    ids = shop_ids(shops)
    made = []
    for i in range(count):
        shop = ids[i % shops]
        sk = order_sk(Platform.SHOPIFY, 500_000 + i)
        email = f"customer{i:06d}@bench-customers.example"
        made.append(
            Invitation(
                shop_id=shop,
                invite_id=invite_id(shop, sk),
                order_sk=sk,
                order_name=f"#{100_000 + i}",
                email=email,
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                customer_key=f"shopify:{900_000 + i}",
                contact_key=email_key(email),
                survey_type=SurveyType.NPS,
                status=Status.PLANNED,
                planned_at=now - timedelta(days=3),
                due_at=now - timedelta(hours=1) + timedelta(milliseconds=i),
                version=1,
            )
        )
    return made


def seed(aws: dict[str, Any], table: str, invs: list[Any]) -> None:
    from services.feedback.adapters.dynamo_surveys import invitation_item

    db = aws["dynamodb"]
    for start in range(0, len(invs), BATCH):
        pending: dict[str, Any] = {
            table: [{"PutRequest": {"Item": invitation_item(inv)}} for inv in invs[start : start + BATCH]]
        }
        while pending:
            pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def setup(aws: dict[str, Any], args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from cxloop.resources import provision, provision_link_keys
    from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore

    resources = provision(aws["dynamodb"], aws["sqs"], aws["events"], PREFIX)
    provision_link_keys(aws["secretsmanager"], PREFIX)
    programmes = DynamoProgrammeStore(aws["dynamodb"], resources.tables["shops"])
    for n, shop in enumerate(shop_ids(args.shops), start=1):
        programmes.put(shop, programme(n))
    if args.transport == "ses":
        aws["sesv2"].create_email_identity(EmailIdentity=SENDER)  # moto refuses unverified senders
    invs = invitations(args.invitations, args.shops, datetime.now(tz=UTC))
    seed(aws, resources.tables["feedback"], invs)
    return resources, invs


# --- the dispatcher processes -------------------------------------------------------------------------


@dataclass
class CallMeter:
    """AWS API calls by service and operation, via botocore event hooks on each client."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    counting: bool = False

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call", self._before_call)
        events.register("after-call", self._after_call)
        events.register("before-send", self._before_send)

    @staticmethod
    def _op(model: Any) -> str:
        return f"{model.service_model.service_name}.{model.name}"

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.counting:
            self.calls[self._op(model)] += 1
            context["bench_started"] = time.perf_counter()

    def _after_call(self, model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        started = context.get("bench_started")
        if started is None:
            return
        op = self._op(model)
        self.seconds[op] += time.perf_counter() - started
        if http_response.status_code >= 300:
            self.errors[op] += 1

    def _before_send(self, event_name: str, **_: Any) -> None:
        if self.counting:
            service, op = event_name.split(".", 2)[1:]
            self.attempts[f"{service}.{op}"] += 1


class TimedMailer:
    """The real mailer, with the time spent in ``send`` and the moment of each accepted send noted."""

    def __init__(self, mailer: Any) -> None:
        self._mailer = mailer
        self.seconds = 0.0
        self.sends = 0
        self.accepted_at: list[float] = []  # time.monotonic(), comparable across processes on Linux

    def send(self, email: Any) -> str:
        started = time.perf_counter()
        try:
            provider_id = str(self._mailer.send(email))
            self.accepted_at.append(time.monotonic())
            return provider_id
        finally:
            self.seconds += time.perf_counter() - started
            self.sends += 1

    def close(self) -> None:
        self._mailer.close()


class TimedRender:
    def __init__(self, render: Any) -> None:
        self._render = render
        self.seconds = 0.0

    def __call__(self, view: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._render(view)
        finally:
            self.seconds += time.perf_counter() - started


def build_deps(cfg: dict[str, Any], meter: CallMeter) -> tuple[Any, TimedMailer, TimedRender]:
    """The dispatcher as its Lambda handler wires it, with instrumented clients and mailer."""
    from services.feedback.bootstrap import build_surveys
    from shared import aws
    from shared.mail.ses import SesMailer
    from shared.mail.smtp import SmtpMailer
    from shared.settings import AwsSettings, SurveySettings

    settings = SurveySettings(
        aws=AwsSettings(region=REGION, endpoint_url=cfg["endpoint"]),
        shops_table=cfg["shops_table"],
        feedback_table=cfg["feedback_table"],
        events_queue_url=cfg["events_queue_url"],
        public_url=PUBLIC_URL,
        mail_transport=cfg["transport"],
        smtp_host=HOST,
        smtp_port=cfg["smtp_port"] or 1025,
    )
    dynamodb = aws.client("dynamodb", settings.aws)
    meter.attach(dynamodb)
    if cfg["transport"] == "ses":  # as bootstrap.build_mailer, on a client we can instrument
        sesv2 = aws.client("sesv2", settings.aws)
        meter.attach(sesv2)
        mailer = TimedMailer(SesMailer(sesv2, settings.ses_configuration_set))
    else:
        mailer = TimedMailer(SmtpMailer(settings.smtp_host, settings.smtp_port))
    built = dataclasses.replace(build_surveys(settings, dynamodb=dynamodb), mailer=mailer)
    deps = built.dispatch_deps()  # reads the link keys once (Secrets Manager, uninstrumented, cached 300 s)
    render = TimedRender(deps.render)
    return dataclasses.replace(deps, render=render), mailer, render


def warm_up(deps: Any) -> None:
    """Import jinja2, build the template environment and pydantic's validators before the barrier."""
    from services.feedback.domain.surveys.dispatch import compose
    from services.feedback.domain.surveys.invitations import Invitation, Status
    from services.feedback.domain.surveys.programme import SurveyType

    now = datetime.now(tz=UTC)
    inv = Invitation(
        shop_id="warm",
        invite_id="warm",
        order_sk="ORDER#warm",
        email="warm@bench.example",
        contact_key="email:warm",
        survey_type=SurveyType.NPS,
        status=Status.SENDING,
    )
    compose(inv, programme(0), deps, now)


def handled(report: Any) -> int:
    return int(
        report.sent
        + report.reminders
        + report.lost
        + report.deferred
        + report.failed
        + sum(report.suppressed.values())
    )


def dispatch_loop(deps: Any, max_runs: int, progress: Any) -> tuple[Counter[str], int]:
    from services.feedback.domain.surveys.dispatch import Dispatcher

    totals: Counter[str] = Counter()
    runs = 0
    while runs < max_runs:
        report = Dispatcher(deps, uuid.uuid4().hex).run(limit=RUN_LIMIT)
        runs += 1
        for name in ("sent", "reminders", "lost", "deferred", "failed"):
            totals[name] += getattr(report, name)
        totals["suppressed"] += sum(report.suppressed.values())
        with progress.get_lock():
            progress.value += report.sent
        if handled(report) == 0:
            break
    return totals, runs


def worker(index: int, cfg: dict[str, Any], barrier: Any, results: Any, progress: Any) -> None:
    """One dispatcher process: its own clients and deps; starts with the others at the barrier."""
    meter = CallMeter()
    out: dict[str, Any] = {"index": index}
    try:
        deps, mailer, render = build_deps(cfg, meter)
        warm_up(deps)
        render.seconds = 0.0
        meter.counting = True
        barrier.wait()
        out["start"], cpu0 = time.monotonic(), time.process_time()
        totals, runs = dispatch_loop(deps, cfg["max_runs"], progress)
        out["end"], out["cpu"] = time.monotonic(), time.process_time() - cpu0
        out.update(
            totals=dict(totals),
            runs=runs,
            calls=dict(meter.calls),
            errors=dict(meter.errors),
            attempts=dict(meter.attempts),
            call_seconds=dict(meter.seconds),
            mail_seconds=mailer.seconds,
            mail_sends=mailer.sends,
            accepted_at=mailer.accepted_at,
            render_seconds=render.seconds,
        )
    except BaseException:  # reported, so the harness never waits for a dead process
        out["error"] = traceback.format_exc()
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.abort()
    results.put(out)


@dataclass
class Race:
    workers: list[dict[str, Any]]
    wall: float
    moto_cpu: float
    harness_cpu: float
    machine_cpu: float
    load_before: str
    load_after: str


def collect(
    procs: list[Any], barrier: Any, results: Any, progress: Any, server: AwsServer
) -> tuple[list[Any], Race]:
    # A worker that failed before the start breaks the barrier; its error comes through the queue.
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=300)
    moto0, harness0, machine0 = server.cpu_seconds(), time.process_time(), machine_busy_seconds()
    load_before = load_average()
    collected: list[Any] = []
    started = time.monotonic()
    while len(collected) < len(procs) and time.monotonic() - started < WORKER_TIMEOUT_S:
        try:
            collected.append(results.get(timeout=PROGRESS_EVERY_S))
        except queue.Empty:
            elapsed = time.monotonic() - started
            print(f"  ... {elapsed:.0f} s: {progress.value:,} sent by finished runs", flush=True)
    if len(collected) < len(procs):
        print("  (timed out waiting for a dispatcher process)")
    moto_cpu, harness_cpu = server.cpu_seconds() - moto0, time.process_time() - harness0
    machine_cpu, load_after = machine_busy_seconds() - machine0, load_average()
    return collected, Race([], 0.0, moto_cpu, harness_cpu, machine_cpu, load_before, load_after)


def race(cfg: dict[str, Any], dispatchers: int, server: AwsServer) -> Race:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(dispatchers + 1)
    results = ctx.Queue()
    progress = ctx.Value("i", 0)
    procs = [
        ctx.Process(target=worker, args=(i, cfg, barrier, results, progress)) for i in range(dispatchers)
    ]
    finished = False
    try:
        for p in procs:
            p.start()
        collected, measured = collect(procs, barrier, results, progress, server)
        finished = True
    finally:  # also on SIGTERM or Ctrl-C: no dispatcher outlives the harness
        for p in procs:
            if p.pid is not None:
                p.join(timeout=30 if finished else 0)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=5)
    failed = [w for w in collected if "error" in w]
    if failed:
        raise SystemExit("a dispatcher process failed:\n" + "\n".join(w["error"] for w in failed))
    ok = [w for w in collected if "start" in w]
    measured.workers = sorted(ok, key=lambda w: w["index"])
    measured.wall = max(w["end"] for w in ok) - min(w["start"] for w in ok) if ok else float("nan")
    return measured


# --- verification -------------------------------------------------------------------------------------


@dataclass
class TableState:
    invitations: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    versions: Counter[int] = field(default_factory=Counter)
    due_left: int = 0
    claims_left: int = 0
    no_message_id: int = 0
    contacts: int = 0
    contacts_surveyed: int = 0
    suppression_log: int = 0


def scan_table(db: Any, table: str) -> TableState:
    state = TableState()
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = db.scan(**kwargs)
        for item in page["Items"]:
            note(state, item)
        if "LastEvaluatedKey" not in page:
            return state
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def note(state: TableState, item: dict[str, Any]) -> None:
    sk = item["sk"]["S"]
    if sk.startswith("CONTACT#"):
        state.contacts += 1
        state.contacts_surveyed += "last_surveyed_at" in item
    elif sk.startswith("SUPPRESSION#"):
        state.suppression_log += 1
    elif sk.startswith("SURVEY#"):
        doc = json.loads(item["doc"]["S"])
        state.invitations += 1
        state.statuses[doc["status"]] += 1
        state.versions[int(item["ver"]["N"])] += 1
        state.due_left += "due_pk" in item
        state.claims_left += doc.get("claim") is not None
        state.no_message_id += doc.get("status") == "sent" and not doc.get("message_id")


@dataclass
class Delivered:
    how: str
    messages: int
    distinct: int
    per_key: Counter[str]
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.messages - self.distinct


def ses_delivered(endpoint: str) -> Delivered:
    """Moto's record of what SES sent (``/moto-api/data.json``), counted per destination address."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=600) as response:
        data = json.loads(response.read())
    per: Counter[str] = Counter()
    for kind in ("Message", "RawMessage"):
        for message in data.get("ses", {}).get(kind, []):
            destinations = message.get("destinations") or {}
            if isinstance(destinations, dict):
                addresses = [a for v in destinations.values() for a in v]
            else:
                addresses = list(destinations)
            for address in addresses:
                per[address.lower()] += 1
    seconds = time.perf_counter() - started
    return Delivered("moto SES sent messages, per destination address", per.total(), len(per), per, seconds)


def smtp_delivered(handler: CountingHandler) -> Delivered:
    per = handler.by_message_id
    return Delivered("SMTP server, per Message-ID", per.total(), len(per), per)


# --- what each operation costs moto ------------------------------------------------------------------

CALIBRATE_REPEAT = 20
CALIBRATE_QUERIES = 3
CALIBRATION_SHOP = "bench-calibration"


@dataclass
class OpCost:
    wall_ms: float
    cpu_ms: float


def measure(server: AwsServer, fn: Any, repeat: int) -> OpCost:
    """One client, one call at a time: the endpoint's CPU and the caller's wall time per call."""
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    for i in range(repeat):
        fn(i)
    return OpCost((time.perf_counter() - t0) / repeat * 1000, (server.cpu_seconds() - cpu0) / repeat * 1000)


def calibrate_query(aws: dict[str, Any], table: str, server: AwsServer) -> OpCost:
    """The dispatcher's page query on the ``due`` index (moto evaluates it over every item of the table)."""
    from services.feedback.adapters.dynamo_surveys import PAGE, SHARDS

    upper = datetime.now(tz=UTC).isoformat(timespec="microseconds") + "$"

    def query(i: int) -> None:
        aws["dynamodb"].query(
            TableName=table,
            IndexName="due",
            KeyConditionExpression="due_pk = :p AND due_sk < :t",
            ExpressionAttributeValues={":p": {"S": f"DUE#{i % SHARDS}"}, ":t": {"S": upper}},
            Limit=PAGE,
        )

    return measure(server, query, CALIBRATE_QUERIES)


def calibrate_calls(
    aws: dict[str, Any], table: str, server: AwsServer, sample: Any, transport: str
) -> dict[str, OpCost]:
    """After the race: the store's own calls on scratch items of another shop, and a real SendEmail."""
    from types import SimpleNamespace

    from services.feedback.adapters.dynamo_surveys import DynamoSurveyStore
    from services.feedback.domain.surveys.dispatch import Links, compose
    from services.feedback.domain.surveys.invitations import ContactGuard, GuardMode
    from services.feedback.rendering import render_email
    from shared.mail.ses import SesMailer

    store = DynamoSurveyStore(aws["dynamodb"], table)
    now = datetime.now(tz=UTC)

    def scratch(name: str, i: int) -> Any:
        return sample.model_copy(
            update={"shop_id": CALIBRATION_SHOP, "invite_id": f"{name}{i:04d}", "due_at": None}
        )

    def claim(i: int) -> None:
        inv = scratch("transact", i)
        guard = ContactGuard(
            key=f"email:calibrate{i}", mode=GuardMode.SURVEY, invite_id=inv.invite_id, at=now
        )
        store.write(inv, None, guard=guard)

    costs = {
        "dynamodb.TransactWriteItems": measure(server, claim, CALIBRATE_REPEAT),
        "dynamodb.PutItem": measure(server, lambda i: store.write(scratch("put", i), None), CALIBRATE_REPEAT),
        "dynamodb.GetItem": measure(
            server, lambda i: store.invitation(CALIBRATION_SHOP, f"put{i:04d}"), CALIBRATE_REPEAT
        ),
    }
    if transport == "ses":
        deps = SimpleNamespace(links=Links(PUBLIC_URL, [os.urandom(32)]), render=render_email)
        mailer = SesMailer(aws["sesv2"])

        emails = [
            compose(
                scratch("send", i).model_copy(update={"email": f"calibrate{i}@bench-calibration.example"}),
                programme(1),
                deps,  # type: ignore[arg-type]
                now,
            )
            for i in range(CALIBRATE_REPEAT)
        ]
        costs["sesv2.SendEmail"] = measure(server, lambda i: mailer.send(emails[i]), CALIBRATE_REPEAT)
    return costs


# --- the report ---------------------------------------------------------------------------------------


def machine_note() -> str:
    cores = os.cpu_count() or 0
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = cores
    model = ""
    with contextlib.suppress(OSError):
        for cpu_line in Path("/proc/cpuinfo").read_text().splitlines():
            if cpu_line.startswith("model name"):
                model = cpu_line.split(":", 1)[1].strip()
                break
    return (
        f"{cores} cores ({affinity} usable){', ' + model if model else ''}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}"
    )


def summed(workers: list[dict[str, Any]], key: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for w in workers:
        total.update(w[key])
    return total


def report_throughput(r: Race, due: int) -> float:
    totals = summed(r.workers, "totals")
    sent = totals["sent"]
    rate = sent / r.wall if r.wall > 0 else float("nan")
    print("\nThroughput (from the barrier to the last dispatcher process finishing)")
    line("sent / due", f"{sent:,} / {due:,}")
    other = ", ".join(f"{k} {totals[k]:,}" for k in ("reminders", "deferred", "failed", "suppressed"))
    line("lost claims / other outcomes", f"{totals['lost']:,} / {other}")
    line("wall time", f"{r.wall:.1f} s")
    line(f"throughput (target >= {TARGET_RATE:g}/s)", f"{rate:.1f} surveys/s")
    report_timeline(r)
    for w in r.workers:
        t = w["totals"]
        line(
            f"  dispatcher {w['index']}",
            f"sent {t.get('sent', 0):,}, lost {t.get('lost', 0):,}, {w['runs']} runs, "
            f"{w['end'] - w['start']:.1f} s, CPU {w['cpu']:.1f} s",
        )
    return rate


def report_timeline(r: Race) -> None:
    """When the e-mails went out: the steady rate, and the tail (the last few, then the empty runs)."""
    began = min(w["start"] for w in r.workers)
    times: list[float] = sorted(t - began for w in r.workers for t in w["accepted_at"])
    if len(times) < 10:
        return
    n = len(times)

    def at(share: float) -> float:
        return times[min(n - 1, max(0, round(share * n) - 1))]

    line(
        "e-mails out by 10% / 50% / 90% / 99% / last",
        " / ".join(f"{at(q):.0f}" for q in (0.1, 0.5, 0.9, 0.99, 1.0)) + " s",
    )
    steady = 0.8 * n / max(at(0.9) - at(0.1), 1e-9)
    line("  rate from 10% to 90% sent", f"{steady:.1f} surveys/s")
    line(
        "  rate over the last 10% / after the last e-mail",
        f"{0.1 * n / max(at(1.0) - at(0.9), 1e-9):.1f}"
        f" surveys/s / {r.wall - at(1.0):.1f} s of runs that found nothing",
    )


def report_duplicates(d: Delivered, state: TableState, due: int) -> int:
    print("\nDuplicates and the table")
    line(f"messages received ({d.how})", f"{d.messages:,} to {d.distinct:,} distinct")
    line("duplicates sent (target 0)", f"{d.duplicates:,}")
    copies = Counter(n for n in d.per_key.values() if n > 1)
    if copies:
        line("  received more than once", ", ".join(f"{k}x: {n}" for k, n in sorted(copies.items())))
    line("invitations never mailed", f"{max(0, due - d.distinct):,}")
    statuses = ", ".join(f"{k} {n:,}" for k, n in state.statuses.most_common())
    line("invitations in the table by status", f"{state.invitations:,}: {statuses}")
    line(
        "still due / claim left / sent without Message-ID",
        f"{state.due_left} / {state.claims_left} / {state.no_message_id}",
    )
    versions = ", ".join(f"v{k} {n:,}" for k, n in sorted(state.versions.items()))
    line("versions (1 seeded, +1 claim, +1 sent)", versions)
    line(
        "contacts surveyed / suppression log entries",
        f"{state.contacts_surveyed:,} / {state.suppression_log}",
    )
    if d.seconds:
        line("(reading moto's data.json took)", f"{d.seconds:.1f} s")
    return d.duplicates


def op_name(op: str) -> str:
    service, name = op.split(".", 1)
    return f"{'DynamoDB' if service == 'dynamodb' else 'SES' if service == 'sesv2' else service} {name}"


def report_calls(r: Race) -> float:
    calls, errors, attempts = (summed(r.workers, k) for k in ("calls", "errors", "attempts"))
    sent = max(1, summed(r.workers, "totals")["sent"])
    ddb = sum(n for op, n in calls.items() if op.startswith("dynamodb."))
    ses = sum(n for op, n in calls.items() if op.startswith("sesv2."))
    per = (ddb + ses) / sent
    print("\nAWS API calls in the dispatcher processes (botocore before-call hooks)")
    line(
        f"per sent survey (target <= {TARGET_CALLS:g})",
        f"{per:.3f} (DynamoDB {ddb / sent:.3f} + SES {ses / sent:.3f}; {ddb + ses:,} calls)",
    )
    for op, n in calls.most_common():
        failed = f", {errors[op]:,} answered 4xx/5xx" if errors[op] else ""
        line(f"  {op_name(op)}", f"{n / sent:.3f} per sent ({n:,}{failed})")
    retries = attempts.total() - calls.total()
    line("HTTP attempts / retries by botocore", f"{attempts.total():,} / {retries:,}")
    lost = summed(r.workers, "totals")["lost"]
    line(
        "lost claims (the race's cost)",
        f"{lost:,} = {lost / sent:.3f} per sent: each a cancelled TransactWriteItems, read by a Query first",
    )
    return per


@dataclass
class Calibration:
    query_before: OpCost
    query_after: OpCost
    calls: dict[str, OpCost]

    def cost(self, op: str) -> OpCost | None:
        if op == "dynamodb.Query":  # the table grew from N items to 2N (a contact per send) meanwhile
            before, after = self.query_before, self.query_after
            return OpCost((before.wall_ms + after.wall_ms) / 2, (before.cpu_ms + after.cpu_ms) / 2)
        return self.calls.get(op)


def report_machine(r: Race) -> None:
    cpu = sum(w["cpu"] for w in r.workers)
    ours = r.moto_cpu + cpu + r.harness_cpu
    cores = os.cpu_count() or 1
    print("\nThe machine during the race")
    line("load average (1/5/15 min) before / after", f"{r.load_before}  /  {r.load_after}")
    line(
        "CPU used on the machine / by this benchmark",
        f"{r.machine_cpu:.1f} s / {ours:.1f} s of {cores * r.wall:.1f} s available "
        f"({r.machine_cpu / (cores * r.wall):.0%} busy; others used {max(0.0, r.machine_cpu - ours):.1f} s)",
    )


def report_time(r: Race, sent: int, transport: str, cal: Calibration) -> None:
    sent = max(1, sent)
    cpu = sum(w["cpu"] for w in r.workers)
    calls = summed(r.workers, "calls")
    print("\nWhere the time goes (CPU over the race; ms per sent survey)")
    line(
        "AWS endpoint (moto server) CPU",
        f"{r.moto_cpu:.1f} s = {r.moto_cpu / sent * 1000:.2f} ms/sent ({r.moto_cpu / r.wall:.0%} of a core)",
    )
    line(
        "dispatcher processes CPU",
        f"{cpu:.1f} s = {cpu / sent * 1000:.2f} ms/sent ({cpu / r.wall:.0%} of a core, all processes)",
    )
    label = "harness CPU (the SMTP server thread)" if transport == "smtp" else "harness CPU (idle)"
    line(label, f"{r.harness_cpu:.1f} s = {r.harness_cpu / sent * 1000:.2f} ms/sent")
    total = r.moto_cpu + cpu + r.harness_cpu
    cores = os.cpu_count() or 1
    line(
        f"CPU-bound ceiling on {cores} idle cores",
        f"{cores / total * sent:.0f}/s; moto alone (one process, DynamoDB serialised) "
        f"{sent / max(r.moto_cpu, 1e-9):.0f}/s",
    )
    print("  Moto's CPU by operation (calibrated one call at a time after the race; Query before and after):")
    estimate = 0.0
    for op, n in calls.most_common():
        cost = cal.cost(op)
        if cost is None:
            continue
        per_sent = n / sent * cost.cpu_ms
        estimate += per_sent
        line(
            f"  {op_name(op)}",
            f"{per_sent:6.2f} ms/sent = {n / sent:.3f} calls x {cost.cpu_ms:.1f} ms "
            f"(alone: {cost.wall_ms:.1f} ms a call)",
        )
    q0, q1 = cal.query_before, cal.query_after
    line(
        "  (Query's cost before / after the race)",
        f"{q0.cpu_ms:.0f} / {q1.cpu_ms:.0f} ms CPU: moto reads every item of the table for an index query",
    )
    line("  sum of the above / measured", f"{estimate:.2f} / {r.moto_cpu / sent * 1000:.2f} ms/sent")
    query = cal.cost("dynamodb.Query")
    if query is not None:
        without = total - calls["dynamodb.Query"] * query.cpu_ms / 1000
        line(
            "  ceiling without moto's Query scan (estimate)",
            f"{cores / max(without, 1e-9) * sent:.0f}/s on {cores} idle cores "
            "(were moto's index query O(page), as in DynamoDB)",
        )
    report_inside(r, sent, transport)


def report_inside(r: Race, sent: int, transport: str) -> None:
    call_s = summed(r.workers, "call_seconds")
    calls = summed(r.workers, "calls")
    print("  Inside the dispatcher processes (wall time summed over processes, ms per sent survey):")
    for op, seconds in sorted(call_s.items(), key=lambda kv: -kv[1]):
        per_call = seconds / max(1, calls[op]) * 1000
        line(f"  in {op_name(op)}", f"{seconds / sent * 1000:7.2f} ({per_call:.1f} ms a call)")
    mail = sum(w["mail_seconds"] for w in r.workers)
    render = sum(w["render_seconds"] for w in r.workers)
    how = "SMTP: MAIL, RCPT, DATA round trips" if transport == "smtp" else "SES: includes SendEmail above"
    line(f"  in mailer.send ({how})", f"{mail / sent * 1000:7.2f}")
    line("  in render_email (jinja2)", f"{render / sent * 1000:7.2f}")
    busy = sum(call_s.values()) + render + (mail if transport == "smtp" else 0.0)
    span = sum(w["end"] - w["start"] for w in r.workers)
    line("  the rest (pydantic, tokens; waiting for a core)", f"{(span - busy) / sent * 1000:7.2f}")


def report_targets(rate: float, duplicates: int, state: TableState, due: int, per: float) -> None:
    print("\nTargets (informative: the harness asserts nothing)")
    verdict_line(rate >= TARGET_RATE, f"throughput {rate:.1f} surveys/s (>= {TARGET_RATE:g}/s)")
    all_sent = state.statuses.get("sent", 0) == due and state.due_left == 0 and state.claims_left == 0
    verdict_line(
        duplicates == 0 and all_sent,
        f"duplicates sent: {duplicates} (0); every invitation sent once: {'yes' if all_sent else 'NO'}",
    )
    verdict_line(per <= TARGET_CALLS, f"AWS calls per sent survey: {per:.2f} (<= {TARGET_CALLS:g})")


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invitations", type=int, default=10_000, help="due invitations (default 10000)")
    p.add_argument("--dispatchers", type=int, default=2, help="dispatcher processes racing (default 2)")
    p.add_argument("--shops", type=int, default=5, help="shops the invitations are spread over (default 5)")
    p.add_argument("--transport", choices=("ses", "smtp"), default="ses", help="mail transport (default ses)")
    p.add_argument("--port", type=int, default=0, help="the local AWS endpoint's port (default: a free one)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 1000 invitations")
    p.add_argument("--keep-state", action="store_true", help="keep the temp folder (moto.log) afterwards")
    args = p.parse_args(argv)
    if args.quick:
        args.invitations = 1000
    if args.invitations < 1 or args.dispatchers < 1 or args.shops < 1:
        p.error("--invitations, --dispatchers and --shops must be at least 1")
    return args


def terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # so that ``finally`` stops the endpoint and the dispatchers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.update(LOCAL_ENV)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # partial output survives a kill
    signal.signal(signal.SIGTERM, terminated)
    state_dir = Path(tempfile.mkdtemp(prefix="cxloop-dispatch-bench-"))
    server = AwsServer(args.port or free_port(), state_dir / "moto.log")
    smtp = SmtpCounter(free_port()) if args.transport == "smtp" else None
    began = time.perf_counter()
    try:
        up = server.start()
        if smtp:
            smtp.start()
        print(
            f"cxloop dispatch benchmark: {args.invitations:,} due invitations over {args.shops} shop(s), "
            f"{args.dispatchers} dispatcher process(es), transport {args.transport}"
        )
        print(f"  machine: {machine_note()}")
        print(f"  AWS endpoint {server.endpoint} (cxloop.local.aws_server, up in {up:.1f} s)")
        print(f"  state folder {state_dir}")
        if smtp:
            print(f"  SMTP server {HOST}:{smtp.port} (aiosmtpd, a thread of the harness process)")
        aws = setup_clients(server.endpoint)
        resources, invs = setup(aws, args)
        print(
            f"  setup (provision, programmes, {len(invs):,} invitations by BatchWriteItem, not measured): "
            f"{time.perf_counter() - began:.1f} s"
        )
        cfg = {
            "endpoint": server.endpoint,
            "shops_table": resources.tables["shops"],
            "feedback_table": resources.tables["feedback"],
            "events_queue_url": resources.queue_urls["feedback-events"],
            "transport": args.transport,
            "smtp_port": smtp.port if smtp else None,
            "max_runs": args.invitations + 10,  # a run that handles nothing ends the loop first
        }
        feedback = resources.tables["feedback"]
        query_before = calibrate_query(aws, feedback, server)
        result = race(cfg, args.dispatchers, server)
        state = scan_table(aws["dynamodb"], feedback)
        delivered = smtp_delivered(smtp.handler) if smtp else ses_delivered(server.endpoint)
        cal = Calibration(
            query_before,
            calibrate_query(aws, feedback, server),
            calibrate_calls(aws, feedback, server, invs[0], args.transport),
        )
        rate = report_throughput(result, len(invs))
        duplicates = report_duplicates(delivered, state, len(invs))
        per = report_calls(result)
        report_machine(result)
        report_time(result, summed(result.workers, "totals")["sent"], args.transport, cal)
        report_targets(rate, duplicates, state, len(invs), per)
        print(f"\n(total run {time.perf_counter() - began:.0f} s)")
    finally:
        if smtp:
            smtp.stop()
        server.stop()
        if not args.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
