"""Webhook intake benchmark: load, correctness, AWS API calls and cost of cxloop's feedback intake.

Starts ``cxloop run --no-demo`` (moto's server, the gateway invoking the Lambda handlers, the SQS
pump) on free ports in a temporary folder, seeds a shop per platform, posts signed webhooks
open-loop at a target rate, waits for the queue to drain, checks DynamoDB for lost, doubled and
out-of-order events, times the intake's cold import, counts AWS API calls per webhook in-process
and prices 1,000 orders. It prints figures and exits 0 whatever they are: it is not a test.

    .venv/bin/python benchmarks/intake.py [--webhooks 5000] [--rate 100] [--concurrency 8]

The fault run instead (issue 15): 2,000 webhooks at a steady rate, senders that retry as the platforms
do, and the stack's processes killed with SIGKILL three times at random (the stack, its AWS server, both)
and started again; it prints acknowledged, stored, processed, lost and duplicated, and each recovery:

    .venv/bin/python benchmarks/intake.py --faults 3 --webhooks 2000 --rate 20
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cxloop.admin import Admin
from cxloop.resources import Resources, resolve
from cxloop.signing import webhook_headers
from services.feedback.domain.orders.normalise import order_sk
from services.feedback.domain.webhooks.parsing import PARSERS
from shared import observability, topology
from shared.tenancy import Platform, Shop

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
REGION = "us-east-1"
PREFIX = "cxloop"

# What the local stack's functions see; set before any handler module (and its Logger) is imported.
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

# Public list prices, us-east-1 (DynamoDB on-demand as cut in November 2024; Lambda on arm64).
PRICE = {
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "lambda_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "apigw_request": 1.00 / 1e6,
    "secrets_call": 0.05 / 1e4,
    "secret_month": 0.40,
    "eventbridge_event": 1.00 / 1e6,
}

# Where each shop's webhooks say they come from (Shopify domain, WooCommerce site, BigCommerce store id).
SOURCES = {
    "bench-shopify": "bench-shopify.myshopify.com",
    "bench-woo": "https://bench-woo.example",
    "bench-bigcommerce": "2002",
    "bench-calls": "bench-calls.myshopify.com",
}


def make_shop(shop_id: str, name: str, platform: Platform) -> Shop:
    """A one-platform shop; copes with ``Shop.domain`` (one source) or ``Shop.domains`` (per platform)."""
    source: dict[str, Any] = (
        {"domains": {platform: SOURCES[shop_id]}}
        if "domains" in Shop.model_fields
        else {"domain": SOURCES[shop_id]}
    )
    return Shop(shop_id=shop_id, name=name, platforms=(platform,), **source)


SHOPS = {
    Platform.SHOPIFY: make_shop("bench-shopify", "Bench (Shopify)", Platform.SHOPIFY),
    Platform.WOOCOMMERCE: make_shop("bench-woo", "Bench (WooCommerce)", Platform.WOOCOMMERCE),
    Platform.BIGCOMMERCE: make_shop("bench-bigcommerce", "Bench (BigCommerce)", Platform.BIGCOMMERCE),
}
CALLS_SHOP = make_shop("bench-calls", "Bench (call counting)", Platform.SHOPIFY)
BASE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WRONG_SECRET = "this-is-not-the-shops-secret"
OK_OUTCOMES = ("accepted", "duplicate", "requeued", "deferred")


def zulu(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wru(size: int) -> int:
    return max(1, math.ceil(size / 1024))


# --- the local stack, as a subprocess ---------------------------------------------------------------


class StackProcess:
    """``cxloop run --no-demo`` on free ports with its own state folder; always stopped in ``finally``."""

    def __init__(self, state_dir: Path, durability: str = "full") -> None:
        self.state_dir = state_dir
        self.durability = durability
        self.api_port, self.moto_port, self.smtp_port = free_port(), free_port(), free_port()
        self.api = f"http://{HOST}:{self.api_port}"
        self.endpoint = f"http://{HOST}:{self.moto_port}"
        self.log = state_dir / "stack.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(self, timeout_s: float = 90.0) -> float:
        started = time.perf_counter()
        ports = ["--api-port", str(self.api_port), "--moto-port", str(self.moto_port)]
        cmd = [sys.executable, "-m", "cxloop.cli", "--state-dir", str(self.state_dir), "run", "--no-demo"]
        cmd += [*ports, "--smtp-port", str(self.smtp_port), "--durability", self.durability]
        env = self._env()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-3000:]
                raise SystemExit(f"the local stack exited with {self.proc.returncode}:\n{tail}")
            try:
                self.status()
                return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                time.sleep(0.3)
        raise SystemExit(f"the local stack did not answer within {timeout_s:.0f} s; see {self.log}")

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.api}/_local/status.json", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def aws_pid(self) -> int:
        assert self.proc is not None
        for pid in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split():
            if b"cxloop.local.aws_server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        raise RuntimeError("the stack has no AWS server child")

    def kill(self, which: str) -> None:
        """SIGKILL to the stack (``stack``), to its AWS server (``aws``) or to both at once (``all``)."""
        assert self.proc is not None
        if which == "aws":
            os.kill(self.aws_pid(), signal.SIGKILL)
            return
        if which == "all":
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def consumer(self, action: str) -> None:
        """Pause or resume the pump's delivery to the consumer (``/_local/pump/...``)."""
        url = f"{self.api}/_local/pump/feedback-events/{action}"
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10):
            pass

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
        # The stack stops moto itself; if a child of its process group outlived it, end it too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)

    def log_problems(self) -> dict[str, Any]:
        """ERROR entries in the functions' log; 5xx answers and tracebacks in moto's and the stack's."""
        errors: Counter[str] = Counter()
        functions = self.state_dir / "functions.log"
        text = functions.read_text(errors="replace") if functions.exists() else ""
        for entry_line in text.splitlines():
            if '"level":"ERROR"' not in entry_line:
                continue
            try:
                entry = json.loads(entry_line)
                errors[
                    f"{entry.get('message')} {entry.get('error') or entry.get('exception_name') or ''}"
                ] += 1
            except json.JSONDecodeError:
                errors[entry_line[:100]] += 1
        moto = self.state_dir / "moto.log"
        moto_text = moto.read_text(errors="replace") if moto.exists() else ""
        return {
            "errors": errors,
            "moto_5xx": sum(1 for ln in moto_text.splitlines() if re.search(r'HTTP/1\.1.*" 5\d\d ', ln)),
            "moto_tracebacks": moto_text.count("Traceback"),
            "stack_tracebacks": self.log.read_text(errors="replace").count("Traceback")
            if self.log.exists()
            else 0,
        }


def clients(endpoint: str, config: Config | None = None) -> dict[str, Any]:
    session = boto3.session.Session(region_name=REGION)
    return {
        n: session.client(n, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]
        for n in ("dynamodb", "sqs", "secretsmanager", "events")
    }


def seed(aws: dict[str, Any], resources: Resources) -> dict[str, str]:
    """A shop per platform (and one for the call count); returns each shop's signing secret."""
    admin = Admin(aws["dynamodb"], aws["sqs"], aws["secretsmanager"], aws["events"], resources)
    secrets = {}
    for shop in (*SHOPS.values(), CALLS_SHOP):
        stored = admin.add_shop(shop)  # BigCommerce without API credentials: thin status pings only
        secrets[shop.shop_id] = stored.platforms[shop.platforms[0]].current
    return secrets


# --- the workload ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Send:
    platform: Platform
    shop_id: str
    topic: str
    body: bytes
    event_id: str
    kind: str  # unique | dup | bad
    at: float  # when it should go, before pacing (s into the run)
    key: str = ""  # "<shop>|<raw event sort key>": the event's identity in the feedback table
    record: tuple[str, str] | None = None  # (sort key, attribute) the consumer must write for it
    value: datetime | None = None  # the time that attribute should hold if this event is the newest
    ooo: bool = False  # an older update sent after a newer one
    origin: Send | None = None  # what a duplicate repeats
    slot: float = 0.0  # scheduled send time (s after the start)
    headers: dict[str, str] | None = None
    status: int = 0
    outcome: str = ""
    latency: float = math.nan
    lag: float = math.nan
    handler_ms: float = math.nan  # the gateway's own timing of the Lambda handler (x-local-latency-ms)
    attempts: int = 0  # deliveries, retries included (the fault run retries as the platforms do)
    answered_at: float = math.nan  # perf_counter() when the final answer came


def shopify_order_body(
    oid: int, n: int, created: datetime, updated: datetime, financial: str, fulfilled: datetime | None = None
) -> dict[str, Any]:
    email = f"customer{n}@example.net"
    body: dict[str, Any] = {
        "id": oid,
        "name": f"#{n}",
        "email": email,
        "created_at": zulu(created),
        "updated_at": zulu(updated),
        "currency": "EUR",
        "total_price": "64.90",
        "financial_status": financial,
        "fulfillment_status": "fulfilled" if fulfilled else None,
        "cancelled_at": None,
        "closed_at": None,
        "customer_locale": "en",
        "test": False,
        "customer": {
            "id": 900_000_000 + n,
            "email": email,
            "first_name": "Ana",
            "last_name": f"Silva{n}",
            "updated_at": zulu(created),
        },
        "billing_address": {
            "first_name": "Ana",
            "last_name": f"Silva{n}",
            "city": "Lisbon",
            "country_code": "PT",
        },
        "line_items": [
            {
                "id": 1,
                "title": "Linen shirt",
                "quantity": 1,
                "product_id": 7001,
                "sku": "LIN-M-SAND",
                "price": "49.90",
            },
            {
                "id": 2,
                "title": "Canvas tote",
                "quantity": 1,
                "product_id": 7002,
                "sku": "TOTE-NAT",
                "price": "15.00",
            },
        ],
        "fulfillments": [],
    }
    if fulfilled:
        body["fulfillments"] = [
            {
                "id": 800_000_000 + n,
                "order_id": oid,
                "status": "success",
                "shipment_status": None,
                "tracking_company": "UPS",
                "tracking_numbers": [f"1Z{n:016d}"],
                "created_at": zulu(fulfilled),
                "updated_at": zulu(fulfilled),
            }
        ]
    return body


def fulfilment_event_body(oid: int, n: int, status: str, happened: datetime) -> dict[str, Any]:
    return {
        "id": 600_000_000 + n,
        "fulfillment_id": 800_000_000 + n,
        "order_id": oid,
        "status": status,
        "happened_at": zulu(happened),
        "estimated_delivery_at": None,
    }


def woo_order_body(wid: int, status: str, modified: datetime) -> dict[str, Any]:
    naive = lambda at: at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    return {
        "id": wid,
        "number": str(wid),
        "status": status,
        "currency": "EUR",
        "total": "38.50",
        "date_created_gmt": naive(BASE_TIME),
        "date_modified_gmt": naive(modified),
        "date_completed_gmt": naive(modified) if status == "completed" else None,
        "customer_id": 0,
        "billing": {"first_name": "Ines", "last_name": f"Costa{wid}", "email": f"ines{wid}@example.com"},
        "line_items": [{"id": 11, "name": "Ceramic mug", "product_id": 31, "quantity": 2, "sku": "MUG-BLUE"}],
        "refunds": [],
    }


def bigcommerce_ping_body(bid: int, old: int, new: int, at: datetime) -> dict[str, Any]:
    return {
        "scope": "store/order/statusUpdated",
        "store_id": SOURCES["bench-bigcommerce"],
        "data": {"type": "order", "id": bid, "status": {"previous_status_id": old, "new_status_id": new}},
        "hash": uuid.uuid4().hex,
        "created_at": int(at.timestamp()),
        "producer": "stores/bench2002",
    }


def dedupe_sort_key(platform: Platform, topic: str, body: bytes, event_id: str, source: str) -> str:
    """The raw event's sort key as the intake computes it (the platform's own parser)."""
    headers = {
        k.lower(): v
        for k, v in webhook_headers(platform, topic, body, WRONG_SECRET, source, event_id).items()
    }
    event = PARSERS[platform](topic, headers, body, datetime.now(tz=UTC))
    return f"EVENT#{platform.value}#{event.dedupe_key}"


class Workload:
    """Unique events (orders of three platforms), exact duplicates, forged signatures; then paced."""

    def __init__(self, total: int, rate: float, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.total = total
        self.span = total / rate
        self.n = 0
        self.sends: list[Send] = []

    def _send(
        self,
        platform: Platform,
        topic: str,
        body: dict[str, Any],
        at: float,
        kind: str,
        record: tuple[str, str],
        value: datetime,
        ooo: bool = False,
    ) -> Send:
        shop = SHOPS[platform]
        raw = json.dumps(body, separators=(",", ":")).encode()
        event_id = str(uuid.uuid4())
        key = f"{shop.shop_id}|{dedupe_sort_key(platform, topic, raw, event_id, SOURCES[shop.shop_id])}"
        return Send(platform, shop.shop_id, topic, raw, event_id, kind, at, key, record, value, ooo)

    def _gap(self) -> float:
        return self.rng.uniform(0.5, 3.0)

    def shopify(self, start: float, kind: str, ooo: bool) -> list[Send]:
        self.n += 1
        n, oid = self.n, 5_000_000_000 + self.n
        t0 = BASE_TIME + timedelta(minutes=n)
        t1, t2, t3 = t0 + timedelta(minutes=7), t0 + timedelta(minutes=31), t0 + timedelta(days=2)
        sk, p = order_sk(Platform.SHOPIFY, oid), Platform.SHOPIFY
        rec = (sk, "source_updated_at")
        at = start
        out = [
            self._send(p, "orders/create", shopify_order_body(oid, n, t0, t0, "pending"), at, kind, rec, t0)
        ]
        if kind == "bad":
            return out
        at += self._gap()
        if ooo:  # the newer update first, the older one 0.3-2 s later
            out.append(
                self._send(p, "orders/updated", shopify_order_body(oid, n, t0, t2, "paid"), at, kind, rec, t2)
            )
            at += self.rng.uniform(0.3, 2.0)
            out.append(
                self._send(
                    p,
                    "orders/updated",
                    shopify_order_body(oid, n, t0, t1, "pending"),
                    at,
                    kind,
                    rec,
                    t1,
                    ooo=True,
                )
            )
        else:
            out.append(
                self._send(p, "orders/updated", shopify_order_body(oid, n, t0, t1, "paid"), at, kind, rec, t1)
            )
        at += self._gap()
        ful = (f"{sk}#FUL#{800_000_000 + n}", "tracking_at")
        out.append(
            self._send(
                p,
                "fulfillment_events/create",
                fulfilment_event_body(oid, n, "delivered", t3),
                at,
                kind,
                ful,
                t3,
            )
        )
        return out

    def woocommerce(self, start: float, kind: str) -> list[Send]:
        self.n += 1
        wid, p = 40_000 + self.n, Platform.WOOCOMMERCE
        rec = (order_sk(p, wid), "source_updated_at")
        m1, m2 = (
            BASE_TIME + timedelta(minutes=self.n, seconds=5),
            BASE_TIME + timedelta(days=1, minutes=self.n),
        )
        out = [self._send(p, "order.updated", woo_order_body(wid, "processing", m1), start, kind, rec, m1)]
        if kind != "bad":
            out.append(
                self._send(
                    p,
                    "order.updated",
                    woo_order_body(wid, "completed", m2),
                    start + self._gap(),
                    kind,
                    rec,
                    m2,
                )
            )
        return out

    def bigcommerce(self, start: float, kind: str) -> list[Send]:
        self.n += 1
        bid, p = 30_000 + self.n, Platform.BIGCOMMERCE
        rec = (order_sk(p, bid), "status_ping_at")
        e1 = BASE_TIME + timedelta(minutes=self.n)
        e2 = e1 + timedelta(hours=1)
        topic = "store/order/statusUpdated"
        out = [self._send(p, topic, bigcommerce_ping_body(bid, 11, 9, e1), start, kind, rec, e1)]
        if kind != "bad":
            out.append(
                self._send(p, topic, bigcommerce_ping_body(bid, 9, 2, e2), start + self._gap(), kind, rec, e2)
            )
        return out

    def _order(self, kind: str) -> list[Send]:
        start = self.rng.uniform(0, self.span * 0.85)
        r = self.rng.random()
        if r < 0.10:
            return self.woocommerce(start, kind)
        if r < 0.16:
            return self.bigcommerce(start, kind)
        return self.shopify(start, kind, ooo=kind == "unique" and self.rng.random() < 0.10)

    def build(self, rate: float) -> list[Send]:
        n_bad = max(1, round(self.total * 0.01))
        n_dup = round(self.total * 0.10)
        n_unique = self.total - n_bad - n_dup
        uniques: list[Send] = []
        while len(uniques) < n_unique:
            uniques.extend(self._order("unique"))
        uniques = uniques[:n_unique]
        dups = []
        for origin in self.rng.sample(uniques, n_dup):  # exact re-deliveries, 0.2-5 s after the original
            dups.append(
                Send(
                    origin.platform,
                    origin.shop_id,
                    origin.topic,
                    origin.body,
                    origin.event_id,
                    "dup",
                    origin.at + self.rng.uniform(0.2, 5.0),
                    origin.key,
                    origin.record,
                    origin.value,
                    origin=origin,
                )
            )
        bad = [self._order("bad")[0] for _ in range(n_bad)]
        self.sends = sorted(uniques + dups + bad, key=lambda s: s.at)
        for i, s in enumerate(self.sends):
            s.slot = i / rate
        return self.sends


# --- open-loop sender --------------------------------------------------------------------------------


class Sender:
    """Workers share one schedule: each takes the next webhook, waits for its slot, posts it on its own
    persistent connection. A slow response delays only that worker (open loop while any is free)."""

    def __init__(
        self, api_port: int, sends: list[Send], secrets: dict[str, str], concurrency: int, deadline_s: float
    ) -> None:
        self.port = api_port
        self.sends = sends
        self.secrets = secrets
        self.concurrency = concurrency
        self.deadline_s = deadline_s  # nothing new starts after this (the system is not keeping up)
        self._next = 0
        self._lock = threading.Lock()
        self.t0 = 0.0
        self.errors: Counter[str] = Counter()

    def _take(self) -> Send | None:
        with self._lock:
            if self._next >= len(self.sends) or time.perf_counter() - self.t0 > self.deadline_s:
                return None
            self._next += 1
            return self.sends[self._next - 1]

    def _headers(self, s: Send) -> dict[str, str]:
        if s.origin is not None and s.origin.headers is not None:
            return s.origin.headers  # an exact duplicate: same body, same headers
        secret = WRONG_SECRET if s.kind == "bad" else self.secrets[s.shop_id]
        return webhook_headers(s.platform, s.topic, s.body, secret, SOURCES[s.shop_id], s.event_id)

    def _post(self, conn: http.client.HTTPConnection, s: Send) -> http.client.HTTPConnection:
        path = f"/webhooks/{s.platform.value}/{s.shop_id}"
        due = self.t0 + s.slot
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        s.headers = self._headers(s)
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=s.body, headers=s.headers)
            response = conn.getresponse()
            data = response.read()
            s.status = response.status
            s.handler_ms = float(response.getheader("x-local-latency-ms") or "nan")
            s.outcome = json.loads(data).get("status", "") if response.status == 200 else str(response.status)
        except (OSError, http.client.HTTPException, json.JSONDecodeError) as e:
            s.status, s.outcome = -1, f"error:{type(e).__name__}"
            self.errors[type(e).__name__] += 1
            conn.close()
            conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
        end = time.perf_counter()
        s.latency, s.lag = end - start, start - due
        return conn

    def _worker(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
        try:
            while (s := self._take()) is not None:
                conn = self._post(conn, s)
        finally:
            conn.close()

    def run(self) -> float:
        self.t0 = time.perf_counter() + 0.2
        workers = [threading.Thread(target=self._worker, name=f"send-{i}") for i in range(self.concurrency)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for s in self.sends[self._next :]:
            s.outcome = "unsent"
        return time.perf_counter() - self.t0


class Backlog:
    """Samples the stack's queue depth while the load runs."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.max_depth = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            try:
                depth = sum(q["visible"] + q["in_flight"] for q in self.stack.status()["queues"])
            except (OSError, ValueError):
                continue
            self.max_depth = max(self.max_depth, depth)

    def __enter__(self) -> Backlog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def drain(stack: StackProcess, timeout_s: float) -> tuple[bool, float, dict[str, Any]]:
    """Until every queue is empty (visible and in flight) twice in a row, or the timeout."""
    started = time.perf_counter()
    empty_polls = 0
    status: dict[str, Any] = {}
    while time.perf_counter() - started < timeout_s:
        status = stack.status()
        empty = all(q["visible"] == 0 and q["in_flight"] == 0 for q in status["queues"])
        empty_polls = empty_polls + 1 if empty else 0
        if empty_polls >= 2:
            return True, time.perf_counter() - started, status
        time.sleep(0.5)
    return False, time.perf_counter() - started, status


# --- verification against DynamoDB ---------------------------------------------------------------------


def scan(ddb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def av_size(value: dict[str, Any]) -> int:
    """Approximately what DynamoDB bills for one attribute value."""
    ((kind, v),) = value.items()
    if kind in ("S", "B"):
        return len(v.encode()) if isinstance(v, str) else len(v)
    if kind == "N":
        return len(str(v).lstrip("-").replace(".", "")) // 2 + 2
    if kind == "L":
        return 3 + sum(av_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + av_size(e) + 1 for k, e in v.items())
    if kind in ("SS", "NS", "BS"):
        return sum(len(e.encode()) if isinstance(e, str) else len(e) for e in v)
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + av_size(v) for k, v in item.items())


@dataclass
class Verdict:
    acked: int = 0
    not_acked: int = 0
    lost: Counter[str] = field(default_factory=Counter)
    dup_acted: int = 0
    never_accepted: int = 0
    self_duplicate: int = 0
    requeued: int = 0
    raw_twice: int = 0
    raw_events: int = 0
    unexpected_raw: int = 0
    bad_stored: int = 0
    bad_sent: int = 0
    bad_not_401: int = 0
    orders: int = 0
    final_mismatch: int = 0
    ooo_orders: int = 0
    ooo_violations: int = 0
    ooo_pending: int = 0
    final_pending: int = 0
    sizes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


def _split(key: str) -> tuple[str, str]:
    shop, _, sk = key.partition("|")
    return f"SHOP#{shop}", sk


def _missing(
    key: str, record: tuple[str, str] | None, items: dict[tuple[str, str], dict[str, Any]], retried: bool
) -> str:
    """Why an acknowledged event counts as lost, or "" when its raw event and record are there."""
    pk, sk = _split(key)
    raw = items.get((pk, sk))
    if raw is None:
        return "raw event missing" + (" (a delivery got 5xx: a platform would retry it)" if retried else "")
    if "pending_pk" in raw:
        return "raw event still pending"
    target = items.get((pk, record[0])) if record else None
    if target is None or (record and record[1] not in target):
        return "order record missing"
    return ""


def _check_events(sends: list[Send], items: dict[tuple[str, str], dict[str, Any]], v: Verdict) -> None:
    by_key: dict[str, list[Send]] = defaultdict(list)
    for s in sends:
        if s.kind != "bad":
            by_key[s.key].append(s)
    for key, group in by_key.items():
        outcomes = Counter(s.outcome for s in group)
        v.dup_acted += max(0, outcomes["accepted"] - 1)
        v.requeued += outcomes["requeued"]
        if not any(o in OK_OUTCOMES for o in outcomes):
            v.not_acked += 1
            continue
        v.acked += 1
        # Acknowledged, but never as "accepted": the intake took its own earlier write for a duplicate.
        v.never_accepted += outcomes["accepted"] == 0
        v.self_duplicate += len(group) == 1 and outcomes["duplicate"] == 1
        problem = _missing(key, group[0].record, items, retried=any(s.status >= 500 for s in group))
        if problem:
            v.lost[problem] += 1
    expected = {_split(k) for k in by_key}
    dedupe: Counter[tuple[str, str]] = Counter()
    for (pk, sk), item in items.items():
        if sk.startswith("EVENT#"):
            v.raw_events += 1
            dedupe[(pk, item.get("dedupe_key", {}).get("S", sk))] += 1
            v.unexpected_raw += (pk, sk) not in expected
    v.raw_twice = sum(c - 1 for c in dedupe.values() if c > 1)
    for s in sends:
        if s.kind == "bad" and s.status != 0:
            v.bad_sent += 1
            v.bad_not_401 += s.status != 401
            v.bad_stored += _split(s.key) in items


def _check_finals(sends: list[Send], items: dict[tuple[str, str], dict[str, Any]], v: Verdict) -> None:
    """The newest time among the acknowledged events of each record must be the one stored. A mismatch
    whose newest event is still pending (stored, never processed) is counted apart from an ordering fault."""
    acked = {s.key for s in sends if s.outcome in OK_OUTCOMES}
    newest: dict[tuple[str, str, str], Send] = {}
    ooo: set[tuple[str, str, str]] = set()
    for s in sends:
        if s.kind != "unique" or s.record is None or s.value is None or s.key not in acked:
            continue
        target = (f"SHOP#{s.shop_id}", *s.record)
        best = newest.get(target)
        if best is None or (best.value is not None and s.value > best.value):
            newest[target] = s
        if s.ooo:
            ooo.add(target)
    for (pk, sk, attr), send in newest.items():
        stored = (items.get((pk, sk)) or {}).get(attr, {}).get("S")
        ok = stored is not None and datetime.fromisoformat(stored) == send.value
        pending = not ok and "pending_pk" in (items.get(_split(send.key)) or {})
        v.orders += 1
        v.final_mismatch += not ok
        v.final_pending += pending
        if (pk, sk, attr) in ooo:
            v.ooo_orders += 1
            v.ooo_violations += not ok
            v.ooo_pending += pending


def verify(ddb: Any, table: str, sends: list[Send]) -> Verdict:
    items = {k: i for k, i in scan(ddb, table).items() if not k[0].startswith(f"SHOP#{CALLS_SHOP.shop_id}")}
    v = Verdict()
    _check_events(sends, items, v)
    _check_finals(sends, items, v)
    for (_, sk), item in items.items():
        kind = (
            "raw event"
            if sk.startswith("EVENT#")
            else item.get("kind", {}).get("S", sk.split("#")[0].lower())
        )
        v.sizes[kind].append(item_size(item))
    return v


# --- fault run: SIGKILL during the load ----------------------------------------------------------------

# A platform retries a webhook for hours (Shopify: 8 times over 4 h); the run gives each two minutes.
RETRY_FOR_S = 120.0
# Events the intake stored but could not queue go to the sweeper; locally it takes those 20 s old.
FAULT_ENV = {"CXLOOP_REQUEUE_AFTER_SECONDS": "20"}


class RetryingSender(Sender):
    """Delivers as the platforms do: no answer, or a 5xx, is tried again with backoff; a 4xx is final."""

    def _post(self, conn: http.client.HTTPConnection, s: Send) -> http.client.HTTPConnection:
        backoff, first_failure = 0.5, math.nan
        while True:
            conn = super()._post(conn, s)
            s.attempts += 1
            if s.status == 200 or 400 <= s.status < 500:
                break
            if math.isnan(first_failure):
                first_failure = time.perf_counter()
            if time.perf_counter() - first_failure > RETRY_FOR_S:
                break
            time.sleep(backoff)
            backoff = min(backoff * 2, 8.0)
        s.answered_at = time.perf_counter()
        return conn


@dataclass
class Fault:
    which: str  # stack | aws | all
    at: float  # seconds into the load
    killed_at: float = math.nan
    up_s: float = math.nan  # until the stack answered again with its AWS server up


class Chaos:
    """SIGKILLs at random moments of the load; a killed stack is started again at once, as a service
    manager would, on the same state folder and ports."""

    def __init__(self, stack: StackProcess, n: int, span_s: float, rng: random.Random) -> None:
        kinds = ["stack", "aws", "all"]
        rng.shuffle(kinds)
        times = sorted(rng.uniform(0.15, 0.85) * span_s for _ in range(n))
        self.stack = stack
        self.faults = [Fault(kinds[i % len(kinds)], t) for i, t in enumerate(times)]
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None

    def start(self, t0: float) -> None:
        self._thread = threading.Thread(target=self._run, args=(t0,), name="chaos", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread:
            self._thread.join()

    def _aws_up(self, restarts_before: int | None) -> bool:
        try:
            status = self.stack.status()
        except (OSError, ValueError):
            return False
        restarted = restarts_before is None or len(status["state"]["aws_restarts"]) > restarts_before
        return bool(status.get("aws") == "up" and restarted)

    def _run(self, t0: float) -> None:
        for fault in self.faults:
            time.sleep(max(0.0, t0 + fault.at - time.perf_counter()))
            try:
                before = len(self.stack.status()["state"]["aws_restarts"]) if fault.which == "aws" else None
                fault.killed_at = time.perf_counter()
                self.stack.kill(fault.which)
                if fault.which != "aws":
                    self.stack.start()
                while not self._aws_up(before):
                    if time.perf_counter() - fault.killed_at > 120:
                        raise RuntimeError("not back within 120 s")
                    time.sleep(0.05)
                fault.up_s = time.perf_counter() - fault.killed_at
            except (OSError, RuntimeError, SystemExit) as e:
                self.errors.append(f"{fault.which} at {fault.at:.0f} s: {e}")


def settle_pending(stack: StackProcess, ddb: Any, table: str, timeout_s: float) -> tuple[bool, int]:
    """Fire the sweeper until no raw event is pending (stored, never processed) or the timeout."""
    deadline = time.monotonic() + timeout_s
    fired = 0
    while True:
        pending = [
            k for k, item in scan(ddb, table).items() if k[1].startswith("EVENT#") and "pending_pk" in item
        ]
        if not pending:
            return True, fired
        if time.monotonic() > deadline:
            return False, fired
        time.sleep(max(0.0, float(FAULT_ENV["CXLOOP_REQUEUE_AFTER_SECONDS"]) / 4))
        url = f"{stack.api}/_local/schedules/feedback-sweeper"
        with contextlib.suppress(OSError):
            urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30).close()
            fired += 1
        drain(stack, 60)


def report_faults(
    sends: list[Send], chaos: Chaos, v: Verdict, drained: bool, settled: bool, sweeps: int
) -> None:
    unique = [s for s in sends if s.kind != "bad"]
    outcomes = Counter(s.outcome for s in unique)
    retried = sum(1 for s in unique if s.attempts > 1)
    lost = sum(v.lost.values())
    stored = v.acked - v.lost.get("raw event missing", 0)
    print("\nFault run (SIGKILL during the load)")
    line("webhooks sent (unique events, duplicates, forged)", f"{len(sends):,}")
    line(
        "deliveries retried after no answer or a 5xx",
        f"{retried:,} ({sum(s.attempts for s in sends):,} attempts)",
    )
    line("answers", ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
    line("unique events acknowledged (200)", f"{v.acked:,} (never acknowledged: {v.not_acked})")
    line("stored (raw event in DynamoDB)", f"{stored:,}")
    line("processed (applied to the order)", f"{v.acked - lost:,}")
    detail = ", ".join(f"{k}: {n}" for k, n in v.lost.items())
    line("lost (acknowledged, not applied)", f"{lost}" + (f" ({detail})" if detail else ""))
    line("duplicated actions (accepted twice, raw stored twice)", f"{v.dup_acted + v.raw_twice}")
    line("final-state mismatches", f"{v.final_mismatch} of {v.orders:,}")
    line(
        "queues drained / pending settled",
        f"{'yes' if drained else 'NO'} / {'yes' if settled else 'NO'} ({sweeps} sweeps)",
    )
    for n, fault in enumerate(chaos.faults, 1):
        # The first acknowledgement to a delivery that began after the kill.
        after = [
            s.answered_at for s in sends if s.status == 200 and s.answered_at - s.latency > fault.killed_at
        ]
        first_ack = min(after) - fault.killed_at if after else math.nan
        line(
            f"kill {n}: SIGKILL {fault.which} at {fault.at:.0f} s",
            f"back up in {fault.up_s:.1f} s; first webhook acknowledged after {first_ack:.1f} s",
        )
    for error in chaos.errors:
        line("chaos error", error)
    verdict_line(lost == 0 and v.not_acked == 0, f"lost: {lost} (0); never acknowledged: {v.not_acked} (0)")
    verdict_line(v.dup_acted + v.raw_twice == 0, f"duplicated actions: {v.dup_acted + v.raw_twice} (0)")


def fault_run(args: argparse.Namespace) -> int:
    os.environ.update(LOCAL_ENV)
    os.environ.update(FAULT_ENV)
    state = Path(tempfile.mkdtemp(prefix="cxloop-faults-"))
    stack = StackProcess(state, args.durability)
    began = time.perf_counter()
    try:
        up = stack.start()
        print(f"cxloop intake fault run: stack up in {up:.1f} s at {stack.api}; state folder {state}")
        aws = clients(stack.endpoint)
        resources = resolve(aws["sqs"], PREFIX)
        secrets = seed(aws, resources)
        sends = Workload(args.webhooks, args.rate, args.seed).build(args.rate)
        span = args.webhooks / args.rate
        print(
            f"  {args.webhooks:,} webhooks at {args.rate:g}/s (~{span:.0f} s), {args.faults} SIGKILLs, consumer running"
        )
        chaos = Chaos(stack, args.faults, span, random.Random(args.seed))
        # Retries hold a sender while the stack is down: more of them keep the schedule going.
        senders = max(args.concurrency, 32)
        # No deadline: a platform delivers every webhook however late; the rate reached is reported.
        sender = RetryingSender(stack.api_port, sends, secrets, senders, math.inf)
        chaos.start(time.perf_counter() + 0.2)
        elapsed = sender.run()
        chaos.join()
        print(f"  sent in {elapsed:.0f} s ({len(sends) / elapsed:.1f} webhooks/s reached)")
        drained, _, _ = drain(stack, args.drain_timeout)
        table = resources.tables["feedback"]
        settled, sweeps = settle_pending(stack, aws["dynamodb"], table, 180)
        verdict = verify(aws["dynamodb"], table, sends)
        report_faults(sends, chaos, verdict, drained, settled, sweeps)
        report_stack_log(stack)
        print(f"\n(total run {time.perf_counter() - began:.0f} s)")
    finally:
        stack.stop()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
    return 0


# --- cold import ------------------------------------------------------------------------------------------


def median_run(code: str, env: dict[str, str], runs: int = 5) -> float:
    """Median wall time of ``python -c code`` in a fresh process (after one discarded warm-up run)."""
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if i:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def heaviest_imports(env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """Third-party packages by their largest cumulative import time (``python -X importtime``), in s.
    Nested packages overlap (botocore is inside boto3)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import services.feedback.handlers.webhooks"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    packages: dict[str, float] = {}
    for row in run.stderr.splitlines():
        parts = row.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        if package not in ("services", "shared", "cxloop"):
            packages[package] = max(packages.get(package, 0.0), int(parts[1]) / 1e6)
    return sorted(packages.items(), key=lambda kv: -kv[1])[:top]


def cold_import(endpoint: str, resources: Resources) -> dict[str, Any]:
    env = {**os.environ, **LOCAL_ENV, "AWS_ENDPOINT_URL": endpoint, **resources.env()}
    return {
        "pass": median_run("pass", env),
        "import": median_run("import services.feedback.handlers.webhooks", env),
        "ready": median_run("import services.feedback.handlers.webhooks as w; w.bootstrap.intake()", env),
        "heaviest": heaviest_imports(env),
    }


# --- AWS API calls per webhook, in-process -----------------------------------------------------------------


class CallCounter:
    """Counts API calls by (phase, side, operation) with botocore event hooks; keeps their parameters."""

    def __init__(self) -> None:
        self.phase = "accepted"
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.params: list[tuple[str, str, dict[str, Any]]] = []

    def client(self, side: str, service: str, endpoint: str, config: Config) -> Any:
        c = boto3.session.Session(region_name=REGION).client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]

        def on_call(model: Any, **_: Any) -> None:
            self.calls[(self.phase, side, model.name)] += 1

        def on_params(params: dict[str, Any], model: Any, **_: Any) -> None:
            if self.phase == "accepted":
                self.params.append((side, model.name, params))

        c.meta.events.register("before-call.*.*", on_call)
        c.meta.events.register("before-parameter-build.*.*", on_params)
        return c

    def ops(self, phase: str, side: str | None = None) -> Counter[str]:
        out: Counter[str] = Counter()
        for (ph, sd, op), n in self.calls.items():
            if ph == phase and side in (None, sd):
                out[op if side else f"{sd}:{op}"] += n
        return out


@dataclass
class Calls:
    accepted: int = 0
    webhooks_per_order: int = 4
    intake: Counter[str] = field(default_factory=Counter)
    consumer: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    duplicate_calls: Counter[str] = field(default_factory=Counter)
    processed: int = 0
    batches: int = 0
    failures: int = 0
    intake_ms: list[float] = field(default_factory=list)
    batch_ms: list[float] = field(default_factory=list)
    intake_wru: float = 0.0
    intake_rru: float = 0.0
    consumer_wru: float = 0.0
    consumer_rru: float = 0.0
    sqs_sends: float = 0.0
    message_bytes: list[int] = field(default_factory=list)
    errors: int = 0
    wru_by_kind: Counter[str] = field(default_factory=Counter)
    retried_transactions: int = 0
    last_marker: str = ""


def api_event(platform: str, shop_id: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the local gateway builds it."""
    path = f"/webhooks/{platform}/{shop_id}"
    route = "POST /webhooks/{platform}/{shop_id}"
    now = datetime.now(tz=UTC)
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": {"platform": platform, "shop_id": shop_id},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "localhost",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def calls_webhooks(orders: int, secret: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """Each order's life as four Shopify webhooks: created, paid, fulfilled, delivered."""
    out = []
    p, domain = Platform.SHOPIFY, SOURCES[CALLS_SHOP.shop_id]
    for i in range(orders):
        n, oid = 900_000 + i, 6_000_000_000 + i
        t0 = BASE_TIME + timedelta(minutes=i)
        t1, t2, t3 = t0 + timedelta(minutes=5), t0 + timedelta(days=1), t0 + timedelta(days=3)
        bodies = [
            ("orders/create", shopify_order_body(oid, n, t0, t0, "pending")),
            ("orders/paid", shopify_order_body(oid, n, t0, t1, "paid")),
            ("orders/fulfilled", shopify_order_body(oid, n, t0, t2, "paid", fulfilled=t2)),
            ("fulfillment_events/create", fulfilment_event_body(oid, n, "delivered", t3)),
        ]
        for topic, body in bodies:
            raw = json.dumps(body, separators=(",", ":")).encode()
            out.append((topic, raw, webhook_headers(p, topic, raw, secret, domain, str(uuid.uuid4()))))
    return out


def _invoke_intake(
    handler: Any, hooks: list[tuple[str, bytes, dict[str, str]]], ctx: Any
) -> tuple[Counter[str], list[float]]:
    outcomes: Counter[str] = Counter()
    times = []
    for _, raw, headers in hooks:
        started = time.perf_counter()
        result = handler(api_event("shopify", CALLS_SHOP.shop_id, headers, raw), ctx())
        times.append((time.perf_counter() - started) * 1000)
        outcomes[json.loads(result["body"]).get("status", str(result["statusCode"]))] += 1
    return outcomes, times


def _consume(handler: Any, sqs: Any, url: str, ctx: Any, calls: Calls) -> None:
    """What Lambda's event source mapping does: batches of up to 10, delete what succeeded.
    Receive and delete go through an uncounted client; they are added back amortised."""
    from cxloop.local.pump import sqs_record

    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    empty = 0
    while empty < 2:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            empty += 1
            continue
        empty = 0
        started = time.perf_counter()
        try:
            result = handler({"Records": [sqs_record(m, arn, REGION) for m in batch]}, ctx())
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # every record failed: the whole batch goes back, as on Lambda
            failed = {m["MessageId"] for m in batch}
        calls.batch_ms.append((time.perf_counter() - started) * 1000)
        calls.failures += len(failed)
        calls.processed += len(batch) - len(failed)
        calls.batches += 1
        done = [m for m in batch if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )


def _units(counter: CallCounter, sizes: dict[tuple[str, str], int], calls: Calls) -> None:
    """DynamoDB request units and SQS requests of the calls made for accepted webhooks."""
    for side, op, params in counter.params:
        if op == "PutItem":
            item = params["Item"]
            # + 1 WRU per index entry: both indexes project keys only (a few bytes each)
            units = wru(item_size(item)) + ("gsi1pk" in item) + ("pending_pk" in item)
            calls.intake_wru += units if side == "intake" else 0
            calls.consumer_wru += units if side == "consumer" else 0
        elif op == "GetItem":
            units = 1.0 if params.get("ConsistentRead") else 0.5
            calls.intake_rru += units if side == "intake" else 0
            calls.consumer_rru += units if side == "consumer" else 0
        elif op == "TransactWriteItems" and side == "intake":
            # The raw event's put with the check of the shop's tombstone: 2 WRU per KB, the check 2.
            for part in params["TransactItems"]:
                ((kind, body),) = part.items()
                item = body.get("Item", {})
                calls.intake_wru += (
                    2 * wru(item_size(item)) + ("gsi1pk" in item) + ("pending_pk" in item)
                    if kind == "Put"
                    else 2
                )
        elif op == "TransactWriteItems":
            _transact(params["TransactItems"], sizes, calls)
        elif op == "SendMessage":
            size = len(params["MessageBody"].encode()) + sum(
                len(k) + len(v.get("StringValue", "")) + len(v["DataType"])
                for k, v in params.get("MessageAttributes", {}).items()
            )
            calls.message_bytes.append(size)
            calls.sqs_sends += math.ceil(size / 65536)


def _transact(ops: list[dict[str, Any]], sizes: dict[tuple[str, str], int], calls: Calls) -> None:
    """WRU of one transaction by item kind. A transaction followed by another marking the same raw event
    processed was cancelled (a stale change) and retried without the stale part: both are counted."""
    marker = ""
    for op in ops:
        ((_, body),) = op.items()
        sk = body["Key"]["sk"]["S"]
        kind = sk.split("#", 1)[0].lower()
        if sk.startswith("ORDER#") and "#FUL#" in sk:
            kind = "fulfilment"
        elif sk.startswith("EVENT#"):
            kind, marker = "raw event (processed)", sk
        units = _transact_units(op, sizes)
        calls.consumer_wru += units
        calls.wru_by_kind[kind] += units
    if marker and marker == calls.last_marker:
        calls.retried_transactions += 1
    calls.last_marker = marker


def _transact_units(op: dict[str, Any], sizes: dict[tuple[str, str], int]) -> int:
    """2 WRU per KB per item in a transaction; plus 1 WRU when an update sets the gsi1 keys (a keys-only
    entry; counted even when unchanged) and 1 for leaving the sparse ``pending`` index. ConditionCheck
    counted as 2 WRU."""
    ((kind, body),) = op.items()
    if kind == "ConditionCheck":
        return 2
    key = (body["Key"]["pk"]["S"], body["Key"]["sk"]["S"])
    size = sizes.get(key, 1024)
    units = 2 * wru(size)
    if ":g1" in body.get("ExpressionAttributeValues", {}):
        units += 1  # the update sets gsi1pk/gsi1sk: a keys-only index entry
    if "REMOVE pending_pk" in body.get("UpdateExpression", ""):
        units += 1
    return units


def clone_table(ddb: Any, source: str, name: str) -> None:
    """An empty table shaped like ``source`` (keys, indexes), so the count starts from a small table."""
    desc = ddb.describe_table(TableName=source)["Table"]
    kwargs: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": desc["AttributeDefinitions"],
        "KeySchema": desc["KeySchema"],
    }
    gsis = [
        {k: g[k] for k in ("IndexName", "KeySchema", "Projection")}
        for g in desc.get("GlobalSecondaryIndexes", [])
    ]
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    ddb.create_table(**kwargs)


def build_counted(endpoint: str, resources: Resources, table: str, url: str, counter: CallCounter) -> None:
    """The intake and the consumer with instrumented clients, installed into their handler modules."""
    from services.feedback import bootstrap as feedback_bootstrap
    from services.feedback.adapters.sqs_queue import SqsEventQueue
    from services.feedback.bootstrap import build_consumer, build_intake
    from shared import aws
    from shared.events import EventBridgePublisher
    from shared.secrets_store import SecretsManagerStore
    from shared.settings import AwsSettings, ConsumerSettings, IntakeSettings

    i_ = {s: counter.client("intake", s, endpoint, aws.FAST) for s in ("dynamodb", "secretsmanager", "sqs")}
    c_ = {
        s: counter.client("consumer", s, endpoint, aws.STANDARD)
        for s in ("dynamodb", "secretsmanager", "sqs", "events")
    }
    names = {
        "aws": AwsSettings(region=REGION, endpoint_url=endpoint),
        "shops_table": resources.tables["shops"],
        "feedback_table": table,
        "events_queue_url": url,
        "secrets_prefix": PREFIX,
    }
    intake = build_intake(
        IntakeSettings(**names),
        dynamodb=i_["dynamodb"],
        secrets=SecretsManagerStore(i_["secretsmanager"], PREFIX),
        queue=SqsEventQueue(i_["sqs"], url),
    )
    consumer = build_consumer(
        ConsumerSettings(**names, event_bus_name=resources.bus_name),
        dynamodb=c_["dynamodb"],
        secrets=SecretsManagerStore(c_["secretsmanager"], PREFIX),
        publisher=EventBridgePublisher(c_["events"], resources.bus_name, "feedback"),
        queue=SqsEventQueue(c_["sqs"], url),
    )
    feedback_bootstrap.intake.use(intake)
    feedback_bootstrap.consumer.use(consumer)


def _clear(ddb: Any, table: str, sizes: dict[tuple[str, str], int]) -> None:
    """Note every item's size, then empty the table (moto's TransactWriteItems copies the whole table)."""
    items = scan(ddb, table)
    sizes.update({k: item_size(i) for k, i in items.items()})
    keys = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in items]
    for start in range(0, len(keys), 25):
        requests = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
        while requests:
            requests = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}


def quiet_function_logs(path: Path) -> None:
    """The in-process handlers' JSON logs go to a file (as the stack does), not into the report."""
    stream = path.open("a", buffering=1)
    for handler in logging.getLogger("feedback").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def measure_calls(
    endpoint: str, resources: Resources, secret: str, orders: int, per_order: int, log: Path
) -> Calls:
    """Orders through the real handlers in this process, against moto, on an empty copy of the feedback
    table and a private queue (the stack's pump must not take the messages). Ten orders at a time: their
    webhooks, the consumer, 10 % re-sent as duplicates; then item sizes are noted and the table emptied."""
    from cxloop.local.runtime import LambdaContext
    from services.feedback.handlers import events as events_fn
    from services.feedback.handlers import webhooks as webhooks_fn

    quiet_function_logs(log)
    plain = clients(endpoint)
    suffix = uuid.uuid4().hex[:8]
    table = f"{PREFIX}-bench-calls-{suffix}"
    clone_table(plain["dynamodb"], resources.tables["feedback"], table)
    url = plain["sqs"].create_queue(QueueName=f"{PREFIX}-bench-calls-{suffix}")["QueueUrl"]
    counter = CallCounter()
    build_counted(endpoint, resources, table, url, counter)
    fn_i, fn_c = topology.function("feedback-webhooks"), topology.function("feedback-events")
    ctx_i = lambda: LambdaContext(fn_i.logical, fn_i.memory_mb, fn_i.timeout_s)  # noqa: E731
    ctx_c = lambda: LambdaContext(fn_c.logical, fn_c.memory_mb, fn_c.timeout_s)  # noqa: E731
    calls = Calls(webhooks_per_order=per_order)
    hooks = calls_webhooks(orders, secret)
    rng = random.Random(11)
    sizes: dict[tuple[str, str], int] = {}
    step = 10 * per_order
    try:
        for start in range(0, len(hooks), step):
            chunk = hooks[start : start + step]
            counter.phase = "accepted"
            outcomes, times = _invoke_intake(webhooks_fn.handler, chunk, ctx_i)
            calls.accepted += outcomes["accepted"]
            calls.intake_ms += times
            _consume(events_fn.handler, plain["sqs"], url, ctx_c, calls)
            counter.phase = "duplicate"
            dup_outcomes, _ = _invoke_intake(
                webhooks_fn.handler, rng.sample(chunk, max(1, len(chunk) // 10)), ctx_i
            )
            calls.duplicates += dup_outcomes["duplicate"]
            _clear(plain["dynamodb"], table, sizes)
    finally:
        plain["sqs"].delete_queue(QueueUrl=url)
        plain["dynamodb"].delete_table(TableName=table)
    calls.intake = counter.ops("accepted", "intake")
    calls.consumer = counter.ops("accepted", "consumer")
    calls.duplicate_calls = counter.ops("duplicate")
    _units(counter, sizes, calls)
    calls.errors = sum('"level":"ERROR"' in row for row in log.read_text(errors="replace").splitlines())
    return calls


# --- cost ---------------------------------------------------------------------------------------------------


def cost_lines(calls: Calls, per_order: float) -> tuple[list[tuple[str, str, float]], float]:
    """(component, how, $) per 1,000 orders, from the measured per-webhook figures."""
    hooks = 1000 * per_order
    acc = max(1, calls.accepted)
    mem_i = topology.function("feedback-webhooks").memory_mb / 1024
    mem_c = topology.function("feedback-events").memory_mb / 1024
    ms_i = statistics.mean(math.ceil(t) for t in calls.intake_ms)
    per_msg = sum(calls.batch_ms) / max(1, calls.processed)
    per_batch = 10  # Lambda's batch size for the queue (shared/topology.py); full batches assumed
    invocations_c = hooks / per_batch
    ms_c = math.ceil(per_msg * per_batch)
    wru_ = (calls.intake_wru + calls.consumer_wru) / acc * hooks
    rru_ = (calls.intake_rru + calls.consumer_rru) / acc * hooks
    sqs_ = (calls.sqs_sends / acc + 0.2) * hooks
    secrets = (calls.intake["GetSecretValue"] + calls.consumer["GetSecretValue"]) / acc * hooks
    events = calls.consumer["PutEvents"] / acc * hooks
    lines = [
        ("API Gateway HTTP API", f"{hooks:,.0f} requests x $1.00/M", hooks * PRICE["apigw_request"]),
        ("Lambda intake, requests", f"{hooks:,.0f} x $0.20/M", hooks * PRICE["lambda_request"]),
        (
            "Lambda intake, compute",
            f"{hooks:,.0f} x {ms_i:.1f} ms x {mem_i:g} GB x $0.0000133334/GB-s",
            hooks * ms_i / 1000 * mem_i * PRICE["lambda_gb_s"],
        ),
        (
            "Lambda consumer, requests",
            f"{invocations_c:,.0f} batches of {per_batch} x $0.20/M",
            invocations_c * PRICE["lambda_request"],
        ),
        (
            "Lambda consumer, compute",
            f"{invocations_c:,.0f} x {ms_c:.0f} ms x {mem_c:g} GB x $0.0000133334/GB-s",
            invocations_c * ms_c / 1000 * mem_c * PRICE["lambda_gb_s"],
        ),
        ("SQS standard", f"{sqs_:,.0f} requests x $0.40/M", sqs_ * PRICE["sqs_request"]),
        ("DynamoDB writes", f"{wru_:,.0f} WRU x $0.625/M", wru_ * PRICE["ddb_wru"]),
        ("DynamoDB reads", f"{rru_:,.1f} RRU x $0.125/M", rru_ * PRICE["ddb_rru"]),
        ("Secrets Manager API", f"{secrets:,.1f} calls x $0.05/10k", secrets * PRICE["secrets_call"]),
        ("EventBridge PutEvents", f"{events:,.1f} events x $1.00/M", events * PRICE["eventbridge_event"]),
    ]
    return lines, sum(c for _, _, c in lines)


# --- report -------------------------------------------------------------------------------------------------


def line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")


def report_load(
    sends: list[Send], elapsed: float, rate: float, concurrency: int, backlog: int
) -> dict[str, float]:
    statuses = Counter(s.outcome for s in sends)
    other = {k: n for k, n in statuses.items() if k not in ("accepted", "duplicate", "401")}
    ok = [s.latency * 1000 for s in sends if s.status > 0]
    lag = [s.lag * 1000 for s in sends if s.status != 0]
    sched = [(s.lag + s.latency) * 1000 for s in sends if s.status > 0]
    kinds = Counter(s.kind for s in sends)
    sent = sum(1 for s in sends if s.status != 0)
    fig = {"rps": sent / elapsed, "p99": pct(ok, 99)}
    print("\nLoad (open loop, HTTP/1.1 keep-alive, one connection per worker)")
    line(
        "sent (planned)",
        f"{sent:,} ({len(sends):,}: {kinds['unique']:,} unique events, {kinds['dup']:,} exact duplicates, "
        f"{kinds['bad']:,} forged signatures)",
    )
    line(
        "accepted / duplicate / 401",
        f"{statuses['accepted']:,} / {statuses['duplicate']:,} / {statuses['401']:,}",
    )
    line("other statuses", ", ".join(f"{k}={n}" for k, n in sorted(other.items())) or "none")
    line(
        "throughput achieved (target)",
        f"{fig['rps']:.1f} req/s ({rate:g} req/s, {concurrency} workers, {elapsed:.1f} s)",
    )
    line(
        "latency p50 / p95 / p99 / max",
        f"{pct(ok, 50):.1f} / {pct(ok, 95):.1f} / {pct(ok, 99):.1f} / {max(ok, default=math.nan):.1f} ms",
    )
    line(
        "  from scheduled send time (incl. client wait)",
        f"{pct(sched, 50):.1f} / {pct(sched, 95):.1f} / {pct(sched, 99):.1f} / "
        f"{max(sched, default=math.nan):.1f} ms",
    )
    handler = [s.handler_ms for s in sends if s.status > 0 and not math.isnan(s.handler_ms)]
    line(
        "  inside the handler (gateway's x-local-latency-ms)",
        f"{pct(handler, 50):.1f} / {pct(handler, 95):.1f} / {pct(handler, 99):.1f} / "
        f"{max(handler, default=math.nan):.1f} ms",
    )
    line("send lag behind schedule p99 / max", f"{pct(lag, 99):.1f} / {max(lag, default=math.nan):.1f} ms")
    line("max queue backlog while sending", f"{backlog:,} messages (sampled every 2 s)")
    return fig


def report_verdict(v: Verdict, drained: bool, drain_s: float, status: dict[str, Any]) -> int:
    dead = sum(q["dead"] for q in status.get("queues", []))
    print("\nCorrectness (DynamoDB scan after the queue drained)")
    line("queue drained", f"{'yes' if drained else 'NO (timed out)'} after {drain_s:.1f} s")
    line("unique events acknowledged (200)", f"{v.acked:,} (never acknowledged: {v.not_acked})")
    detail = ", ".join(f"{k}: {n}" for k, n in v.lost.items())
    line("events lost", f"{sum(v.lost.values())}" + (f" ({detail})" if detail else ""))
    if not drained and v.lost.get("raw event still pending"):
        line("", "(the queue did not drain: still-pending events are a backlog, not proven lost)")
    line("duplicates acted on", f"{v.dup_acted} (requeued responses: {v.requeued})")
    line(
        "unique events never answered 'accepted'",
        f"{v.never_accepted} ({v.self_duplicate} of them 'duplicate' on their only delivery)",
    )
    line("raw events stored twice (same dedupe key)", str(v.raw_twice))
    line("raw events stored / unexpected", f"{v.raw_events:,} / {v.unexpected_raw}")
    line("forged signatures sent / not 401 / stored", f"{v.bad_sent} / {v.bad_not_401} / {v.bad_stored}")
    caveat = "" if drained else " - not meaningful, queue not drained"
    line(
        "out-of-order orders / violations",
        f"{v.ooo_orders} / {v.ooo_violations} (stored time != newest acknowledged; {v.ooo_pending} "
        f"because that event is still pending){caveat}",
    )
    line(
        "final-state mismatches, all records",
        f"{v.final_mismatch} of {v.orders:,} ({v.final_pending} with the newest event still pending){caveat}",
    )
    line("DLQ depth", str(dead))
    pump = {k: n for k, n in status.get("pump", {}).items() if k.startswith("feedback-events")}
    line(
        "pump (feedback-events)",
        ", ".join(f"{k.split('.', 1)[1]}={n}" for k, n in sorted(pump.items())) or "-",
    )
    sizes = ", ".join(f"{k} {statistics.mean(s):.0f} B" for k, s in sorted(v.sizes.items()))
    line("mean stored item size", sizes)
    return dead


def report_import(t: dict[str, Any]) -> float:
    diff = t["import"] - t["pass"]
    print("\nCold start (fresh interpreter, median of 5 after one warm-up run)")
    line('python -c "pass"', f"{t['pass'] * 1000:.0f} ms")
    line(
        "import services.feedback.handlers.webhooks",
        f"{t['import'] * 1000:.0f} ms (+{diff * 1000:.0f} ms over bare)",
    )
    line(
        "ready: import + build_intake(load(...))",
        f"{t['ready'] * 1000:.0f} ms (+{(t['ready'] - t['pass']) * 1000:.0f} ms over bare; "
        "boto3 clients built)",
    )
    heavy = ", ".join(f"{name} {sec * 1000:.0f}" for name, sec in t["heaviest"])
    line("heaviest imports (ms, -X importtime, overlap)", heavy)
    return diff


def report_calls(c: Calls) -> float:
    acc = max(1, c.accepted)
    amortised = Counter({"ReceiveMessage": 0.1 * c.processed, "DeleteMessageBatch": 0.1 * c.processed})
    consumer = c.consumer + amortised
    intake_n, consumer_n = sum(c.intake.values()) / acc, sum(consumer.values()) / acc
    print(
        f"\nAWS API calls (in-process, botocore before-call hooks, moto; "
        f"{c.accepted // c.webhooks_per_order} orders x {c.webhooks_per_order} Shopify webhooks: "
        "create, paid, fulfilled, delivered)"
    )
    line(
        "accepted webhooks / processed messages",
        f"{c.accepted} / {c.processed} (failed records: {c.failures}; handler ERROR logs: {c.errors})",
    )
    line("per accepted webhook: intake", f"{intake_n:.3f}  " + _ops(c.intake, acc))
    line("per accepted webhook: consumer", f"{consumer_n:.3f}  " + _ops(consumer, acc))
    line("per accepted webhook: total", f"{intake_n + consumer_n:.3f}")
    line("per order (x webhooks per order)", f"{(intake_n + consumer_n) * c.webhooks_per_order:.2f}")
    dup = sum(c.duplicate_calls.values()) / max(1, c.duplicates)
    line("per duplicate delivery (intake)", f"{dup:.3f}  " + _ops(c.duplicate_calls, max(1, c.duplicates)))
    print(
        "    ReceiveMessage and DeleteMessageBatch are not counted but added amortised as Lambda's SQS event"
    )
    print("    source mapping would call them: 1 receive + 1 delete per batch of 10 (0.1 + 0.1 per message).")
    print(
        "    Shop and secret lookups are cached per container; their first calls are amortised over the run."
    )
    line(
        "handler time: intake mean / p99",
        f"{statistics.mean(c.intake_ms):.1f} / {pct(c.intake_ms, 99):.1f} ms per webhook",
    )
    if c.batch_ms:
        line(
            "handler time: consumer mean",
            f"{sum(c.batch_ms) / max(1, c.processed):.1f} ms per message (batches of "
            f"{c.processed / max(1, c.batches):.1f}; 10 orders at a time)",
        )
    line("SQS message size mean", f"{statistics.mean(c.message_bytes or [0]):.0f} B (64 KB = 1 request)")
    kinds = ", ".join(f"{k} {n / acc:.2f}" for k, n in c.wru_by_kind.most_common())
    line(
        "WRU per accepted webhook: intake", f"{c.intake_wru / acc:.2f} (raw event put + gsi1 + pending index)"
    )
    line("WRU per accepted webhook: consumer", f"{c.consumer_wru / acc:.2f} ({kinds})")
    line(
        "transactions cancelled and retried",
        f"{c.retried_transactions} of {c.consumer['TransactWriteItems']} (a stale change in the batch)",
    )
    return intake_n + consumer_n


def _ops(ops: Counter[str], per: int) -> str:
    return (
        "(" + ", ".join(f"{op} {n / per:.3f}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1])) + ")"
    )


def report_cost(c: Calls, per_order: float, shops: int) -> None:
    lines, total = cost_lines(c, per_order)
    acc = max(1, c.accepted)
    print(f"\nCost per 1,000 orders (us-east-1 list prices; {per_order:g} webhooks per order assumed)")
    for name, how, dollars in lines:
        print(f"  {name:<28} {how:<58} ${dollars:.5f}")
    print(f"  {'TOTAL':<28} {'':<58} ${total:.5f}")
    print(
        f"  Fixed: Secrets Manager $0.40 per secret per month = "
        f"${shops * PRICE['secret_month']:.2f}/month for {shops} shop(s) (one secret per shop)."
    )
    print(
        "  Assumptions: DynamoDB on-demand $0.625/M WRU, $0.125/M RRU (Nov 2024);"
        " WRU = ceil(item size / 1 KB),"
    )
    print(
        f"    item sizes from the stored items (measured {c.intake_wru / acc:.2f} WRU intake + "
        f"{c.consumer_wru / acc:.2f} WRU consumer per webhook);"
    )
    print("    TransactWriteItems 2 WRU per KB per item (ConditionCheck 2); keys-only index entries 1 WRU;")
    print(
        "    the sparse pending index 1 WRU on insert and on removal; eventually consistent GetItem 0.5 RRU."
    )
    print("    SQS $0.40/M requests (64 KB chunks): 1 send + 0.1 receive + 0.1 delete per webhook.")
    print(
        "    Lambda arm64 $0.0000133334/GB-s + $0.20/M requests; memory from shared/topology.py; duration ="
    )
    print(
        "    mean measured handler time against moto, rounded up to 1 ms per invocation; consumer batches as"
    )
    print(
        "    measured (full batches; a quiet shop sees smaller ones). API Gateway HTTP API $1.00/M requests."
    )
    print("    Secrets Manager $0.05/10k calls (cached per container, so ~0). Not included: cold-start INIT")
    print("    time, CloudWatch Logs, DynamoDB storage ($0.25/GB-month), SQS long-poll receives while idle.")


def verdict_line(ok: bool, text: str) -> None:
    print(f"  [{'PASS' if ok else 'FAIL'}] {text}")


# --- main ---------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--webhooks", type=int, default=5000, help="webhooks to send (default 5000)")
    p.add_argument("--rate", type=float, default=100.0, help="target rate, requests/s (default 100)")
    p.add_argument(
        "--concurrency", type=int, default=8, help="sending threads, one connection each (default 8)"
    )
    p.add_argument(
        "--max-send-seconds",
        type=float,
        default=None,
        help="stop starting requests after this long (default: 1.1 x the planned duration + 5 s)",
    )
    p.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds to wait for the queue to drain"
    )
    p.add_argument("--calls-orders", type=int, default=50, help="orders for the AWS call count (default 50)")
    p.add_argument("--webhooks-per-order", type=float, default=4.0, help="for the cost (default 4)")
    p.add_argument(
        "--consumer-during-load",
        action="store_true",
        help="keep the consumer running while sending (locally it then competes with the intake for moto)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--durability",
        choices=("full", "normal"),
        default="full",
        help="the stack's `cxloop run --durability` (default full, as `cxloop run`)",
    )
    p.add_argument(
        "--faults",
        type=int,
        default=0,
        help="the fault run instead: SIGKILL the stack's processes this many times during the load, with "
        "retrying senders (use with --webhooks 2000 --rate 20)",
    )
    p.add_argument("--keep-state", action="store_true", help="keep the stack's temp folder (logs) afterwards")
    return p.parse_args(argv)


def report_stack_log(stack: StackProcess) -> None:
    problems = stack.log_problems()
    errors: Counter[str] = problems["errors"]
    print("\nStack logs")
    line("functions.log ERROR entries", str(sum(errors.values())))
    for message, n in errors.most_common(5):
        line(f"  x{n}", message[:90])
    line("moto 5xx answers / tracebacks", f"{problems['moto_5xx']} / {problems['moto_tracebacks']}")
    line("stack process tracebacks", str(problems["stack_tracebacks"]))


def report_targets(
    load: dict[str, float], v: Verdict, drained: bool, per_webhook: float, imports: float
) -> None:
    lost = sum(v.lost.values())
    print("\nTargets")
    verdict_line(lost == 0 and drained, f"events lost: {lost} (0){'' if drained else '; queue NOT drained'}")
    verdict_line(v.dup_acted == 0 and v.raw_twice == 0, f"duplicates acted on: {v.dup_acted} (0)")
    verdict_line(
        load["p99"] <= 100 and load["rps"] >= 95,
        f"p99 latency {load['p99']:.1f} ms at {load['rps']:.1f} req/s sustained (<= 100 ms at 100/s)",
    )
    verdict_line(per_webhook <= 4, f"AWS calls per accepted webhook: {per_webhook:.2f} (<= 4)")
    verdict_line(imports <= 0.6, f"intake cold import: {imports:.3f} s over a bare interpreter (<= 0.6 s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.faults:
        return fault_run(args)
    os.environ.update(LOCAL_ENV)
    state = Path(tempfile.mkdtemp(prefix="cxloop-bench-"))
    # The in-process handlers' metric lines (CloudWatch's, in Lambda) go to a file, not into this report.
    observability.route_metrics((state / "metrics.jsonl").open("a"))
    stack = StackProcess(state, args.durability)
    began = time.perf_counter()
    try:
        up = stack.start()
        print(f"cxloop intake benchmark: stack up in {up:.1f} s at {stack.api} (moto {stack.endpoint})")
        print(f"  state folder {state}")
        print("  order: cold start and AWS call count first (idle stack, empty tables), then the load")
        aws = clients(stack.endpoint)
        resources = resolve(aws["sqs"], PREFIX)
        secrets = seed(aws, resources)
        phases = {"start": time.perf_counter() - began}
        imports = cold_import(stack.endpoint, resources)
        phases["cold start"] = time.perf_counter() - began - sum(phases.values())
        calls = measure_calls(
            stack.endpoint,
            resources,
            secrets[CALLS_SHOP.shop_id],
            args.calls_orders,
            round(args.webhooks_per_order),
            state / "bench-functions.log",
        )
        phases["call count"] = time.perf_counter() - began - sum(phases.values())
        sends = Workload(args.webhooks, args.rate, args.seed).build(args.rate)
        deadline = args.max_send_seconds or 1.1 * args.webhooks / args.rate + 5
        # Locally one moto process serves every DynamoDB request in turn, so the consumer's
        # transactions would queue the intake's writes behind them; in AWS the two scale apart.
        # The consumer is paused while the intake is measured, then drains the backlog.
        if not args.consumer_during_load:
            stack.consumer("pause")
        with Backlog(stack) as backlog:
            elapsed = Sender(stack.api_port, sends, secrets, args.concurrency, deadline).run()
        stack.consumer("resume")
        load = report_load(sends, elapsed, args.rate, args.concurrency, backlog.max_depth)
        phases["load"] = time.perf_counter() - began - sum(phases.values())
        drained, drain_s, status = drain(stack, args.drain_timeout)
        verdict = verify(aws["dynamodb"], resources.tables["feedback"], sends)
        phases["drain + verify"] = time.perf_counter() - began - sum(phases.values())
        report_verdict(verdict, drained, drain_s, status)
        import_s = report_import(imports)
        per_webhook = report_calls(calls)
        report_cost(calls, args.webhooks_per_order, len(SHOPS))
        report_stack_log(stack)
        report_targets(load, verdict, drained, per_webhook, import_s)
        spent = ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
        print(f"\n(total run {time.perf_counter() - began:.0f} s: {spent})")
    finally:
        stack.stop()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
