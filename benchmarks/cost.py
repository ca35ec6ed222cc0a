"""What 1,000 orders cost in AWS at list prices, from the AWS calls the demo story actually makes.

Starts the local stack in this process (moto's server, the gateway and the queue pump invoking the real
Lambda handlers), seeds one Shopify shop with a survey programme and immediate Slack and e-mail alerts,
and plays the story over HTTP, phase by phase:

  orders     N orders, each as 4 signed webhooks (orders/create, orders/paid, orders/fulfilled, then a
             fulfillment_events/create "delivered"), processed by the consumer
  surveys    the dispatcher sends each order's survey (3 survey-days after delivery; a day is 1 s here)
  answers    half the customers click a score and write a comment (a third of them detractors): the
             answer is recorded, scored by the spaCy function, and the notifier opens cases and sends
             the alerts (Slack and e-mail)
  reminders  the other half get their one reminder

Every botocore call a function makes is counted (a hook on ``BaseClient._make_api_call``, attributed to
the function being invoked); calls of this harness and of the local pump are not. From them, per 1,000
orders: Lambda requests and GB-seconds (memory from shared/topology.py, durations measured here against
moto), API Gateway requests (invocations of the HTTP functions), DynamoDB read and write request units
(estimated from the bytes each call carries), SQS requests (sends as counted; Lambda's event source
mapping modelled as 1 receive + 1 delete per invocation: a small shop's batches are of one message),
EventBridge events put, Secrets Manager calls, SES messages (the e-mails the SMTP sink received: locally
mail goes out by SMTP), X-Ray traces (one per invocation), CloudWatch Logs bytes (what the functions
wrote to functions.log, EMF lines included) and the metrics' PutLogEvents-free ingestion.

    .venv/bin/python benchmarks/cost.py [--orders 20] [--keep-state]

It prints figures and exits 0 whatever they are: it is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cxloop.local.demo import (
    DEMO_PROGRAMMES,
    DEMO_SHOPS,
    SCORE_LINK,
    admin_for,
    deliveries,
    demo_programme,
    notify_demo,
    post,
)
from cxloop.local.runtime import Functions
from cxloop.local.sinks import read_inbox
from cxloop.local.stack import LocalStack, StackConfig
from cxloop.signing import webhook_headers
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore
from shared import topology
from shared.tenancy import Platform

SHOP = DEMO_SHOPS[0]
STAMP = "%Y-%m-%dT%H:%M:%SZ"
DAY_S = 1.0  # a survey rule's day in this run
LATENESS_DAYS = 365

# List prices, us-east-1, on-demand, as published on these pages (read 2026-12-08 from stored copies:
# this machine reaches no AWS page). Lambda on arm64, first tier.
PRICES: dict[str, tuple[float, str, str]] = {
    "lambda_request": (0.20 / 1e6, "$0.20 per 1M requests", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_s": (0.0000133334, "$0.0000133334 per GB-s (arm64)", "https://aws.amazon.com/lambda/pricing/"),
    "apigw_request": (
        1.00 / 1e6,
        "$1.00 per 1M HTTP API requests",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "ddb_wru": (
        0.625 / 1e6,
        "$0.625 per 1M write request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_rru": (
        0.125 / 1e6,
        "$0.125 per 1M read request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "sqs_request": (0.40 / 1e6, "$0.40 per 1M standard requests", "https://aws.amazon.com/sqs/pricing/"),
    "eventbridge_event": (
        1.00 / 1e6,
        "$1.00 per 1M custom events",
        "https://aws.amazon.com/eventbridge/pricing/",
    ),
    "secrets_call": (
        0.05 / 1e4,
        "$0.05 per 10,000 API calls",
        "https://aws.amazon.com/secrets-manager/pricing/",
    ),
    "ses_message": (0.10 / 1e3, "$0.10 per 1,000 e-mails", "https://aws.amazon.com/ses/pricing/"),
    "xray_trace": (5.00 / 1e6, "$5.00 per 1M traces recorded", "https://aws.amazon.com/xray/pricing/"),
    "logs_gb": (0.50, "$0.50 per GB ingested", "https://aws.amazon.com/cloudwatch/pricing/"),
}
MONTHLY: dict[str, tuple[float, str, str]] = {
    "secret_month": (0.40, "$0.40 per secret per month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "metric_month": (0.30, "$0.30 per custom metric per month", "https://aws.amazon.com/cloudwatch/pricing/"),
    "alarm_month": (
        0.10,
        "$0.10 per standard alarm metric per month",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
}
PRICES_READ = "2026-12-08"

HTTP_FUNCTIONS = {fn.logical for fn in topology.FUNCTIONS if fn.routes}
QUEUE_FUNCTIONS = {fn.logical for fn in topology.FUNCTIONS if fn.queue}


# --- counting ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the functions did, by function: invocations, milliseconds, calls and their units."""

    invocations: Counter[str] = field(default_factory=Counter)
    ms: Counter[str] = field(default_factory=Counter)
    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (function, service, operation)
    wru: float = 0.0
    rru: float = 0.0
    sqs_requests: int = 0
    events_put: int = 0
    mails: int = 0
    log_bytes: int = 0

    def minus(self, other: Tally) -> Tally:
        return Tally(
            self.invocations - other.invocations,
            self.ms - other.ms,
            self.calls - other.calls,
            self.wru - other.wru,
            self.rru - other.rru,
            self.sqs_requests - other.sqs_requests,
            self.events_put - other.events_put,
            self.mails - other.mails,
            self.log_bytes - other.log_bytes,
        )

    def copy(self) -> Tally:
        return copy.deepcopy(self)


def _size(value: Any) -> int:
    """A DynamoDB attribute value's size, by the published rules (names counted by the caller)."""
    if not isinstance(value, dict) or len(value) != 1:
        return 0
    ((kind, v),) = value.items()
    sizes: dict[str, Any] = {
        "S": lambda: len(str(v).encode()),
        "N": lambda: len(str(v).lstrip("-").replace(".", "")) // 2 + 1,
        "B": lambda: len(v) if isinstance(v, bytes | bytearray) else len(str(v)),
        "BOOL": lambda: 1,
        "NULL": lambda: 1,
        "SS": lambda: sum(len(str(x)) for x in v),
        "NS": lambda: sum(len(str(x)) for x in v),
        "BS": lambda: sum(len(str(x)) for x in v),
        "L": lambda: 3 + sum(1 + _size(x) for x in v),
        "M": lambda: 3 + sum(1 + len(k.encode()) + _size(x) for k, x in v.items()),
    }
    size = sizes.get(kind)
    return int(size()) if size else 0


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + _size(v) for k, v in (item or {}).items())


def _write_units(op: str, params: dict[str, Any]) -> float:
    """Write units from the bytes the request carries: a floor (an update is charged on the whole item,
    which the request does not show, and every GSI the item is in costs writes of its own)."""
    if op == "PutItem":
        return math.ceil(max(1, item_size(params.get("Item"))) / 1024)
    if op == "UpdateItem":
        values = params.get("ExpressionAttributeValues") or {}
        return math.ceil(max(1, item_size(params.get("Key")) + sum(_size(v) for v in values.values())) / 1024)
    if op == "DeleteItem":
        return 1
    if op == "BatchWriteItem":
        items = [r for reqs in (params.get("RequestItems") or {}).values() for r in reqs]
        return sum(
            math.ceil(max(1, item_size((r.get("PutRequest") or {}).get("Item"))) / 1024) for r in items
        )
    if op == "TransactWriteItems":  # transactions cost two units per KB per item
        total = 0.0
        for entry in params.get("TransactItems") or []:
            ((kind, body),) = entry.items()
            total += 2 * _write_units(
                {"Put": "PutItem", "Update": "UpdateItem"}.get(kind, "DeleteItem"), body
            )
        return total
    return 0.0


def _read_units(op: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    """Read units from the bytes returned: 4 KB per unit, half for eventually consistent reads."""
    factor = 1.0 if params.get("ConsistentRead") else 0.5
    if op == "GetItem":
        return factor * math.ceil(max(1, item_size(response.get("Item"))) / 4096)
    if op in ("Query", "Scan"):
        return factor * math.ceil(max(1, sum(item_size(i) for i in response.get("Items") or [])) / 4096)
    if op == "BatchGetItem":
        items = [i for rows in (response.get("Responses") or {}).values() for i in rows]
        return factor * sum(math.ceil(max(1, item_size(i)) / 4096) for i in items)
    if op == "TransactGetItems":
        return 2 * sum(
            math.ceil(max(1, item_size(r.get("Item"))) / 4096) for r in response.get("Responses") or []
        )
    return 0.0


class Meter:
    """Counts what each function invocation does, through two patches made for this process only."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._current = threading.local()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original_call, original_invoke = BaseClient._make_api_call, Functions.invoke
        meter = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            response = original_call(client, operation, params)
            fn = getattr(meter._current, "fn", None)
            if fn is not None:
                meter._record(fn, client.meta.service_model.service_name, operation, params, response)
            return response

        def invoke(functions: Functions, fn: topology.Function, event: dict[str, Any]) -> Any:
            meter._current.fn = fn.logical
            started = time.perf_counter()
            try:
                return original_invoke(functions, fn, event)
            finally:
                meter._current.fn = None
                with meter._lock:
                    meter.tally.invocations[fn.logical] += 1
                    meter.tally.ms[fn.logical] += round((time.perf_counter() - started) * 1000)

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        Functions.invoke = invoke  # type: ignore[method-assign]
        try:
            yield
        finally:
            BaseClient._make_api_call = original_call  # type: ignore[method-assign]
            Functions.invoke = original_invoke  # type: ignore[method-assign]

    def _record(
        self, fn: str, service: str, op: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        with self._lock:
            t = self.tally
            t.calls[(fn, service, op)] += 1
            if service == "dynamodb":
                t.wru += _write_units(op, params)
                t.rru += _read_units(op, params, response)
            elif service == "sqs" and op in ("SendMessage", "SendMessageBatch"):
                bodies = (
                    [params.get("MessageBody", "")]
                    if op == "SendMessage"
                    else [e.get("MessageBody", "") for e in params.get("Entries") or []]
                )
                t.sqs_requests += max(1, math.ceil(sum(len(b.encode()) for b in bodies) / 65536))
            elif service == "sqs":
                t.sqs_requests += 1
            elif service == "events" and op == "PutEvents":
                t.events_put += sum(
                    max(1, math.ceil(len(json.dumps(e).encode()) / 65536))
                    for e in params.get("Entries") or []
                )


# --- the story --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def template(topic: str) -> dict[str, Any]:
    found = next(d for d in deliveries() if d["shop"] == SHOP.shop_id and d["topic"] == topic)
    return copy.deepcopy(found["body"])


def order_webhooks(n: int, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """One order's four webhooks: placed two survey-days ago, paid, shipped one ago, delivered just now (in
    real days, the first event would already be past the programme's 14-day lateness limit)."""
    day = timedelta(seconds=DAY_S)
    placed, shipped, delivered = now - 2 * day, now - day, now - day / 4
    email = f"customer{n}@example.com"
    order = template("orders/create")
    order.update(id=840000000000000000 + n, name=f"#{5000 + n}", email=email,
                 created_at=placed.strftime(STAMP), updated_at=placed.strftime(STAMP))  # fmt: skip
    order["customer"].update(id=7700000 + n, email=email, first_name=f"Customer{n}",
                             updated_at=placed.strftime(STAMP))  # fmt: skip
    paid = {**copy.deepcopy(order), "financial_status": "paid",
            "updated_at": (placed + day / 2).strftime(STAMP)}  # fmt: skip
    fulfillment = {**template("orders/fulfilled")["fulfillments"][0], "id": 880000 + n, "order_id": order["id"],
                   "created_at": shipped.strftime(STAMP), "updated_at": shipped.strftime(STAMP)}  # fmt: skip
    fulfilled = {**copy.deepcopy(paid), "fulfillment_status": "fulfilled", "updated_at": shipped.strftime(STAMP),
                 "fulfillments": [fulfillment]}  # fmt: skip
    event = {"id": 990000 + n, "fulfillment_id": fulfillment["id"], "order_id": order["id"], "status": "delivered",
             "happened_at": delivered.strftime(STAMP), "estimated_delivery_at": None}  # fmt: skip
    return [("orders/create", order), ("orders/paid", paid), ("orders/fulfilled", fulfilled),
            ("fulfillment_events/create", event)]  # fmt: skip


def send(stack: LocalStack, secret: str, topic: str, body: dict[str, Any], n: int) -> None:
    raw = json.dumps(body).encode()
    headers = webhook_headers(
        Platform.SHOPIFY, topic, raw, secret, SHOP.domain_for(Platform.SHOPIFY), f"cost-{topic}-{n}"
    )
    status, text = post(f"{stack.api_url}/webhooks/shopify/{SHOP.shop_id}", raw, headers)
    if status != 200:
        raise SystemExit(f"{topic} for order {n} refused with {status}: {text[:200]}")


def mails(stack: LocalStack, kind: str) -> list[Any]:
    """This run's e-mails whose Message-ID names ``kind`` (invite, remind...), or all with ''."""
    found = [m for _, m in read_inbox(stack.config.state_dir / "mail")]
    return [m for m in found if f".{kind}@" in str(m.get("Message-ID", ""))] if kind else found


def recipients(stack: LocalStack) -> int:
    return sum(len([a for a in str(m.get("To", "")).split(",") if a.strip()]) for m in mails(stack, ""))


def dispatch_until(stack: LocalStack, kind: str, expected: int, wait_s: float = 60.0) -> list[Any]:
    assert stack.pump is not None
    deadline = time.monotonic() + wait_s
    found: list[Any] = []
    while time.monotonic() < deadline:
        stack.pump.fire("feedback-dispatcher")
        found = mails(stack, kind)
        if len(found) >= expected:
            break
        time.sleep(DAY_S / 2)
    return found


def send_alerts(stack: LocalStack, minutes: int = 3) -> int:
    """Run the notifier's sender once a minute, as its schedule does in AWS, just after each minute ends
    (an immediate alert's batch closes with its minute), until the alerts reach Slack; the Slack messages
    sent."""
    assert stack.pump is not None
    sink = stack.config.state_dir / "slack.jsonl"
    for _ in range(minutes):
        time.sleep(61 - time.time() % 60)
        stack.pump.fire("notifier-sender")
        stack.wait_idle(30.0)
        sent = len(sink.read_text().splitlines()) if sink.exists() else 0
        if sent:
            return sent
    raise SystemExit(f"no alert reached Slack within {minutes} minutes: the story is incomplete")


def score_link(mail: Any) -> str:
    text = mail.get_body(preferencelist=("plain",))
    links = SCORE_LINK.findall(text.get_content() if text else "")
    if not links:
        raise SystemExit(f"no score link in the survey to {mail['To']}")
    return str(links[0][0])


def answer(url: str, score: int, comment: str) -> None:
    urllib.request.urlopen(f"{url}?score={score}", timeout=10).read()
    form = urllib.parse.urlencode({"comment": comment}).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10).read()


COMMENTS = (
    (2, "The seams ripped after one wash and nobody answered my email."),
    (9, "Lovely fabric and it arrived quickly."),
    (10, "Perfect fit, fast delivery, will order again."),
)


@dataclass
class Phase:
    name: str
    what: str
    tally: Tally


def play(stack: LocalStack, meter: Meter, orders: int) -> list[Phase]:
    admin = admin_for(stack)
    stored = admin.add_shop(SHOP)
    secret = stored.platforms[Platform.SHOPIFY].current
    survey_type, follow_up = DEMO_PROGRAMMES[SHOP.shop_id]
    programme = demo_programme(SHOP, survey_type, follow_up)
    # A survey-day is a second here and the consumer, on moto, takes seconds per batch: the default
    # 14-day lateness limit would suppress the last orders' surveys as too late.
    rules = programme.rules.model_copy(update={"max_lateness_days": LATENESS_DAYS})
    programme = programme.model_copy(update={"rules": rules})
    DynamoProgrammeStore(admin.dynamodb, admin.resources.tables["shops"]).put(SHOP.shop_id, programme)
    notify_demo(admin, SHOP, stack.api_url)
    log = stack.config.state_dir / "functions.log"

    def snapshot() -> Tally:
        stack.wait_idle(60.0)
        t = meter.tally.copy()
        t.mails = recipients(stack)
        t.log_bytes = log.stat().st_size if log.exists() else 0
        return t

    phases: list[Phase] = []
    before = snapshot()
    now = datetime.now(tz=UTC)
    for n in range(orders):
        for topic, body in order_webhooks(n, now):
            send(stack, secret, topic, body, n)
    after = snapshot()
    phases.append(Phase("orders", f"{orders} orders x 4 webhooks, processed", after.minus(before)))

    before = after
    time.sleep(3 * DAY_S)
    invites = dispatch_until(stack, "invite", orders)
    if len(invites) != orders:
        raise SystemExit(f"{len(invites)} of {orders} surveys were sent within 60 s: the story is incomplete")
    after = snapshot()
    phases.append(Phase("surveys", f"{len(invites)} surveys sent", after.minus(before)))

    before = after
    answered = invites[: orders // 2]
    for i, mail in enumerate(answered):
        score, comment = COMMENTS[i % len(COMMENTS)]
        answer(score_link(mail), score, comment)
    stack.wait_idle(90.0)
    detractors = sum(1 for i in range(len(answered)) if COMMENTS[i % len(COMMENTS)][0] <= 6)
    slack = send_alerts(stack)
    after = snapshot()
    alert_mails = after.mails - before.mails
    phases.append(Phase("answers", f"{len(answered)} answered with a comment ({detractors} detractors), "
                                   f"scored, cases opened; {slack} Slack message(s) and {alert_mails} "
                                   "alert e-mail(s) sent", after.minus(before)))  # fmt: skip

    before = after
    time.sleep(3 * DAY_S)
    reminders = dispatch_until(stack, "reminder", orders - len(answered))
    if len(reminders) != orders - len(answered):
        raise SystemExit(f"{len(reminders)} reminders sent, {orders - len(answered)} expected")
    after = snapshot()
    phases.append(Phase("reminders", f"{len(reminders)} reminders sent", after.minus(before)))
    return phases


# --- pricing ----------------------------------------------------------------------------------------------


def gb_seconds(t: Tally) -> float:
    return sum(t.ms[fn] / 1000 * topology.function(fn).memory_mb / 1024 for fn in t.ms)


def lines(t: Tally, scale: float) -> list[tuple[str, float, str, float]]:
    """(service, quantity per 1,000 orders, unit, dollars per 1,000 orders)."""
    invocations = sum(t.invocations.values())
    http = sum(n for fn, n in t.invocations.items() if fn in HTTP_FUNCTIONS)
    esm = 2 * sum(n for fn, n in t.invocations.items() if fn in QUEUE_FUNCTIONS)  # receive + delete
    secrets = sum(n for (_, service, _), n in t.calls.items() if service == "secretsmanager")
    gb_s = gb_seconds(t)
    p = {k: v[0] for k, v in PRICES.items()}
    rows = [
        ("Lambda requests", invocations, "invocations", p["lambda_request"]),
        ("Lambda duration", gb_s, "GB-s", p["lambda_gb_s"]),
        ("API Gateway HTTP API", http, "requests", p["apigw_request"]),
        ("DynamoDB writes", t.wru, "WRU (floor)", p["ddb_wru"]),
        ("DynamoDB reads", t.rru, "RRU", p["ddb_rru"]),
        ("SQS", t.sqs_requests + esm, "requests", p["sqs_request"]),
        ("EventBridge", t.events_put, "events put", p["eventbridge_event"]),
        ("Secrets Manager", secrets, "API calls", p["secrets_call"]),
        ("SES", t.mails, "e-mails", p["ses_message"]),
        ("X-Ray", invocations, "traces", p["xray_trace"]),
        ("CloudWatch Logs", t.log_bytes / 1e9, "GB ingested", p["logs_gb"]),
    ]
    return [(name, q * scale, unit, q * scale * price) for name, q, unit, price in rows]


def total(phases: list[Phase]) -> Tally:
    out = Tally()
    for ph in phases:
        t = ph.tally
        out.invocations += t.invocations
        out.ms += t.ms
        out.calls += t.calls
        out.wru += t.wru
        out.rru += t.rru
        out.sqs_requests += t.sqs_requests
        out.events_put += t.events_put
        out.mails += t.mails
        out.log_bytes += t.log_bytes
    return out


def report(phases: list[Phase], orders: int) -> None:
    scale = 1000 / orders
    everything = total(phases)
    print(f"\nThe story, {orders} orders (every figure below is per 1,000 orders: x {scale:g}):")
    for ph in phases:
        print(f"  {ph.name:<10} {ph.what}")

    print("\nAWS calls per 1,000 orders, by service and operation (the functions' own, counted):")
    by_op: Counter[tuple[str, str]] = Counter()
    for (_, service, op), n in everything.calls.items():
        by_op[(service, op)] += n
    for (service, op), n in sorted(by_op.items()):
        print(f"  {service:<16} {op:<26} {n * scale:>10,.0f}")
    print("  (+ SQS ReceiveMessage and DeleteMessageBatch of Lambda's event source mapping, modelled:")
    print(
        f"   1 each per queue-triggered invocation, {2 * sum(n for f, n in everything.invocations.items() if f in QUEUE_FUNCTIONS) * scale:,.0f})"
    )

    print("\nInvocations per 1,000 orders, by function (mean ms here, memory):")
    for fn, n in sorted(everything.invocations.items()):
        spec = topology.function(fn)
        print(f"  {fn:<22} {n * scale:>8,.0f}  {everything.ms[fn] / n:>6.0f} ms  {spec.memory_mb} MB")

    rows = lines(everything, scale)
    print("\nCost per 1,000 orders, us-east-1 list prices, before any free tier:")
    print(f"  {'service':<22} {'quantity':>14} {'unit':<14} {'dollars':>10}")
    for name, q, unit, dollars in rows:
        print(f"  {name:<22} {q:>14,.3f} {unit:<14} {dollars:>10.4f}")
    grand = sum(r[3] for r in rows)
    print(f"  {'TOTAL':<22} {'':>14} {'':<14} {grand:>10.4f}  (= {grand * 100:.1f} cents)")

    print("\nBy phase (dollars per 1,000 orders, each phase's own calls):")
    for ph in phases:
        print(f"  {ph.name:<10} {sum(r[3] for r in lines(ph.tally, scale)):.4f}")

    print(f"\nList prices used (us-east-1, read {PRICES_READ}):")
    for _key, (_value, text, url) in {**PRICES, **MONTHLY}.items():
        print(f"  {text:<44} {url}")
    alarms = len(topology.QUEUES) + 4
    print("\nFixed monthly costs, whatever the orders (not in the total):")
    print(f"  Secrets Manager: 1 secret per shop + the link keys: ${MONTHLY['secret_month'][0]:.2f} each.")
    print(f"  CloudWatch alarms: {alarms} standard alarms, ${alarms * MONTHLY['alarm_month'][0]:.2f} "
          "(10 alarm metrics are in the free tier).")  # fmt: skip
    print(
        "  Custom metrics: $0.30 per metric (name + dimension values) published in a month, pro rata by the"
    )
    print(
        "  hour; every outcome at least once in a month, one platform, is 28 metrics ($8.40): webhooks 6 by"
    )
    print(
        "  platform, refusals 4 reasons x 2 dimension sets, 7 survey and mail counts, 7 notifier counts; the"
    )
    print("  first 10 are in the free tier.")
    print(
        "  Scheduled functions (dispatcher and sender every minute, sweeper and puller every 5 minutes, the"
    )
    print("  daily job): about 100,000 invocations a month and their reads when idle, not measured here.")
    print("\nExcluded: every free tier (Lambda 1M requests and 400,000 GB-s, SQS 1M requests, X-Ray 100,000")
    print(
        "traces, CloudWatch Logs 5 GB, SES 3,000 messages for 12 months...), data transfer out, DynamoDB storage"
    )
    print(
        "($0.25 per GB-month) and PITR backups ($0.20 per GB-month), CloudWatch Logs storage after ingestion,"
    )
    print("Lambda's START/END/REPORT log lines and INIT time of cold starts, the layers' and code assets'")
    print("storage, idle SQS long polls of the event source mappings, the DynamoDB writes of GSIs and the")
    print(
        "whole-item size of updates (the DynamoDB write figure is a floor), KMS (queues use SSE-SQS), taxes."
    )
    print("Durations are measured against moto on this machine and spaCy runs on its CPU: AWS's differ.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20, help="orders played (even; default 20)")
    parser.add_argument("--keep-state", action="store_true", help="keep the stack's state folder")
    args = parser.parse_args(argv)
    if args.orders < 2 or args.orders % 2:
        parser.error("argument --orders: give an even number of 2 or more (half of the customers answer)")
    state = Path(tempfile.mkdtemp(prefix="cxloop-cost-"))
    config = StackConfig(
        state_dir=state,
        api_port=free_port(),
        moto_port=free_port(),
        smtp_port=free_port(),
        demo=False,
        day_seconds=DAY_S,
        # The story fires the dispatcher and the sender itself; nothing else runs on a schedule meanwhile.
        dispatch_every_s=86400,
        notify_every_s=86400,
        log_level="INFO",
    )
    meter = Meter()
    stack = LocalStack(config)
    try:
        with meter.installed():
            print(f"starting the local stack in {state} ...", flush=True)
            stack.start()
            phases = play(stack, meter, args.orders)
        report(phases, args.orders)
    finally:
        stack.stop()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
