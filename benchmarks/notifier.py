"""The notifier: alerts processed per second, Slack messages per second under the rate limit, and the
messages a burst of detractors becomes with batching on. Nothing lost, nothing over Slack's rate.

    .venv/bin/python benchmarks/notifier.py [--events 2000] [--duplicate-percent 10] [--burst 500]
                                            [--burst-minutes 10] [--sender-second 30] [--hooks 20]
                                            [--batches-per-hook 3] [--one-hook-batches 10] [--json PATH]
                                            [--quick]

Everything runs in this process: moto (``mock_aws``) with the local AWS server's item-level
transaction backups (``cxloop.local.aws_server.item_level_transactions``), a real SMTP sink
(``cxloop.local.sinks.SmtpSink``, aiosmtpd) and a real Slack-compatible HTTP server (the local stack's
``SlackSink`` behind its own pages, on Werkzeug), which answers 429 when a webhook gets two messages
less than 1 s apart. The notifier is built by ``bootstrap.build_notifier`` and driven through its
handlers: ``events.handle`` (the queue consumer's path) and ``sender.run`` (the scheduled sender).

1. Intake: ``--events`` ResponseRecorded detractors and ``--duplicate-percent`` of them re-sent (exact
   copies, mixed in), timed one by one, AWS calls counted with botocore ``before-call`` hooks.
2. Burst: ``--burst`` detractors over ``--burst-minutes`` simulated minutes, the sender run every
   simulated minute at ``--sender-second``; default rules (detractors hourly), a burst inside one hour
   and one across an hour boundary; immediate delivery for contrast. Simulated clock throughout: the
   sender's pacer and sleeps and the Slack sink's rate limiter run on it too.
3. Slack throughput: one sender run over ``--hooks`` webhooks with ``--batches-per-hook`` due batches
   each, then one webhook with ``--one-hook-batches``; real time, real sleeps. Then a webhook that
   answers one 429 with Retry-After: 2.

Prints figures and exits 0 whatever they are. It is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3
from moto import mock_aws

from cxloop.local import aws_server
from cxloop.local.sinks import SlackSink, SmtpSink, read_inbox, scripted_answer
from cxloop.local.slack_server import serve_slack
from cxloop.resources import provision, provision_link_keys
from services.notifier import bootstrap
from services.notifier.domain.delivery import SenderDeps
from services.notifier.domain.model import (
    AlertSettings,
    Delivery,
    Destination,
    DestinationKind,
    Rule,
    RuleKind,
    default_rules,
)
from services.notifier.domain.pacing import Pacer
from services.notifier.handlers import sender
from services.notifier.handlers.events import handle
from shared import events
from shared.credentials import NOTIFIER, SecretsManagerCredentials
from shared.dynamo_shops import DynamoShopDirectory
from shared.settings import NotifierSettings as Config
from shared.tenancy import Platform, Shop

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
COMMENTS = ("Arrived late.", "Wrong size.", "Box was crushed.", None, "Too expensive for what it is.")
COUNTED = re.compile(r"(\d+) (?:detractors?|alerts?)\b")


# --- the outside world: a simulated clock, Slack, SMTP, AWS calls --------------------------------------


class SimClock:
    """Seconds since T0 on the simulated clock; ``sleep`` moves it (a hair more, as real sleeps do)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.t += seconds + 1e-6

    def advance_to(self, at: datetime) -> None:
        self.t = max(self.t, (at - T0).total_seconds())


@dataclass
class SlackServer:
    base: str
    sink: SlackSink
    stop: Callable[[], None]

    def hook_url(self, hook: str) -> str:
        return f"{self.base}/_local/slack/{hook}"

    def script(self, hook: str, **spec: Any) -> None:
        self.sink.script(hook, scripted_answer(spec))

    def messages(self, hook: str) -> list[dict[str, Any]]:
        return [m["payload"] for m in self.sink.messages() if m["hook"] == hook]

    def stats(self, hook: str) -> dict[str, Any]:
        return self.sink.stats().get(
            hook, {"accepted": 0, "rate_limited": 0, "scripted": 0, "min_gap_s": None}
        )


def start_slack(folder: Path, clock: Callable[[], float]) -> SlackServer:
    """The local stack's Slack sink behind its own pages, on a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    sink = SlackSink(folder / "slack.jsonl", clock=clock)
    base, stop = serve_slack(sink, folder)
    return SlackServer(base, sink, stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Calls:
    """AWS API calls by service.operation, counted by botocore before-call hooks."""

    def __init__(self) -> None:
        self.by_op: Counter[str] = Counter()

    def counted(self, client: Any, service: str) -> Any:
        def on_call(model: Any, **_: Any) -> None:
            self.by_op[f"{service}.{model.name}"] += 1

        client.meta.events.register("before-call.*.*", on_call)
        return client

    def total(self) -> int:
        return sum(self.by_op.values())


@dataclass
class Outside:
    folder: Path
    smtp_port: int
    slack: SlackServer  # real clock
    sim_slack: SlackServer  # the simulated clock's
    sim: SimClock


@contextmanager
def outside_world() -> Iterator[Outside]:
    aws_server.item_level_transactions()  # TransactWriteItems backs up the items it touches, not the table
    with tempfile.TemporaryDirectory(prefix="cxloop-notifier-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        smtp = SmtpSink(folder / "mail", port=port)
        smtp.start()
        sim = SimClock()
        slack = start_slack(folder / "real", time.monotonic)
        sim_slack = start_slack(folder / "sim", sim.monotonic)
        try:
            with mock_aws():
                yield Outside(folder, port, slack, sim_slack, sim)
        finally:
            slack.stop()
            sim_slack.stop()
            smtp.stop()


# --- a notifier on its own tables ---------------------------------------------------------------------


@dataclass
class World:
    outside: Outside
    built: bootstrap.Notifier
    prefix: str
    calls: Calls
    plain_db: Any
    hooks: SecretsManagerCredentials
    shops: DynamoShopDirectory
    slept: list[float] = field(default_factory=list)

    def add_shop(self, shop_id: str, rules: tuple[Rule, ...], slack: SlackServer | None, email: bool) -> None:
        self.shops.put(
            Shop(
                shop_id=shop_id,
                name=f"Shop {shop_id}",
                platforms=(Platform.SHOPIFY,),
                owner_email=f"owner@{shop_id}.example",
            )
        )
        destinations = []
        if email:
            destinations.append(Destination(name="team", kind=DestinationKind.EMAIL, address=team(shop_id)))
        if slack is not None:
            destinations.append(Destination(name="slack", kind=DestinationKind.SLACK))
            self.hooks.put(shop_id, "slack", {"slack": slack.hook_url(hook_of(self.prefix, shop_id))})
        self.built.settings.put(shop_id, AlertSettings(rules=rules, destinations=tuple(destinations)))

    def hear(self, shop_id: str, data: dict[str, Any], now: datetime) -> int:
        envelope = events.Envelope(name=events.RESPONSE_RECORDED, shop_id=shop_id, data=data)
        return int(handle(events.RESPONSE_RECORDED, envelope, now).split()[0])

    def simulated_sender(self) -> None:
        deps: SenderDeps = self.built.sender_deps()
        deps.pacer = Pacer(self.outside.sim.monotonic)
        deps.sleep = self.outside.sim.sleep

    def timed_sleeps(self) -> None:
        deps: SenderDeps = self.built.sender_deps()

        def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            time.sleep(seconds)

        deps.sleep = sleep

    def batches(self, shop_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.built.config.notifier_table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :b)",
            "ExpressionAttributeValues": {":pk": {"S": f"SHOP#{shop_id}"}, ":b": {"S": "BATCH#"}},
        }
        while True:
            page = self.plain_db.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def team(shop_id: str) -> str:
    return f"team@{shop_id}.example"


def hook_of(prefix: str, shop_id: str) -> str:
    return f"{prefix}-{shop_id}"


def new_world(outside: Outside, prefix: str) -> World:
    session = boto3.session.Session(region_name="us-east-1")
    plain = {n: session.client(n) for n in ("dynamodb", "sqs", "events", "secretsmanager")}
    resources = provision(plain["dynamodb"], plain["sqs"], plain["events"], prefix)
    provision_link_keys(plain["secretsmanager"], prefix)
    config = Config(
        notifier_table=resources.tables["notifier"],
        shops_table=resources.tables["shops"],
        event_bus_name=resources.bus_name,
        secrets_prefix=prefix,
        public_url="http://127.0.0.1:8080",
        mail_transport="smtp",
        smtp_port=outside.smtp_port,
    )
    calls = Calls()
    built = bootstrap.build_notifier(
        config,
        dynamodb=calls.counted(session.client("dynamodb"), "dynamodb"),
        secretsmanager=calls.counted(session.client("secretsmanager"), "secretsmanager"),
    )
    bootstrap.notifier.use(built)
    hooks = SecretsManagerCredentials(plain["secretsmanager"], prefix, area=NOTIFIER)
    shops = DynamoShopDirectory(plain["dynamodb"], resources.tables["shops"])
    return World(outside, built, prefix, calls, plain["dynamodb"], hooks, shops)


def answer(invite: str, score: int, at: datetime, n: int) -> dict[str, Any]:
    return {
        "invite_id": invite,
        "revision": 1,
        "survey_type": "nps",
        "score": score,
        "answered_at": at.isoformat(),
        "comment": COMMENTS[n % len(COMMENTS)],
        "order_id": f"o-{invite}",
        "order_name": f"#{1000 + n}",
        "platform": "shopify",
        "customer_key": f"email:{invite}",
        "email": f"{invite}@customer.example",
        "first_name": "Ana",
    }


def rules_with(delivery: Delivery) -> tuple[Rule, ...]:
    """The default rules, with detractors delivered ``delivery``."""
    return tuple(
        r.model_copy(update={"delivery": delivery}) if r.kind is RuleKind.DETRACTOR else r
        for r in default_rules()
    )


def counted_in(headlines: Iterable[str]) -> int:
    """Alerts the messages announce: the numbers in "500 detractors in the last hour"."""
    return sum(int(n) for text in headlines for n in COUNTED.findall(text))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- 1. intake ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    events: int = 0
    alerts: int = 0
    seconds: list[float] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    def view(self) -> dict[str, Any]:
        total = sum(self.seconds)
        per = {k: round(v / self.events, 3) for k, v in sorted(self.calls.items())} if self.events else {}
        return {
            "events": self.events,
            "alerts_raised": self.alerts,
            "seconds": round(total, 3),
            "events_per_s": round(self.events / total, 1) if total else None,
            "alerts_per_s": round(self.alerts / total, 1) if total else None,
            "p50_ms": round(pct(self.seconds, 50) * 1000, 1),
            "p95_ms": round(pct(self.seconds, 95) * 1000, 1),
            "p99_ms": round(pct(self.seconds, 99) * 1000, 1),
            "max_ms": round(max(self.seconds, default=float("nan")) * 1000, 1),
            "aws_calls_per_event": round(sum(self.calls.values()) / self.events, 2) if self.events else None,
            "aws_calls_by_op": per,
        }


@dataclass(frozen=True)
class Arrival:
    shop: str
    data: dict[str, Any]
    duplicate: bool


def intake_plan(n: int, shops: int, duplicate_percent: float, seed: int) -> list[Arrival]:
    """``n`` detractors in arrival order, one every simulated second, and ``duplicate_percent`` of ``n``
    more: exact re-sends of one of the 50 before, mixed in (as a queue redelivers)."""
    rng = random.Random(seed)
    resend_after = Counter(rng.choices(range(n), k=round(n * duplicate_percent / 100)))
    plan: list[Arrival] = []
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        plan.append(Arrival(f"shop-{i % shops}", answer(f"inv-{i:06d}", rng.randint(0, 6), at, i), False))
        for _ in range(resend_after[i]):
            original = rng.choice([a for a in plan[-50:] if not a.duplicate])
            plan.append(Arrival(original.shop, original.data, True))
    return plan


def intake_run(outside: Outside, prefix: str, n: int, shops: int, duplicate_percent: float) -> dict[str, Any]:
    world = new_world(outside, prefix)
    for s in range(shops):
        world.add_shop(f"shop-{s}", default_rules(), outside.slack, email=True)
    plan = intake_plan(n, shops, duplicate_percent, seed=7)
    new, dup = Tally(), Tally()
    world.add_shop("shop-warm", default_rules(), outside.slack, email=True)
    world.hear("shop-warm", answer("warm", 3, T0, 0), T0)  # imports, link keys, caches: not measured
    world.calls.by_op.clear()
    started_all = time.perf_counter()
    for i, arrival in enumerate(plan):
        tally = dup if arrival.duplicate else new
        now = T0 + timedelta(seconds=i)
        before = Counter(world.calls.by_op)
        started = time.perf_counter()
        raised = world.hear(arrival.shop, arrival.data, now)
        tally.seconds.append(time.perf_counter() - started)
        tally.calls.update(world.calls.by_op - before)
        tally.events += 1
        tally.alerts += raised
    wall = time.perf_counter() - started_all
    all_events = len(plan)
    return {
        "events": all_events,
        "wall_s": round(wall, 2),
        "events_per_s": round(all_events / wall, 1),
        "alerts_per_s": round((new.alerts + dup.alerts) / wall, 1),
        "new": new.view(),
        "duplicates": dup.view(),
        "check": intake_check(world, plan, shops),
    }


def intake_check(world: World, plan: list[Arrival], shops: int) -> dict[str, Any]:
    """Each detractor: one case, and counted once in each destination's batch."""
    unique = Counter(a.shop for a in plan if not a.duplicate)
    cases = sum(len(world.built.store.cases(f"shop-{s}")) for s in range(shops))
    by_dest: Counter[str] = Counter()
    for s in range(shops):
        for item in world.batches(f"shop-{s}"):
            by_dest[item["destination"]["S"]] += int(item["count"]["N"])
    expected = sum(unique.values())
    return {
        "detractors": expected,
        "cases": cases,
        "counted_in_batches": dict(by_dest),
        "lost_or_doubled": {d: by_dest[d] - expected for d in ("team", "slack")},
    }


# --- 2. a burst of detractors -------------------------------------------------------------------------


@dataclass
class BurstSpec:
    name: str
    start: datetime
    delivery: Delivery
    sender_second: int


def sender_times(spec: BurstSpec, burst_end: datetime) -> list[datetime]:
    """Every minute at ``sender_second``, from the burst's first minute until its last window is due."""
    tail = timedelta(hours=1, minutes=3) if spec.delivery is Delivery.HOURLY else timedelta(minutes=3)
    at = spec.start.replace(second=spec.sender_second)
    times = []
    while at <= burst_end + tail:
        times.append(at)
        at += timedelta(minutes=1)
    return times


def burst_run(outside: Outside, prefix: str, spec: BurstSpec, n: int, minutes: int) -> dict[str, Any]:
    world = new_world(outside, prefix)
    shop = f"{prefix}-burst"  # its own team@ address in the shared inbox
    world.add_shop(shop, rules_with(spec.delivery), outside.sim_slack, email=True)
    world.simulated_sender()
    step = timedelta(seconds=minutes * 60 / n)
    arrivals = [spec.start + i * step for i in range(n)]
    runs = sender_times(spec, arrivals[-1])
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    nxt = 0
    for run_at in runs:
        while nxt < n and arrivals[nxt] < run_at:
            at = arrivals[nxt]
            outside.sim.advance_to(at)
            world.hear(shop, answer(f"b-{nxt:05d}", nxt % 7, at, nxt), at)
            nxt += 1
        outside.sim.advance_to(run_at)
        report = sender.run(run_at)
        totals.update({k: report[k] for k in ("messages", "alerts", "deferred", "held")})
    wall = time.perf_counter() - started
    return burst_check(world, spec, shop, n, len(runs), totals, wall)


def burst_check(
    world: World, spec: BurstSpec, shop: str, n: int, runs: int, totals: Counter[str], wall: float
) -> dict[str, Any]:
    hook = hook_of(world.prefix, shop)
    slack = [m["text"] for m in world.outside.sim_slack.messages(hook)]
    mail = [m for _, m in read_inbox(world.outside.folder / "mail") if m["To"] == team(shop)]
    stats = world.outside.sim_slack.stats(hook)
    left = [i for i in world.batches(shop) if i["state"]["S"] != "sent"]
    return {
        "scenario": spec.name,
        "delivery": spec.delivery.value,
        "burst": f"{spec.start:%H:%M:%S} + {n} answers",
        "sender_runs": runs,
        "sender_second": spec.sender_second,
        "slack_messages": len(slack),
        "email_messages": len(mail),
        "slack_alerts_counted": counted_in(slack),
        "email_alerts_counted": counted_in(str(m["Subject"]) for m in mail),
        "email_distinct_message_ids": len({m["Message-ID"] for m in mail}),
        "cases": len(world.built.store.cases(shop)),
        "batches_not_sent": len(left),
        "slack_rate_limited": stats["rate_limited"],
        "slack_min_gap_s_simulated": None if stats["min_gap_s"] is None else round(stats["min_gap_s"], 3),
        "sender_totals": dict(totals),
        "simulated_sleep_s": round(world.outside.sim.slept, 1),
        "wall_s": round(wall, 1),
    }


# --- 3. Slack throughput, and a 429 ---------------------------------------------------------------------


def seed_batches(world: World, shops: list[str], batches: int, per_batch: int) -> int:
    """``batches`` hourly batches of ``per_batch`` detractors for each shop's Slack destination."""
    raised = 0
    for b in range(batches):
        for s, shop in enumerate(shops):
            for k in range(per_batch):
                at = T0 + timedelta(hours=b, minutes=10, seconds=s * per_batch + k)
                raised += world.hear(shop, answer(f"{shop}-{b}-{k}", 3, at, k), at)
    return raised


def throughput_run(
    outside: Outside, prefix: str, hooks: int, batches: int, per_batch: int = 3
) -> dict[str, Any]:
    world = new_world(outside, prefix)
    shops = [f"hook-{h:02d}" for h in range(hooks)]
    for shop in shops:
        world.add_shop(shop, default_rules(), outside.slack, email=False)
    raised = seed_batches(world, shops, batches, per_batch)
    world.timed_sleeps()
    world.calls.by_op.clear()
    started = time.perf_counter()
    report = sender.run(T0 + timedelta(hours=batches, seconds=30))
    wall = time.perf_counter() - started
    stats = [outside.slack.stats(hook_of(prefix, s)) for s in shops]
    gaps = [s["min_gap_s"] for s in stats if s["min_gap_s"] is not None]
    texts = [m["text"] for s in shops for m in outside.slack.messages(hook_of(prefix, s))]
    left = sum(1 for s in shops for i in world.batches(s) if i["state"]["S"] != "sent")
    return {
        "hooks": hooks,
        "batches_per_hook": batches,
        "messages": report["messages"],
        "deferred": report["deferred"],
        "seconds": round(wall, 2),
        "messages_per_s": round(report["messages"] / wall, 2) if wall else None,
        "paced_sleeps": len(world.slept),
        "paced_sleep_s": round(sum(world.slept), 2),
        "ms_per_message_unpaced": round((wall - sum(world.slept)) / report["messages"] * 1000, 1)
        if report["messages"]
        else None,
        "accepted": sum(s["accepted"] for s in stats),
        "rate_limited": sum(s["rate_limited"] for s in stats),
        "min_gap_s": round(min(gaps), 3) if gaps else None,
        "alerts_raised": raised,
        "alerts_counted_in_messages": counted_in(texts),
        "batches_not_sent": left,
        "aws_calls_per_message": round(world.calls.total() / report["messages"], 2)
        if report["messages"]
        else None,
        "aws_calls_by_op": dict(sorted(world.calls.by_op.items())),
    }


def retry_after_run(outside: Outside, prefix: str) -> dict[str, Any]:
    """Two due batches for one webhook; the first post gets 429 with Retry-After: 2."""
    world = new_world(outside, prefix)
    shop = "limited"
    world.add_shop(shop, default_rules(), outside.slack, email=False)
    raised = seed_batches(world, [shop], batches=2, per_batch=4)
    hook = hook_of(prefix, shop)
    outside.slack.script(hook, status=429, retry_after=2, times=1)
    world.timed_sleeps()
    first = T0 + timedelta(hours=2, seconds=30)
    runs = []
    for offset in (0, 1, 2, 60):
        started = time.perf_counter()
        report = sender.run(first + timedelta(seconds=offset))
        runs.append({"at": f"+{offset} s", "messages": report["messages"], "alerts": report["alerts"],
                     "deferred": report["deferred"], "wall_s": round(time.perf_counter() - started, 2)})  # fmt: skip
    stats = outside.slack.stats(hook)
    texts = [m["text"] for m in outside.slack.messages(hook)]
    return {
        "runs": runs,
        "sleeps_s": [round(s, 2) for s in world.slept],
        "sink": {k: stats[k] for k in ("accepted", "rate_limited", "scripted", "min_gap_s")},
        "alerts_raised": raised,
        "alerts_counted_in_messages": counted_in(texts),
        "batches_not_sent": sum(1 for i in world.batches(shop) if i["state"]["S"] != "sent"),
    }


# --- printing ---------------------------------------------------------------------------------------


def print_intake(r: dict[str, Any]) -> None:
    print(f"  {r['events']} events in {r['wall_s']} s = {r['events_per_s']} events/s, "
          f"{r['alerts_per_s']} alerts into batches/s (an alert per destination)")  # fmt: skip
    for kind in ("new", "duplicates"):
        t = r[kind]
        if not t["events"]:
            continue
        print(f"  {kind}: {t['events']} events, {t['alerts_raised']} alerts raised; "
              f"per event p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms, p99 {t['p99_ms']} ms, max {t['max_ms']} ms; "
              f"AWS calls per event {t['aws_calls_per_event']}: {t['aws_calls_by_op']}")  # fmt: skip
    print(f"  check: {r['check']}")


def print_burst(r: dict[str, Any]) -> None:
    print(f"  {r['scenario']} ({r['delivery']}, burst {r['burst']}, sender at :{r['sender_second']:02d} x "
          f"{r['sender_runs']} runs): Slack {r['slack_messages']} messages announcing {r['slack_alerts_counted']} "
          f"alerts, e-mail {r['email_messages']} ({r['email_distinct_message_ids']} distinct Message-IDs) "
          f"announcing {r['email_alerts_counted']}; cases {r['cases']}; batches not sent {r['batches_not_sent']}; "
          f"Slack 429s {r['slack_rate_limited']}, min gap {r['slack_min_gap_s_simulated']} s (simulated); "
          f"{r['wall_s']} s wall")  # fmt: skip


def print_throughput(name: str, r: dict[str, Any]) -> None:
    print(f"  {name}: {r['messages']} messages in {r['seconds']} s = {r['messages_per_s']}/s "
          f"(deferred {r['deferred']}); paced sleeps {r['paced_sleeps']} totalling {r['paced_sleep_s']} s; "
          f"{r['ms_per_message_unpaced']} ms a message besides pacing; sink accepted {r['accepted']}, 429s {r['rate_limited']}, min gap per hook {r['min_gap_s']} s; "
          f"alerts {r['alerts_raised']} raised, {r['alerts_counted_in_messages']} in messages; "
          f"batches not sent {r['batches_not_sent']}")  # fmt: skip
    print(f"    AWS calls per message {r['aws_calls_per_message']}: {r['aws_calls_by_op']}")


def print_retry_after(r: dict[str, Any]) -> None:
    print("  1 hook, 2 due batches, the first post answered 429 with Retry-After: 2; sender runs:")
    for run in r["runs"]:
        print(f"    {run['at']}: {run['messages']} messages ({run['alerts']} alerts), {run['deferred']} deferred, "
              f"{run['wall_s']} s")  # fmt: skip
    print(f"    sleeps {r['sleeps_s']} s; sink {r['sink']}; alerts {r['alerts_raised']} raised, "
          f"{r['alerts_counted_in_messages']} in messages; batches not sent {r['batches_not_sent']}")  # fmt: skip


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    intake = results["intake"]
    new, dup = intake["new"], intake["duplicates"]
    lost = intake["check"]["lost_or_doubled"]
    rows = [
        ("intake: events/s, alerts into batches/s", f"{intake['events_per_s']}, {intake['alerts_per_s']}"),
        ("intake: p50 / p95 per new event", f"{new['p50_ms']} / {new['p95_ms']} ms"),
        (
            "AWS calls per new / duplicate event",
            f"{new['aws_calls_per_event']} / {dup['aws_calls_per_event']}",
        ),
        (f"alerts raised by {dup['events']} duplicates", str(dup["alerts_raised"])),
        ("intake lost or doubled (e-mail / Slack)", f"{lost['team']} / {lost['slack']}"),
    ]
    for r in results["bursts"]:
        rows.append((f"burst, {r['scenario']}: messages Slack / e-mail",
                     f"{r['slack_messages']} / {r['email_messages']} (alerts announced {r['slack_alerts_counted']}"
                     f" / {r['email_alerts_counted']}; cases {r['cases']}; 429s {r['slack_rate_limited']})"))  # fmt: skip
    for key in ("throughput_many", "throughput_one"):
        r = results[key]
        rows.append((f"Slack, {r['hooks']} hook(s) x {r['batches_per_hook']} batches: messages/s",
                     f"{r['messages_per_s']} (min gap {r['min_gap_s']} s, 429s {r['rate_limited']}, "
                     f"{r['ms_per_message_unpaced']} ms a message besides pacing)"))  # fmt: skip
    r = results["retry_after"]
    rows.append(("one 429 (Retry-After: 2): accepted / alerts announced",
                 f"{r['sink']['accepted']} / {r['alerts_counted_in_messages']} of {r['alerts_raised']}"))  # fmt: skip
    return rows


def print_summary(results: dict[str, Any]) -> None:
    rows = summary_rows(results)
    width = max(len(a) for a, _ in rows)
    print("\nSummary")
    for a, b in rows:
        print(f"  {a.ljust(width)}  {b}")


def bursts(args: argparse.Namespace) -> list[BurstSpec]:
    inside = T0.replace(minute=5)
    across = T0.replace(minute=60 - args.burst_minutes // 2)
    return [
        BurstSpec("hourly, inside one hour", inside, Delivery.HOURLY, args.sender_second),
        BurstSpec("hourly, across an hour", across, Delivery.HOURLY, args.sender_second),
        BurstSpec("immediate, sender at :00", inside, Delivery.IMMEDIATE, 0),
        BurstSpec(
            f"immediate, sender at :{args.sender_second:02d}", inside, Delivery.IMMEDIATE, args.sender_second
        ),
    ]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with outside_world() as outside:
        print(f"\n1. Intake: {args.events} detractors and {args.duplicate_percent:g} % re-sent, through "
              f"events.handle, over {args.shops} shops with Slack + e-mail each")  # fmt: skip
        results["intake"] = intake_run(outside, "intake", args.events, args.shops, args.duplicate_percent)
        print_intake(results["intake"])
        print(f"\n2. A burst of {args.burst} detractors in {args.burst_minutes} simulated minutes")
        results["bursts"] = []
        for i, spec in enumerate(bursts(args)):
            results["bursts"].append(burst_run(outside, f"b{i}", spec, args.burst, args.burst_minutes))
            print_burst(results["bursts"][-1])
        print("\n3. Slack messages per second under the rate limit (real time)")
        results["throughput_many"] = throughput_run(outside, "t-many", args.hooks, args.batches_per_hook)
        print_throughput(f"{args.hooks} hooks x {args.batches_per_hook} batches", results["throughput_many"])
        results["throughput_one"] = throughput_run(outside, "t-one", 1, args.one_hook_batches)
        print_throughput(f"1 hook x {args.one_hook_batches} batches", results["throughput_one"])
        results["retry_after"] = retry_after_run(outside, "r429")
        print_retry_after(results["retry_after"])
    bootstrap.notifier.use(None)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="new detractors through the intake")
    parser.add_argument("--shops", type=int, default=4, help="shops the intake's events are spread over")
    parser.add_argument("--duplicate-percent", type=float, default=10.0, help="of --events, re-sent on top")
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--burst-minutes", type=int, default=10)
    parser.add_argument("--sender-second", type=int, default=30, choices=range(60), metavar="0-59",
                        help="the second of each minute the scheduled sender runs at")  # fmt: skip
    parser.add_argument("--hooks", type=int, default=20)
    parser.add_argument("--batches-per-hook", type=int, default=3)
    parser.add_argument("--one-hook-batches", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, about a minute")
    args = parser.parse_args()
    if args.quick:
        args.events, args.burst, args.hooks, args.batches_per_hook, args.one_hook_batches = 200, 100, 5, 2, 3
    print("$ .venv/bin/python benchmarks/notifier.py " + " ".join(sys.argv[1:]))
    print(
        f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    started = time.perf_counter()
    results = run_all(args)
    print_summary(results)
    print(f"\nTotal {time.perf_counter() - started:.0f} s.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
