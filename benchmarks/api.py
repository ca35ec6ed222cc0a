"""The owner's REST API on a big shop: requests per second and latency of the overview, the metrics and
the feed for a shop with 100,000 survey answers in the local stack, and the DynamoDB read units each
request costs. Targets: overview p99 <= 200 ms and <= 50 read units a request; the metrics never scan.

    .venv/bin/python benchmarks/api.py [--responses 100000] [--reviews 2000] [--budget 15]
                                       [--customers 20000] [--requests 200] [--concurrent 200] [--other-requests 50]
                                       [--other-concurrent 40] [--threads 4] [--no-sent] [--no-cases]
                                       [--moto-as-is] [--keep-state] [--json PATH] [--quick]

1. Starts the local stack in this process (``cxloop.local.stack.LocalStack``, as ``cxloop run --no-demo``):
   moto's server as a subprocess, the API gateway on Werkzeug invoking the Lambda handlers in-process,
   on free ports, in a temporary state folder. Scheduled functions never fire and the queue pumps are
   paused, so nothing but the measured requests reaches moto. Unless ``--moto-as-is``, the moto server
   is the stack's (``cxloop.local.aws_server``, its patches) plus ``PartitionIndex`` below, checked first
   by ``self_test``.
2. Seeds the final state directly: the ANSWER, MENTION, CASE (with its OPEN# marker while open) and
   ``DAY#`` items, and the last week's ``SENTRUN#`` markers, exactly as the notifier's store leaves
   them, built with the store's own code (``_revision_sets``, ``tallies.answer_tally``/``answer_fields``,
   ``dynamo_tallied.feed_attributes``, ``_case_item``, ``_marker``) and written with BatchWriteItem
   (25 a request, a few threads). The ``DAY#`` totals are the sums of the records' tallies and the
   day's sends. Then it checks that layout against the real write path: ``--verify`` more answers (and
   a tenth as many reviews) go through ``DynamoNotifierStore.put_answer``/``put_reading``/
   ``put_mention``, and three sends through ``add_sent``; each stored item must equal the built one,
   and the API's totals (the year, the overview's 12 weeks, the small shop's year) must equal the counts.
   With ``--customers`` (20,000 unless 0) the big shop also gets that many customers with order
   histories and what the daily run leaves from them (risk, lifetime values, the retention snapshot,
   the emerging topics), built with the daily run's own code (``benchmarks/api_customers.py``), and
   three customers written through ``add_order``/``set_risk``/``set_value`` must equal the built items.
3. Measures over real HTTP (``http.client``, keep-alive) with a shop's API key: the overview, the metrics
   for a year by day and by month, the feed's first page and pages 2-4 (by ``next_cursor``), and a
   filtered feed (``band=detractor&theme=delivery_shipping``) with its pages 2-4; with customers, the
   retention snapshot, the first page of customers at risk, the service figures (12 weeks) and the
   themes (28 days, with drivers and emerging topics), each targeted at <= 50 read units a request. Each kind: up to 5
   warm-up requests, then up to N sequential requests (latency percentiles, req/s), then up to M on
   ``--threads`` threads (req/s); a phase ends early once ``--budget`` seconds have passed (4 times that
   for the overview) and 3 requests are done.
4. Read units, computed as DynamoDB bills them (moto reports 1.0 for any query): botocore hooks on the
   dashboard's DynamoDB client record every call of every request (``provide-client-params``,
   ``before-send``, ``before-parse``, ``after-call``). A Query costs the size of the items it read
   (returned items at their size; items a FilterExpression dropped or Select=COUNT did not return,
   ScannedCount - returned, at the mean size of the queried index partition, measured while seeding),
   rounded up to 4 KB a call, halved when eventually consistent (always on an index); GetItem
   ceil(size / 4 KB) (at least 1), halved likewise; BatchGetItem per item. Item size: attribute name
   bytes + value (S: UTF-8 bytes; N: 1 byte per two significant digits + 1; BOOL/NULL: 1; sets: the sum
   of their elements; L/M: 3 + elements + 1 each). Scan calls are counted too.

Prints figures and exits 0 whatever they are. It is not a test.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import copy
import http.client
import json
import math
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from benchmarks.api_customers import check_layout, refresh_emerging, seed_customers
from cxloop.local import stack as stack_module
from cxloop.local.stack import LocalStack, StackConfig
from services.dashboard import bootstrap as dashboard_bootstrap
from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.dashboard.domain import keys
from services.feedback.domain.orders.normalise import email_key, order_sk
from services.feedback.domain.surveys.invitations import invite_id
from services.notifier.adapters.dynamo_notifier import (
    RUN_TTL,
    SENT,
    DynamoNotifierStore,
    _ttl,
    _with_reading,
)
from services.notifier.adapters.dynamo_retention import DynamoRetention
from services.notifier.adapters.dynamo_tallied import feed_attributes
from services.notifier.domain.intake import _answer_case, _mention_case, _new_case
from services.notifier.domain.model import (
    AlertSettings,
    Case,
    CaseEvent,
    CaseStatus,
    Mention,
    ReplyState,
    SurveyAnswer,
)
from services.notifier.domain.rules import for_answer, for_mention
from services.notifier.domain.tallies import (
    answer_fields,
    answer_tally,
    day_of,
    mention_fields,
    mention_tally,
)
from shared import topology
from shared.dynamo import day_sk, sent_run_sk, shop_key
from shared.dynamo_shops import DynamoShopDirectory
from shared.sentiment import Sentiment, ThemeScore
from shared.tenancy import Platform, Shop

HOST = "127.0.0.1"
BIG = Shop(shop_id="big-shop", name="Big Shop", platforms=(Platform.SHOPIFY,), owner_email="o@big.example")
SMALL = Shop(
    shop_id="small-shop", name="Small Shop", platforms=(Platform.SHOPIFY,), owner_email="o@small.example"
)
OVERVIEW_WEEKS = 12  # services/dashboard/service.py
OPEN_FOR = timedelta(days=3)  # cases newer than this are still open
RUNS_PER_DAY = 14 * 60  # the dispatcher runs every minute; invitations go out 08:00-22:00
RESPONSE_RATE = 0.3
SETTINGS = AlertSettings()  # the default rules open the cases
DEFAULT_ITEM_BYTES = 1024  # a filtered-out item's size when nothing better is known
RU_TARGET = 50.0
WARM_UP, WARM_UP_S = 5, 5.0
MIN_REQUESTS = 3
OVERVIEW_BUDGET = 4  # times --budget
P99_TARGET_MS = 200.0

THEMES = (
    "delivery_shipping", "product_quality", "price_value", "customer_service",
    "website_checkout", "returns_refunds", "size_fit", "packaging",
)  # fmt: skip
THEME_WEIGHTS = (30, 24, 12, 12, 6, 6, 7, 3)
SURVEY_TYPES = ("nps", "csat", "ces")
TYPE_WEIGHTS = (60, 25, 15)
# Score weights: NPS 50 % promoters, 25 % passives, 25 % detractors (NPS +25).
SCORES: dict[str, tuple[range, tuple[int, ...]]] = {
    "nps": (range(11), (3, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30)),
    "csat": (range(1, 6), (6, 6, 13, 35, 40)),
    "ces": (range(1, 8), (30, 25, 15, 12, 8, 6, 4)),
}
LABELS = ("positive", "neutral", "negative")
LABEL_WEIGHTS = {"good": (85, 12, 3), "meh": (30, 50, 20), "bad": (5, 20, 75)}
PHRASES: dict[str, tuple[str, str]] = {
    "delivery_shipping": (
        "Delivery was quick and the courier was friendly.",
        "The parcel arrived four days later than promised and the tracking never updated.",
    ),
    "product_quality": (
        "The fabric feels solid and the stitching is neat.",
        "It started to fall apart after two washes, really poor quality.",
    ),
    "price_value": ("Good value for the money.", "Far too expensive for what you get."),
    "customer_service": (
        "Support answered within the hour and sorted it out.",
        "I emailed customer service twice and nobody answered.",
    ),
    "website_checkout": (
        "Checkout was easy, paid in a few clicks.",
        "The checkout kept rejecting my card and I had to try three times.",
    ),
    "returns_refunds": (
        "The return was easy and the refund came fast.",
        "Still waiting for my refund three weeks after sending it back.",
    ),
    "size_fit": ("Fits exactly as the size guide says.", "Runs a full size small, had to exchange it."),
    "packaging": ("Lovely packaging and no plastic.", "The box was crushed and the item was loose inside."),
}
GENERIC = {
    "positive": ("Love it, will order again.", "Great shop!", "Very happy with my order, thank you."),
    "neutral": ("It was okay.", "Nothing special, does the job.", "Fine overall."),
    "negative": ("Disappointed overall.", "Not what I expected.", "I would not order again."),
}
NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kai", "Lena")
SOURCES = (("google", 50), ("trustpilot", 30), ("app_store", 10), ("reddit", 10))
REPLY = (
    "Hi {name}, thank you for telling us, and sorry it went wrong. We have looked into your order and "
    "sent a replacement today at our cost; you will get the tracking link by e-mail. If anything else is "
    "not right, just answer this message and it comes straight to me. Best wishes, the team"
)


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, interpolated between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- DynamoDB's item sizes and read units -----------------------------------------------------------


def number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1


def value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911
    ((kind, x),) = value.items()
    if kind == "S":
        return len(x.encode())
    if kind == "N":
        return number_size(x)
    if kind == "B":
        return len(x)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in x)
    if kind == "NS":
        return sum(number_size(n) for n in x)
    if kind == "BS":
        return sum(len(b) for b in x)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in x)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in x.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass
class Op:
    """One DynamoDB call of a request."""

    name: str  # the operation
    label: str  # what it read, e.g. "Query DAY#", "Query gsi1 CASE (filtered)", "GetItem shops APIKEY"
    seconds: float  # the whole call in botocore
    wait_s: float  # from sending to the answer being parsed: the endpoint (moto) and the network
    ru: float
    items: int = 0  # returned
    scanned: int = 0  # read (before any filter)
    read_bytes: float = 0.0  # billed size before rounding (filtered-out items estimated)


@dataclass
class Served:
    """What one HTTP request cost inside the gateway."""

    ops: list[Op] = field(default_factory=list)
    handler_s: float = 0.0

    @property
    def ru(self) -> float:
        return sum(o.ru for o in self.ops)

    @property
    def wait_s(self) -> float:
        return sum(o.wait_s for o in self.ops)

    @property
    def scans(self) -> int:
        return sum(1 for o in self.ops if o.name == "Scan")


def _partition(params: dict[str, Any]) -> str:
    values = params.get("ExpressionAttributeValues") or {}
    for name in (":pk", ":fp", ":g", ":p"):
        if name in values and "S" in values[name]:
            return str(values[name]["S"])
    return ""


def label_of(name: str, params: dict[str, Any]) -> str:
    table = str(params.get("TableName", "")).split("-", 1)[-1]
    if name in ("Query", "Scan"):
        values = params.get("ExpressionAttributeValues") or {}
        index = params.get("IndexName")
        if index:
            what = f"{index} {_partition(params).rsplit('#', 1)[-1]}"
        else:
            low = str(values.get(":a", values.get(":p", {})).get("S", ""))
            what = f"{table} {low.split('#', 1)[0]}#" if low else table
        count = " COUNT" if params.get("Select") == "COUNT" else ""
        return f"{name} {what}{count}" + (" (filtered)" if params.get("FilterExpression") else "")
    if name == "GetItem":
        sk = str(params.get("Key", {}).get("sk", {}).get("S", ""))
        return f"GetItem {table} {sk.split('#', 1)[0]}"
    return f"{name} {table}"


class Meter:
    """Records every call of the instrumented DynamoDB client, per request (a thread serves one at a
    time), with what DynamoDB would bill for it."""

    def __init__(self, mean_sizes: dict[tuple[str, str], float]) -> None:
        self.mean_sizes = mean_sizes  # (index, partition) -> mean item bytes, for filtered-out items
        self.local = threading.local()
        self.lock = threading.Lock()
        self.served: dict[str, Served] = {}
        self.outside: list[Op] = []  # calls outside a measured request

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._params)
        events.register("before-send.dynamodb", self._send)
        events.register("before-parse.dynamodb", self._parse)
        events.register("after-call.dynamodb", self._after)

    def begin(self) -> Served:
        self.local.served = Served()
        return self.local.served  # type: ignore[no-any-return]

    def end(self, bench_id: str, served: Served) -> None:
        self.local.served = None
        with self.lock:
            self.served[bench_id] = served

    def take(self, bench_id: str) -> Served | None:
        with self.lock:
            return self.served.pop(bench_id, None)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench"] = (time.perf_counter(), dict(params))
        self.local.wait = 0.0

    def _send(self, **_: Any) -> None:
        self.local.sent = time.perf_counter()

    def _parse(self, **_: Any) -> None:
        self.local.wait = getattr(self.local, "wait", 0.0) + time.perf_counter() - self.local.sent

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        started, params = context.get("bench", (time.perf_counter(), {}))
        op = Op(model.name, label_of(model.name, params), time.perf_counter() - started, self.local.wait, 0.0)
        self.cost(op, params, parsed)
        served = getattr(self.local, "served", None)
        if served is not None:
            served.ops.append(op)
        else:
            with self.lock:
                self.outside.append(op)

    def cost(self, op: Op, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        half = 1.0 if params.get("ConsistentRead") and not params.get("IndexName") else 0.5
        if op.name in ("Query", "Scan"):
            items = parsed.get("Items", [])
            returned = sum(item_size(i) for i in items)
            op.items = int(parsed.get("Count", len(items)))
            op.scanned = int(parsed.get("ScannedCount", len(items)))
            unseen = op.scanned - len(items)  # dropped by a filter, or not returned (Select=COUNT)
            mean = self.mean_sizes.get((str(params.get("IndexName", "")), _partition(params)))
            if mean is None:
                mean = returned / len(items) if items else DEFAULT_ITEM_BYTES
            op.read_bytes = returned + max(0, unseen) * mean
            op.ru = max(1, math.ceil(op.read_bytes / 4096)) * half
        elif op.name == "GetItem":
            item = parsed.get("Item")
            op.items = op.scanned = 1 if item else 0
            op.read_bytes = item_size(item) if item else 0
            op.ru = max(1, math.ceil(op.read_bytes / 4096)) * half
        elif op.name == "BatchGetItem":
            for table, found in parsed.get("Responses", {}).items():
                spec = params.get("RequestItems", {}).get(table, {})
                each = 1.0 if spec.get("ConsistentRead") else 0.5
                for item in found:
                    size = item_size(item)
                    op.items += 1
                    op.read_bytes += size
                    op.ru += max(1, math.ceil(size / 4096)) * each
            op.scanned = op.items


# --- the shop's data, as the notifier's store writes it --------------------------------------------


def answer_item(
    store: DynamoNotifierStore, shop_id: str, answer: SurveyAnswer, reading: dict[str, Any] | None
) -> dict[str, Any]:
    """The ANSWER item as ``put_answer`` and then ``put_reading`` leave it."""
    sk = f"ANSWER#{answer.invite_id}"
    doc = answer.model_dump_json(exclude={"sentiment", "themes"}, exclude_none=True)
    merged = _with_reading(answer, reading)
    item: dict[str, Any] = {"pk": {"S": f"SHOP#{shop_id}"}, "sk": {"S": sk}}
    item.update(
        store._revision_sets(
            shop_id, sk, doc, answer.revision, answer.answered_at, "ANSWER", answer.customer_key
        )
    )
    if reading is not None:
        item["reading"] = {"S": json.dumps(reading)}
        item["reading_rev"] = {"N": str(answer.revision)}
    item["tally"] = {"S": answer_tally(merged).model_dump_json()}
    item["tver"] = {"N": "2" if reading is not None else "1"}  # one write for the answer, one for its reading
    item.update(feed_attributes(shop_id, sk, answer_fields(merged)))
    return item


def mention_item(store: DynamoNotifierStore, shop_id: str, mention: Mention) -> dict[str, Any]:
    """The MENTION item as ``put_mention`` leaves it."""
    sk = f"MENTION#{mention.mention_id}"
    doc = mention.model_dump_json(exclude_none=True)
    item: dict[str, Any] = {"pk": {"S": f"SHOP#{shop_id}"}, "sk": {"S": sk}}
    item.update(store._revision_sets(shop_id, sk, doc, mention.revision, mention.scored_at, "MENTION", None))
    item["tally"] = {"S": mention_tally(mention).model_dump_json()}
    item["tver"] = {"N": "1"}
    item.update(feed_attributes(shop_id, sk, mention_fields(mention)))
    return item


def day_item(shop_id: str, day: str, counts: Counter[str]) -> dict[str, Any]:
    """A ``DAY#`` item: what the ADDs of every record's tally add up to."""
    return {**shop_key(shop_id, day_sk(day)), **{k: {"N": str(v)} for k, v in sorted(counts.items()) if v}}


def run_marker(shop_id: str, run_id: str, survey_type: str, at: datetime) -> dict[str, Any]:
    """A dispatcher run's ``SENTRUN#`` marker as ``add_sent`` leaves it (its sends are on the day's
    ``sent_<type>``); it expires RUN_TTL after the run."""
    return {**shop_key(shop_id, sent_run_sk(run_id, survey_type)), "ttl": _ttl(at + RUN_TTL)}


class Synthetic:
    """A shop's year of answers, readings, reviews and cases; reproducible from the seed."""

    def __init__(self, seed: int, now: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.days = days

    def moment(self) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(1, self.days * 86400 - 1))

    def _themes(self, label: str) -> list[ThemeScore]:
        count = self.rng.choices((0, 1, 2), (20, 50, 30))[0]
        chosen: list[str] = []
        while len(chosen) < count:
            theme = self.rng.choices(THEMES, THEME_WEIGHTS)[0]
            if theme not in chosen:
                chosen.append(theme)
        found = []
        for theme in chosen:
            sentiment = label if self.rng.random() < 0.75 else self.rng.choice(LABELS)
            if sentiment == "neutral":
                sentiment = self.rng.choice(("positive", "negative"))
            found.append(ThemeScore(theme=theme, sentiment=sentiment, score=self._score(sentiment)))
        return found

    def _score(self, label: str) -> float:
        low, high = {"positive": (0.35, 0.97), "neutral": (-0.25, 0.25), "negative": (-0.97, -0.35)}[label]
        return round(self.rng.uniform(low, high), 4)

    def _text(self, label: str, themes: list[ThemeScore], generic: int) -> str:
        parts = [PHRASES[t.theme][0 if t.sentiment == "positive" else 1] for t in themes]
        parts += self.rng.sample(GENERIC[label], k=min(generic, 3))
        self.rng.shuffle(parts)
        return " ".join(parts)

    def _reading(self, label: str, themes: list[ThemeScore]) -> dict[str, Any]:
        """What ``put_reading`` stores (its JSON, from the same models)."""
        sentiment = Sentiment(
            label=label,
            score=self._score(label),
            confidence=round(self.rng.uniform(0.5, 0.99), 4),
        )
        return {"sentiment": sentiment.model_dump(), "themes": [t.model_dump() for t in themes]}

    def answer(self, shop_id: str, n: int, customers: int) -> tuple[SurveyAnswer, dict[str, Any] | None]:
        survey_type = self.rng.choices(SURVEY_TYPES, TYPE_WEIGHTS)[0]
        scores, weights = SCORES[survey_type]
        score = self.rng.choices(scores, weights)[0]
        order_id = str(5_000_000 + n)
        customer = self.rng.randrange(max(1, customers))
        email = f"customer{customer}@mail.example"
        guest = self.rng.random() < 0.2
        comment, reading = None, None
        if self.rng.random() < 0.4:
            mood = mood_of(survey_type, score)
            label = self.rng.choices(LABELS, LABEL_WEIGHTS[mood])[0]
            themes = self._themes(label)
            comment = self._text(label, themes, self.rng.randint(0 if themes else 1, 2))
            reading = self._reading(label, themes)
        answer = SurveyAnswer(
            invite_id=invite_id(shop_id, order_sk(Platform.SHOPIFY, order_id)),
            revision=1,
            survey_type=survey_type,
            score=score,
            answered_at=self.moment(),
            comment=comment,
            order_id=order_id,
            order_name=f"#{order_id}",
            customer_key=email_key(email) if guest else f"shopify:{7_000_000_000 + customer}",
            email=email,
            first_name=self.rng.choice(NAMES),
        )
        return answer, reading

    def mention(self) -> Mention:
        source = self.rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        rating = (
            None if source == "reddit" else float(self.rng.choices((1, 2, 3, 4, 5), (12, 6, 8, 24, 50))[0])
        )
        if rating is None:
            label = self.rng.choices(LABELS, (40, 30, 30))[0]
        else:
            label = "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"
            if self.rng.random() < 0.1:
                label = self.rng.choice(LABELS)
        themes = self._themes(label)
        published = self.moment()
        scored = min(self.now - timedelta(seconds=1), published + timedelta(hours=self.rng.uniform(0.5, 30)))
        mention_id = f"{source}:{self.rng.getrandbits(64):016x}"
        reading = self._reading(label, themes)
        return Mention(
            mention_id=mention_id,
            revision=1,
            source=source,
            rating=rating,
            url=f"https://reviews.example/{source}/{mention_id.split(':')[1]}",
            excerpt=self._text(label, themes, self.rng.randint(1, 3)),
            sentiment=Sentiment(**reading["sentiment"]),
            themes=themes,
            scored_at=scored.replace(microsecond=0),
            published_at=published,
        )

    def case(self, shop_id: str, subject: SurveyAnswer | Mention) -> Case | None:
        """The case the default rules open for it, resolved (or replied) unless it is recent."""
        if isinstance(subject, SurveyAnswer):
            firings = for_answer(SETTINGS, subject)
            base = _answer_case(shop_id, subject)
        else:
            firings = for_mention(SETTINGS, subject)
            base = _mention_case(shop_id, subject)
        if not any(f.rule.opens_case for f in firings):
            return None
        opened = base.opened_at
        case = _new_case(base, SETTINGS, opened, [f.rule.kind for f in firings])
        if self.now - opened < OPEN_FOR:
            return case
        replied = opened + timedelta(hours=self.rng.uniform(0.5, 40))
        history = [
            *case.history,
            CaseEvent(at=opened, what="alerted", note="team"),
            CaseEvent(at=replied, what="reply_sent", by="owner"),
        ]
        update: dict[str, Any] = {
            "status": CaseStatus.REPLIED,
            "first_reply_at": replied,
            "reply_state": ReplyState.SENT if isinstance(subject, SurveyAnswer) else ReplyState.REQUESTED,
            "reply_subject": "About your order",
            "reply_text": REPLY.format(name=base.first_name or "there"),
            "history": history,
            "version": 2,
        }
        if self.rng.random() < 0.9:
            resolved = replied + timedelta(hours=self.rng.uniform(0.1, 72))
            update.update(
                status=CaseStatus.RESOLVED,
                resolved_at=resolved,
                history=[*history, CaseEvent(at=resolved, what="resolved", by="owner")],
                version=3,
            )
        return case.model_copy(update=update)

    def sends(
        self, answered: dict[str, Counter[str]]
    ) -> Iterator[tuple[str, dict[str, int], list[tuple[str, str, datetime]]]]:
        """Per day: invitations sent per type (answers / RESPONSE_RATE) and the dispatcher runs that
        sent them, from 08:00 UTC a minute apart: (run id, survey type, when) for each run that sent
        that type (each is one SurveysSent, one ``add_sent``)."""
        for day, by_type in sorted(answered.items()):
            opening = datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC)
            run_ids: dict[int, str] = {}
            runs: list[tuple[str, str, datetime]] = []
            sends: dict[str, int] = {}
            for survey_type, count in sorted(by_type.items()):
                sends[survey_type] = max(count, round(count / RESPONSE_RATE))
                for run in sorted({self.rng.randrange(RUNS_PER_DAY) for _ in range(sends[survey_type])}):
                    run_id = run_ids.setdefault(run, f"{self.rng.getrandbits(128):032x}")
                    runs.append((run_id, survey_type, opening + timedelta(minutes=run)))
            yield day, sends, runs


def mood_of(survey_type: str, score: int) -> str:
    if survey_type == "nps":
        return "bad" if score <= 6 else "meh" if score <= 8 else "good"
    if survey_type == "csat":
        return "bad" if score <= 2 else "meh" if score == 3 else "good"
    return "bad" if score >= 5 else "meh" if score == 4 else "good"


class Writer:
    """BatchWriteItem, 25 items a request, from a few threads."""

    def __init__(self, client: Any, table: str, threads: int) -> None:
        self.client = client
        self.table = table
        self.chunks: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=threads * 8)
        self.buffer: list[dict[str, Any]] = []
        self.written = 0
        self.requests = 0
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def put(self, item: dict[str, Any]) -> None:
        self.buffer.append(item)
        if len(self.buffer) == 25:
            self.chunks.put(self.buffer)
            self.buffer = []
        if self.errors:
            raise RuntimeError("seeding failed") from self.errors[0]

    def close(self) -> None:
        if self.buffer:
            self.chunks.put(self.buffer)
        for _ in self.threads:
            self.chunks.put(None)
        for t in self.threads:
            t.join()
        if self.errors:
            raise RuntimeError("seeding failed") from self.errors[0]

    def _work(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            try:
                pending = {self.table: [{"PutRequest": {"Item": i}} for i in chunk]}
                while pending:
                    answer = self.client.batch_write_item(RequestItems=pending)
                    with self.lock:
                        self.requests += 1
                    pending = answer.get("UnprocessedItems") or {}
                with self.lock:
                    self.written += len(chunk)
            except Exception as e:
                self.errors.append(e)


@dataclass
class ShopData:
    """What was written for one shop, and what its totals must read."""

    shop_id: str
    days: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    answers: int = 0
    with_comment: int = 0
    mentions: int = 0
    cases: int = 0
    open_cases: int = 0
    sent_items: int = 0
    sizes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, tally_day: str, counts: dict[str, int]) -> None:
        self.days[tally_day].update(counts)

    def expected(self, first: date, last: date) -> dict[str, Any]:
        total: Counter[str] = Counter()
        for day, counts in self.days.items():
            if first <= date.fromisoformat(day) <= last:
                total.update(counts)
        by_type = {t: sum(v for k, v in total.items() if k.startswith(f"a_{t}_")) for t in SURVEY_TYPES}
        return {
            "responses": sum(by_type.values()),
            "reviews": sum(v for k, v in total.items() if k.startswith("m_")),
            "n": {t: n for t, n in by_type.items() if n},
            "comments": {t: total[f"c_{t}"] for t in SURVEY_TYPES if by_type[t]},
            "sentiment": {k.removeprefix("s_"): v for k, v in total.items() if k.startswith("s_") and v},
            "sent": {t: total[f"{SENT}{t}"] for t in SURVEY_TYPES if total[f"{SENT}{t}"]},
        }

    def mean(self, what: str) -> float:
        values = self.sizes.get(what) or [0]
        return sum(values) / len(values)


def seed_shop(
    gen: Synthetic,
    writer: Writer,
    store: DynamoNotifierStore,
    shop_id: str,
    answers: int,
    mentions: int,
    args: argparse.Namespace,
) -> ShopData:
    data = ShopData(shop_id)
    answered: dict[str, Counter[str]] = defaultdict(Counter)
    for n in range(answers):
        answer, reading = gen.answer(shop_id, n, int(answers * 0.7))
        item = answer_item(store, shop_id, answer, reading)
        writer.put(item)
        merged = _with_reading(answer, reading)
        tally = answer_tally(merged)
        data.add(tally.day, tally.counts)
        data.answers += 1
        data.with_comment += bool(answer.comment)
        data.sizes["answer"].append(size := item_size(item))
        data.sizes["feed"].append(size)
        answered[day_of(answer.answered_at)][answer.survey_type] += 1
        if args.cases:
            seed_case(gen, writer, store, data, merged)
    for _ in range(mentions):
        mention = gen.mention()
        item = mention_item(store, shop_id, mention)
        writer.put(item)
        tally = mention_tally(mention)
        data.add(tally.day, tally.counts)
        data.mentions += 1
        data.sizes["mention"].append(size := item_size(item))
        data.sizes["feed"].append(size)
        if args.cases:
            seed_case(gen, writer, store, data, mention)
    if args.sent:
        for day, sends, runs in gen.sends(answered):
            data.add(day, {f"{SENT}{t}": n for t, n in sends.items()})
            for run_id, survey_type, at in runs:
                if at + RUN_TTL > gen.now:  # older markers have expired
                    writer.put(run_marker(shop_id, run_id, survey_type, at))
                    data.sent_items += 1
    for day, counts in data.days.items():
        item = day_item(shop_id, day, counts)
        writer.put(item)
        data.sizes["day"].append(item_size(item))
    return data


def seed_case(
    gen: Synthetic,
    writer: Writer,
    store: DynamoNotifierStore,
    data: ShopData,
    subject: SurveyAnswer | Mention,
) -> None:
    case = gen.case(data.shop_id, subject)
    if case is None:
        return
    item = store._case_item(case)
    writer.put(item)
    data.cases += 1
    data.sizes["case"].append(item_size(item))
    marker = store._marker(case)  # written with the case: an OPEN# marker while it is open
    if "Put" in marker:
        writer.put(marker["Put"]["Item"])
        data.open_cases += 1


# --- checking the seeded layout against the real write path ----------------------------------------


def normalised(item: dict[str, Any]) -> dict[str, Any]:
    return {k: {"SS": sorted(v["SS"])} if "SS" in v else v for k, v in item.items()}


def first_difference(want: dict[str, Any], got: dict[str, Any]) -> str:
    for name in sorted(set(want) | set(got)):
        if want.get(name) != got.get(name):
            return f"{name}: built {want.get(name)!r} / stored {got.get(name)!r}"
    return ""


def write_for_real(
    gen: Synthetic, client: Any, table: str, data: ShopData, answers: int, mentions: int, offset: int
) -> tuple[int, int, list[str]]:
    """Answers and mentions through the store's own writes; each stored item compared with the built
    one. Returns (answers, mentions, differences)."""
    store = DynamoNotifierStore(client, table)
    differences: list[str] = []

    def compare(sk: str, want: dict[str, Any]) -> None:
        key = {"pk": {"S": f"SHOP#{data.shop_id}"}, "sk": {"S": sk}}
        got = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
        if normalised(got) != normalised(want):
            differences.append(f"{sk}: {first_difference(normalised(want), normalised(got))}")

    for n in range(answers):
        answer, reading = gen.answer(data.shop_id, offset + n, answers)
        store.put_answer(data.shop_id, answer)
        if reading is not None:
            sentiment = Sentiment(**reading["sentiment"])
            themes = [ThemeScore(**t) for t in reading["themes"]]
            store.put_reading(data.shop_id, answer.invite_id, answer.revision, sentiment, themes)
        tally = answer_tally(_with_reading(answer, reading))
        data.add(tally.day, tally.counts)
        data.answers += 1
        compare(f"ANSWER#{answer.invite_id}", answer_item(store, data.shop_id, answer, reading))
    for _ in range(mentions):
        mention = gen.mention()
        store.put_mention(data.shop_id, mention)
        tally = mention_tally(mention)
        data.add(tally.day, tally.counts)
        data.mentions += 1
        compare(f"MENTION#{mention.mention_id}", mention_item(store, data.shop_id, mention))
    # Sends: two runs (one redelivered) on a day outside every window measured here.
    day = (gen.now - timedelta(days=gen.days + 30)).date().isoformat()
    at = datetime.now(tz=UTC)
    for run_id, count in (("a" * 32, 3), ("b" * 32, 2), ("b" * 32, 2)):
        store.add_sent(data.shop_id, day, "nps", count, run_id)
    compare(f"DAY#{day}", day_item(data.shop_id, day, Counter({f"{SENT}nps": 5})))
    for run_id in ("a" * 32, "b" * 32):
        want = run_marker(data.shop_id, run_id, "nps", at)
        key = {"pk": want["pk"], "sk": want["sk"]}
        got = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
        if set(got) != set(want) or abs(int(got["ttl"]["N"]) - int(want["ttl"]["N"])) > 120:
            differences.append(f"{want['sk']['S']}: built {want} / stored {got}")
    return answers, mentions, differences


# --- moto's Query, given only the items it would read ---------------------------------------------


class PartitionIndex:
    """Benchmark-only help for moto's DynamoDB Query, in the stack's moto server (``--moto-as-is`` leaves
    it out). Moto 5.2.5 answers every Query by sorting all the table's items (``Table.all_items``, with
    Python-level comparisons of ``DynamoType``) and then walking the queried partition: with 120,000 items
    that is several seconds a call, so a page of 50 would measure moto, not the API.

    Here moto's own ``Table.query`` still does all the work (key checks, ordering, ExclusiveStartKey,
    Limit, the 1 MB page, FilterExpression, projections, counts), but ``all_items`` hands it only the
    items it could return: the queried partition (kept sorted, per write generation), narrowed by the
    sort-key condition, and to ``Limit + 1`` items after ``ExclusiveStartKey`` in the scan direction.
    Its partition sort uses the same keys as moto's (string values). Any other query (numeric or
    multi-attribute keys, legacy KeyConditions) goes to moto unchanged. ``self_test`` checks the answers
    are identical to moto's own.
    """

    enabled = True
    generation = 0  # bumped by every DynamoDB write request: the sorted partitions are then rebuilt
    narrowed = 0  # queries answered from a window
    passed = 0  # queries left to moto as it is
    _cache: dict[tuple[str, str, str], tuple[int, list[Any], list[tuple[str, ...]]]] = {}  # noqa: RUF012
    _original: Any = None
    _all_items: Any = None
    _local = threading.local()

    @classmethod
    def install(cls) -> None:
        from moto.dynamodb.models.table import Table

        if cls._original is not None:
            return
        cls._original = original = Table.query
        original_all_items = Table.all_items

        def all_items(self: Any) -> Any:
            handed = getattr(cls._local, "handed", None)
            return handed if handed is not None else original_all_items(self)

        def query(self: Any, *args: Any, **kwargs: Any) -> Any:
            handed = cls._window(self, *args, **kwargs) if cls.enabled else None
            if handed is None:
                cls.passed += 1
                return original(self, *args, **kwargs)
            cls.narrowed += 1
            cls._local.handed = handed
            try:
                return original(self, *args, **kwargs)
            finally:
                cls._local.handed = None

        Table.all_items = all_items  # type: ignore[method-assign]
        Table.query = query  # type: ignore[method-assign]
        cls._all_items = original_all_items

    @classmethod
    def uninstall(cls) -> None:
        from moto.dynamodb.models.table import Table

        if cls._original is None:
            return
        Table.query = cls._original  # type: ignore[method-assign]
        Table.all_items = cls._all_items  # type: ignore[method-assign]
        cls._original = None
        cls._cache.clear()

    @classmethod
    def _window(  # noqa: PLR0911, PLR0912, C901
        cls,
        table: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int | None,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[Any] | None = None,
        range_key_conditions: list[Any] | None = None,
        **filter_kwargs: Any,
    ) -> list[Any] | None:
        """The items moto's query needs to see, ascending; None: let moto look at everything."""
        if filter_kwargs or hash_key is None or hash_key.type != "S":
            return None
        if len(hash_key_conditions or []) > 1 or len(range_key_conditions or []) > 1:
            return None
        if index_name:
            index = next((i for i in table.all_indexes() if i.name == index_name), None)
            if index is None:
                return None  # moto raises its own error
            hash_names = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            range_names = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            if len(hash_names) != 1 or len(range_names) != 1:
                return None
            hash_attr, range_attr = hash_names[0], range_names[0]
            order = table._generate_attr_to_sort_by(
                [hash_attr, table.hash_key_attr], [range_attr, table.range_key_attr]
            )
        else:
            hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
            if range_attr is None:
                return None
            order = [range_attr]  # moto sorts a table's partition by its range key alone
        if range_key_conditions and range_key_conditions[0][0] != range_attr:
            return None
        built = cls._partition(table, index_name or "", hash_attr, hash_key.value, range_attr, order)
        if built is None:
            return None
        items, keys = built
        position = order.index(range_attr)
        lo, hi = 0, len(items)
        if range_comparison:
            values = [o.value for o in range_objs if o.type == "S"]
            if len(values) != len(range_objs):
                return None
            bounds = cls._bounds(keys, position, range_comparison, values)
            if bounds is None:
                return None
            lo, hi = bounds
        if exclusive_start_key:
            try:
                start = tuple(str(exclusive_start_key[a]["S"]) for a in order)
            except (KeyError, TypeError):
                return None
            if scan_index_forward:
                lo = max(lo, bisect.bisect_right(keys, start))
            else:
                hi = min(hi, bisect.bisect_left(keys, start))
        if limit:
            if scan_index_forward:
                hi = min(hi, lo + limit + 1)
            else:
                lo = max(lo, hi - limit - 1)
        return items[lo:hi] if lo < hi else []

    @staticmethod
    def _bounds(
        keys: list[tuple[str, ...]], at: int, comparison: str, values: list[str]
    ) -> tuple[int, int] | None:
        """The slice of a partition (sorted on the range key at ``at``) that meets the condition."""

        def left(v: str) -> int:
            return bisect.bisect_left(keys, v, key=lambda k: k[at])

        def right(v: str) -> int:
            return bisect.bisect_right(keys, v, key=lambda k: k[at])

        aliases = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
        op = aliases.get(comparison.upper(), comparison.upper())
        if not values:
            return None
        if op == "BETWEEN":
            return (left(values[0]), right(values[1])) if len(values) == 2 else None
        if op == "BEGINS_WITH":
            prefix = values[0]
            if not prefix or ord(prefix[-1]) >= sys.maxunicode:
                return None
            return left(prefix), left(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        spans = {
            "=": (left, right),
            "<": (None, left),
            "<=": (None, right),
            ">": (right, None),
            ">=": (left, None),
        }
        if op not in spans:
            return None
        low, high = spans[op]
        return (low(values[0]) if low else 0, high(values[0]) if high else len(keys))

    @classmethod
    def _partition(
        cls, table: Any, index: str, hash_attr: str, value: str, range_attr: str, order: list[str]
    ) -> tuple[list[Any], list[tuple[str, ...]]] | None:
        key = (table.name, index, value)
        cached = cls._cache.get(key)
        if cached is not None and cached[0] == cls.generation:
            return cached[1], cached[2]
        if index:
            found = []
            for rows in table.items.values():
                for item in rows.values() if isinstance(rows, dict) else (rows,):
                    v = item.attrs.get(hash_attr)
                    if v is not None and v.type == "S" and v.value == value and range_attr in item.attrs:
                        found.append(item)
        else:
            rows = table.items.get(dynamo_s(value))
            found = list(rows.values()) if isinstance(rows, dict) else []
        rows_keys = []
        for item in found:
            attrs = [item.attrs.get(a) for a in order]
            if any(v is None or v.type != "S" for v in attrs):
                return None
            rows_keys.append((tuple(str(v.value) for v in attrs), item))
        rows_keys.sort(key=lambda pair: pair[0])
        items = [item for _, item in rows_keys]
        keys = [k for k, _ in rows_keys]
        cls._cache[key] = (cls.generation, items, keys)
        return items, keys


def dynamo_s(value: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": value})


DYNAMODB_READS = {
    "GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables", "DescribeTimeToLive",
    "ListTagsOfResource", "DescribeContinuousBackups", "DescribeEndpoints", "DescribeLimits",
}  # fmt: skip


class WriteWatch:
    """Inside the moto server's DynamoDB lock: a write request starts a new generation of partitions."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        answer = list(self.app(environ, start_response))
        if target.startswith("DynamoDB_") and target.split(".", 1)[-1] not in DYNAMODB_READS:
            PartitionIndex.generation += 1
        return answer


def serve_moto(host: str, port: int) -> None:
    """The stack's moto server (``cxloop.local.aws_server``, with its patches) plus ``PartitionIndex``."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from cxloop.local import aws_server

    aws_server.item_level_transactions()
    aws_server.fast_sqs_clock()
    PartitionIndex.install()
    # Gated as the stack's own server is (it opens the gate once it has provisioned the tables)
    app = aws_server.Gate(aws_server.Serialised(WriteWatch(DomainDispatcherApplication(create_backend_app))))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


class Recorder:
    """A DynamoDB client that keeps every Query it makes and what came back."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def query(self, **kwargs: Any) -> Any:
        asked = copy.deepcopy(kwargs)
        answer = self._client.query(**kwargs)
        self.calls.append((asked, copy.deepcopy(answer)))
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _exercise(recorder: Recorder, table: str, shop_id: str, now: datetime) -> None:
    """The queries the API and the notifier make, with pages, on one shop."""
    from services.notifier.adapters.dynamo_views import DynamoViews, FeedFilter

    views = DynamoViews(recorder, table)
    today = now.date()
    for days in (1, 28, 84, 366):
        views.days(shop_id, today - timedelta(days=days - 1), today)
        DynamoNotifierStore(recorder, table).sent_between(
            shop_id, (today - timedelta(days=days - 1)).isoformat(), today.isoformat()
        )
    views.open_cases(shop_id, now)
    for status, size in ((None, 30), ("open", 5), ("resolved", 40)):
        position = None
        for _ in range(3):
            _, position = views.cases(shop_id, status, size, position)
            if position is None:
                break
    filters = (
        FeedFilter(),
        FeedFilter(survey_type="nps", min_score=0, max_score=6, theme="delivery_shipping"),
        FeedFilter(kind="mention", sentiment="negative"),
        FeedFilter(since=now - timedelta(days=40), until=now - timedelta(days=10), has_text=True),
    )
    for f in filters:
        feed_position: dict[str, str] | None = None
        for _ in range(4):
            _, feed_position = views.feed(shop_id, f, 50, feed_position)
            if feed_position is None:
                break
    _exercise_store(recorder, table, shop_id, now)


def _exercise_store(recorder: Recorder, table: str, shop_id: str, now: datetime) -> None:
    store = DynamoNotifierStore(recorder, table)
    store.answers_since(shop_id, now - timedelta(days=20))
    store.customers(shop_id)
    for index, partition, sort in (
        (None, f"SHOP#{shop_id}", "ANSWER#"),
        ("gsi1", f"SHOP#{shop_id}#ANSWER", "2"),
    ):
        kwargs: dict[str, Any] = {"TableName": table, "Limit": 37}
        if index:
            kwargs.update(IndexName=index, KeyConditionExpression="gsi1pk = :p AND gsi1sk >= :s")
        else:
            kwargs["KeyConditionExpression"] = "pk = :p AND begins_with(sk, :s)"
        kwargs["ExpressionAttributeValues"] = {":p": {"S": partition}, ":s": {"S": sort}}
        for _ in range(3):
            page = recorder.query(**kwargs)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _answer(page: Any) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k not in ("ResponseMetadata", "ConsumedCapacity")}


def self_test(answers: int, now: datetime) -> tuple[int, int, list[str]]:
    """The API's queries on a small table in moto in-process, answered by moto alone and then through
    PartitionIndex: every answer (items, order, counts, LastEvaluatedKey) must be the same."""
    import boto3
    from moto import mock_aws

    from cxloop.resources import provision

    options = argparse.Namespace(cases=True, sent=True)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        db = session.client("dynamodb")
        tables = provision(db, session.client("sqs"), session.client("events"), "selftest").tables
        table = tables["notifier"]
        store = DynamoNotifierStore(db, table)
        writer = Writer(db, table, 1)
        for shop_id, n, seed_no in ((BIG.shop_id, answers, 11), (SMALL.shop_id, answers // 10, 12)):
            seed_shop(Synthetic(seed_no, now, 365), writer, store, shop_id, n, n // 25, options)
        writer.close()
        recorder = Recorder(db)
        _exercise(recorder, table, BIG.shop_id, now)
        differences = []
        PartitionIndex.install()
        PartitionIndex.generation += 1
        try:
            for asked, want in recorder.calls:
                got = db.query(**copy.deepcopy(asked))
                if _answer(got) != _answer(want):
                    differences.append(json.dumps(asked, default=str)[:300])
        finally:
            PartitionIndex.uninstall()
    return len(recorder.calls), PartitionIndex.narrowed, differences


def start_moto_indexed(config: StackConfig, log: Path) -> subprocess.Popen[bytes]:
    """Stands in for ``cxloop.local.stack.start_moto``: the same server, with ``PartitionIndex``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-moto", str(config.moto_port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the moto server exited; see {log}")
        try:
            urllib.request.urlopen(f"http://{HOST}:{config.moto_port}/moto-api/", timeout=1)
            return proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the moto server did not start within 60 s; see {log}")


# --- HTTP -------------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the gateway."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.key = key
        self.conn: http.client.HTTPConnection | None = None
        self.counter = 0

    def get(self, path: str, bench_id: str = "") -> tuple[int, bytes, float]:
        headers = {"Authorization": f"Bearer {self.key}", "Connection": "keep-alive"}
        if bench_id:
            headers["x-bench-id"] = bench_id
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=300)
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                body = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            return response.status, body, time.perf_counter() - started
        raise AssertionError("unreachable")

    def json(self, path: str) -> Any:
        status, body, _ = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class Sample:
    seconds: float
    status: int
    size: int
    items: int | None
    served: Served | None


@dataclass
class Result:
    name: str
    sequential: list[Sample] = field(default_factory=list)
    concurrent: list[Sample] = field(default_factory=list)
    seq_wall_s: float = 0.0
    conc_wall_s: float = 0.0
    threads: int = 0

    @property
    def all(self) -> list[Sample]:
        return self.sequential + self.concurrent

    def served(self, sequential_only: bool = False) -> list[Served]:
        samples = self.sequential if sequential_only else self.all
        return [s.served for s in samples if s.served is not None]

    def errors(self) -> str:
        seq = sum(1 for s in self.sequential if s.status != 200)
        conc = sum(1 for s in self.concurrent if s.status != 200)
        codes = sorted({str(s.status) for s in self.all if s.status != 200})
        return f"{seq} / {conc}" + (f" ({', '.join(codes)})" if codes else "")


class Bench:
    def __init__(self, port: int, key: str, meter: Meter) -> None:
        self.port = port
        self.key = key
        self.meter = meter
        self.ids = iter(range(1, 10**9))
        self.id_lock = threading.Lock()

    def _next_id(self) -> str:
        with self.id_lock:
            return f"b{next(self.ids)}"

    def one(self, client: Client, path: str) -> Sample:
        bench_id = self._next_id()
        status, body, seconds = client.get(path, bench_id)
        items = None
        if status == 200 and b'"items"' in body[:20]:
            items = len(json.loads(body)["items"])
        return Sample(seconds, status, len(body), items, self.meter.take(bench_id))

    def run(
        self, name: str, paths: list[str], sequential: int, concurrent: int, threads: int, budget_s: float
    ) -> Result:
        """Up to 5 warm-up requests (none started after 5 s), then ``sequential`` requests one at a time and
        ``concurrent`` on ``threads`` threads; each phase stops early once ``budget_s`` has passed and
        MIN_REQUESTS are done."""
        result = Result(name, threads=threads)
        client = Client(self.port, self.key)
        started = time.perf_counter()
        for i in range(WARM_UP):
            client.get(paths[i % len(paths)])
            if time.perf_counter() - started > WARM_UP_S:
                break
        started = time.perf_counter()
        for i in range(sequential):
            if i >= MIN_REQUESTS and time.perf_counter() - started > budget_s:
                break
            result.sequential.append(self.one(client, paths[i % len(paths)]))
        result.seq_wall_s = time.perf_counter() - started
        client.close()
        if concurrent:
            started = time.perf_counter()
            result.concurrent = self._together(paths, concurrent, threads, started + budget_s)
            result.conc_wall_s = time.perf_counter() - started
        return result

    def _together(self, paths: list[str], count: int, threads: int, deadline: float) -> list[Sample]:
        left = iter(range(count))
        lock = threading.Lock()
        done: list[Sample] = []

        def worker() -> None:
            own = Client(self.port, self.key)
            while True:
                with lock:
                    i = next(left, None)
                if i is None or (i >= MIN_REQUESTS and time.perf_counter() > deadline):
                    break
                sample = self.one(own, paths[i % len(paths)])
                with lock:
                    done.append(sample)
            own.close()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return done


def chain(client: Client, first: str, pages: int) -> list[str]:
    """The paths of pages 2.. of a list, following next_cursor from its first page."""
    paths, path = [], first
    for _ in range(pages):
        cursor = client.json(path).get("next_cursor")
        if not cursor:
            break
        sep = "&" if "?" in first else "?"
        path = f"{first}{sep}cursor={urllib.parse.quote(cursor)}"
        paths.append(path)
    return paths


# --- the run ----------------------------------------------------------------------------------------


def start_stack(state: Path, indexed: bool) -> LocalStack:
    if indexed:
        stack_module.start_moto = start_moto_indexed
    config = StackConfig(
        state_dir=state,
        api_port=free_port(),
        moto_port=free_port(),
        smtp_port=free_port(),
        demo=False,
        schedule_scale=1e6,  # no scheduled function fires during the run
        dispatch_every_s=1e9,
        notify_every_s=1e9,
    )
    stack = LocalStack(config)
    stack.start()
    assert stack.pump is not None
    for fn in topology.FUNCTIONS:
        if fn.queue:
            stack.pump.pause(fn.logical, True)
    return stack


def instrument(stack: LocalStack, meter: Meter) -> None:
    """Every DynamoDB call of the dashboard's client is metered, and attributed to the request whose
    x-bench-id header the gateway is serving in that thread."""
    assert stack.pump is not None
    functions = stack.pump.functions  # the gateway's too
    original = functions.invoke

    def invoke(fn: topology.Function, event: dict[str, Any]) -> Any:
        bench_id = (event.get("headers") or {}).get("x-bench-id")
        if not bench_id:
            return original(fn, event)
        served = meter.begin()
        started = time.perf_counter()
        try:
            return original(fn, event)
        finally:
            served.handler_s = time.perf_counter() - started
            meter.end(bench_id, served)

    functions.invoke = invoke  # type: ignore[method-assign]
    meter.attach(dashboard_bootstrap.dashboard().dynamodb)


def seed(stack: LocalStack, args: argparse.Namespace, now: datetime) -> tuple[ShopData, ShopData, float]:
    assert stack.resources is not None
    client = stack.clients["dynamodb"]
    table = stack.resources.tables["notifier"]
    shops = DynamoShopDirectory(client, stack.resources.tables["shops"])
    for shop in (BIG, SMALL):
        shops.put(shop)
    store = DynamoNotifierStore(client, table)
    started = time.perf_counter()
    writer = Writer(client, table, args.seed_threads)
    big = seed_shop(
        Synthetic(1, now, args.days), writer, store, BIG.shop_id, args.responses, args.reviews, args
    )
    small = seed_shop(
        Synthetic(2, now, args.days),
        writer,
        store,
        SMALL.shop_id,
        args.small_responses,
        args.small_reviews,
        args,
    )
    customers = None
    if args.customers:
        customers = seed_customers(
            writer, store, DynamoRetention(client, table), BIG.shop_id, args.customers, now
        )
    writer.close()
    seconds = time.perf_counter() - started
    if customers is not None:
        emerging_s = refresh_emerging(store, BIG.shop_id, now)
        say(
            f"  {BIG.shop_id}: {customers.customers:,} customers ({customers.orders:,} orders), "
            f"{customers.at_risk:,} at risk, {customers.valued:,} valued"
            + (f" (no values: {customers.value_reason})" if customers.value_reason else "")
            + f"; retention snapshot {customers.snapshot_bytes / 1024:.0f} KB; the daily run's code took "
            + ", ".join(f"{k} {v:.1f} s" for k, v in customers.seconds.items())
            + f", emerging topics {emerging_s:.1f} s"
        )
    say(
        f"seeded {writer.written:,} items in {seconds:.1f} s ({writer.written / seconds:,.0f} items/s, "
        f"{writer.requests:,} BatchWriteItem requests, {args.seed_threads} threads)"
    )
    for data in (big, small):
        say(
            f"  {data.shop_id}: {data.answers:,} answers ({data.with_comment:,} with a comment and a reading), "
            f"{data.mentions:,} reviews, {data.cases:,} cases ({data.open_cases} open, with OPEN# markers), "
            f"{len(data.days)} DAY# items, {data.sent_items} SENTRUN# markers of the last {RUN_TTL.days} days"
        )
    sizes = ", ".join(
        f"{what} {big.mean(what):,.0f} B" for what in ("answer", "mention", "case", "day") if big.sizes[what]
    )
    say(f"  mean item sizes ({BIG.shop_id}): {sizes}")
    return big, small, seconds


def verify(
    stack: LocalStack, args: argparse.Namespace, now: datetime, big: ShopData, small: ShopData, api: Client,
    small_api: Client,
) -> list[str]:  # fmt: skip
    """The real write path on top of the seeded state; the API's totals against the counts."""
    assert stack.resources is not None
    started = time.perf_counter()
    gen = Synthetic(3, now, args.days)
    answers, mentions, problems = write_for_real(
        gen, stack.clients["dynamodb"], stack.resources.tables["notifier"], big, args.verify,
        max(1, args.verify // 10), args.responses,
    )  # fmt: skip
    say(
        f"verify: wrote {answers} answers (put_answer + put_reading) and {mentions} reviews (put_mention) "
        f"through the store in {time.perf_counter() - started:.1f} s; {len(problems)} stored items differ "
        "from the built ones"
    )
    problems = [f"layout: {p}" for p in problems[:5]]
    if args.customers:
        client, table = stack.clients["dynamodb"], stack.resources.tables["notifier"]
        customer_problems = check_layout(client, table, DynamoNotifierStore(client, table), BIG.shop_id, now)
        say(f"verify: 3 customers through add_order/set_risk/set_value; {len(customer_problems)} differ")
        problems += [f"customer layout: {p}" for p in customer_problems]
    today = now.date()
    year = today - timedelta(days=args.days)
    monday = today - timedelta(days=today.weekday())
    overview_first = monday - timedelta(weeks=OVERVIEW_WEEKS - 1)
    year_path = f"/api/v1/metrics?interval=month&from={year}"
    windows: list[tuple[str, ShopData, Client, str, date, tuple[str, ...]]] = [
        ("year", big, api, year_path, year, ("total",)),
        ("overview", big, api, "/api/v1/overview", overview_first, ("metrics", "total")),
        ("small shop year", small, small_api, year_path, year, ("total",)),
    ]
    for name, data, client, path, first, where in windows:
        total = client.json(path)
        for step in where:
            total = total[step]
        want = data.expected(first, today)
        got = {
            "responses": total["responses"],
            "reviews": total["reviews"],
            "n": {s["survey_type"]: s["score"]["n"] for s in total["surveys"] if s["score"]["n"]},
            "comments": {s["survey_type"]: s["comments"] for s in total["surveys"] if s["score"]["n"]},
            "sentiment": {k: v for k, v in total["sentiment"].items() if v},
            "sent": {s["survey_type"]: s["sent"] for s in total["surveys"] if s["sent"]},
        }
        same = got == want
        say(
            f"verify: {name} ({first} to {today}): API {got['responses']:,} answers, {got['reviews']:,} reviews; "
            f"expected {want['responses']:,}, {want['reviews']:,}: {'equal' if same else 'DIFFERENT'}"
        )
        if not same:
            problems.append(f"{name}: API {got} != expected {want}")
    overview = api.json("/api/v1/overview")
    say(
        f"verify: overview open_cases {overview['open_cases']} (overdue {overview['overdue_cases']}); "
        f"{big.open_cases} cases were seeded open"
    )
    if args.cases and overview["open_cases"] != big.open_cases:
        problems.append(f"open_cases {overview['open_cases']} != {big.open_cases} seeded open")
    say(f"verify: {big.answers:,} answers in {BIG.shop_id} = {args.responses:,} seeded + {answers} written")
    return problems


DAILY_PAGES = (
    ("retention", "/api/v1/retention"),
    ("at-risk p1", "/api/v1/customers/at-risk?limit=50"),
    ("service 12 weeks", "/api/v1/service"),
    ("themes 28 days", "/api/v1/themes"),
)


def measure(bench: Bench, client: Client, args: argparse.Namespace, now: datetime) -> list[Result]:
    """Each kind in turn; the overview with OVERVIEW_BUDGET times the time budget."""
    year = now.date() - timedelta(days=args.days)
    feed = "/api/v1/feed?limit=50"
    filtered = "/api/v1/feed?limit=50&band=detractor&theme=delivery_shipping"
    plan = [
        ("overview", ["/api/v1/overview"], args.requests, args.concurrent),
        ("metrics year/day", [f"/api/v1/metrics?interval=day&from={year}"], args.other_requests,
         args.other_concurrent),
        ("metrics year/month", [f"/api/v1/metrics?interval=month&from={year}"], args.other_requests,
         args.other_concurrent),
        ("feed p1", [feed], args.other_requests, args.other_concurrent),
        ("feed p2-4", chain(client, feed, 3), args.other_requests, args.other_concurrent),
        ("filtered p1", [filtered], args.other_requests, args.other_concurrent),
        ("filtered p2-4", chain(client, filtered, 3), args.other_requests, args.other_concurrent),
    ]  # fmt: skip
    if args.customers:  # the daily run's pages (issue 19): each reads its pre-aggregated items
        plan += [(name, [path], args.other_requests, args.other_concurrent) for name, path in DAILY_PAGES]
    results = []
    for name, paths, sequential, concurrent in plan:
        if not paths:
            say(f"  {name}: no such pages (the list is shorter)")
            continue
        started = time.perf_counter()
        budget = args.budget * (OVERVIEW_BUDGET if name == "overview" else 1)
        result = bench.run(name, paths, sequential, concurrent, args.threads, budget)
        results.append(result)
        say(
            f"  {name}: {len(result.sequential)} sequential + {len(result.concurrent)} on {args.threads} "
            f"threads in {time.perf_counter() - started:.1f} s"
        )
    return results


# --- the report -------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:,.0f}" if value >= 1 else f"{value * 1000:.1f}"


def report(results: list[Result], outside_scans: int) -> dict[str, Any]:
    rows = []
    say()
    say("| request | n | req/s (1 thread) | req/s (4 threads) | p50 | p95 | p99 | max (ms) | read units/request (mean / max) | scans |")  # fmt: skip
    say("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = [s.seconds for s in r.sequential]
        served = r.served()
        ru = [s.ru for s in served]
        row: dict[str, Any] = {
            "request": r.name,
            "n": len(r.sequential),
            "n_concurrent": len(r.concurrent),
            "rps_1": len(r.sequential) / r.seq_wall_s if r.seq_wall_s else math.nan,
            "rps_n": len(r.concurrent) / r.conc_wall_s if r.conc_wall_s else math.nan,
            "p50": pct(lat, 50),
            "p95": pct(lat, 95),
            "p99": pct(lat, 99),
            "max": max(lat) if lat else math.nan,
            "ru_mean": sum(ru) / len(ru) if ru else math.nan,
            "ru_max": max(ru) if ru else math.nan,
            "scans": sum(s.scans for s in served),
            "errors": r.errors(),
            "unmetered": len(r.all) - len(served),
        }
        rows.append(row)
        say(
            f"| {r.name} | {row['n']} (+{row['n_concurrent']}) | {row['rps_1']:.2f} | {row['rps_n']:.2f} | "
            f"{ms(row['p50'])} | {ms(row['p95'])} | {ms(row['p99'])} | {ms(row['max'])} | "
            f"{row['ru_mean']:.1f} / {row['ru_max']:.1f} | {row['scans']} |"
        )
    say()
    say('Where the time goes (the sequential requests; "AWS wait" is from sending each DynamoDB request to')
    say('its answer parsed: moto and the loopback; "API" is the handler\'s time without that wait):')
    say()
    say("| request | DynamoDB calls/request | AWS wait ms (mean) | API ms p50 / p99 | items/page | response KB | errors (1 / 4 threads) |")  # fmt: skip
    say("|---|---|---|---|---|---|---|")
    for r, row in zip(results, rows, strict=True):
        served = r.served(sequential_only=True)
        calls = sum(len(s.ops) for s in served) / max(1, len(served))
        wait = [s.wait_s for s in served]
        own = [s.handler_s - s.wait_s for s in served]
        items = [s.items for s in r.all if s.items is not None]
        size = sum(s.size for s in r.all) / max(1, len(r.all)) / 1024
        row.update(
            calls=calls,
            aws_wait_mean=sum(wait) / max(1, len(wait)),
            api_p50=pct(own, 50),
            api_p99=pct(own, 99),
            items=sum(items) / len(items) if items else None,
            kb=size,
        )
        per_page = f"{row['items']:.1f}" if row["items"] is not None else "-"
        say(
            f"| {r.name} | {calls:.1f} | {ms(row['aws_wait_mean'])} | {ms(row['api_p50'])} / "
            f"{ms(row['api_p99'])} | {per_page} | {size:.1f} | {row['errors']} |"
        )
    say()
    say('By call (the sequential requests, per request, mean; "botocore ms" is the rest of the call in the')
    say("function: building and signing the request, parsing the answer):")
    say()
    say("| request | call | calls | items read | KB read | read units | AWS wait ms | botocore ms |")
    say("|---|---|---|---|---|---|---|---|")
    for r, row in zip(results, rows, strict=True):
        served = r.served(sequential_only=True)
        by_label: dict[str, list[float]] = defaultdict(lambda: [0.0] * 6)
        for s in served:
            for o in s.ops:
                acc = by_label[o.label]
                acc[0] += 1
                acc[1] += o.scanned
                acc[2] += o.read_bytes / 1024
                acc[3] += o.ru
                acc[4] += o.wait_s * 1000
                acc[5] += (o.seconds - o.wait_s) * 1000
        count = max(1, len(served))
        row["by_call"] = {label: [v / count for v in acc] for label, acc in by_label.items()}
        for label, acc in sorted(by_label.items(), key=lambda kv: -kv[1][3]):
            say(
                f"| {r.name} | {label} | {acc[0] / count:.2f} | {acc[1] / count:,.0f} | "
                f"{acc[2] / count:,.1f} | {acc[3] / count:.2f} | {acc[4] / count:,.0f} | {acc[5] / count:,.0f} |"
            )
    scans = sum(row["scans"] for row in rows)
    say()
    say(
        f"Scan calls by the dashboard's client: {scans} during the measured requests, {outside_scans} outside them."
    )
    return {"rows": rows, "scans": scans}


def logged_failures(path: Path) -> Counter[str]:
    """The handler's 'api request failed' log lines, by exception."""
    found: Counter[str] = Counter()
    if not path.exists():
        return found
    with path.open() as lines:
        for line in lines:
            if "api request failed" not in line:
                continue
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                found[str(entry.get("exception_name", "?"))] += 1
    return found


def targets(rows: list[dict[str, Any]], scans: int) -> list[tuple[str, bool]]:
    overview: dict[str, Any] | None = next((r for r in rows if r["request"] == "overview"), None)
    if overview is None:
        return []
    return [
        (f"overview p99 {ms(overview['p99'])} ms <= {P99_TARGET_MS:.0f} ms", overview["p99"] * 1000 <= P99_TARGET_MS),
        (f"overview read units {overview['ru_mean']:.1f} mean / {overview['ru_max']:.1f} max <= {RU_TARGET:.0f}",
         overview["ru_max"] <= RU_TARGET),
        (f"metrics and overview never scan: {scans} Scan calls", scans == 0),
        *(
            (f"{r['request']} read units {r['ru_mean']:.1f} mean / {r['ru_max']:.1f} max <= {RU_TARGET:.0f}",
             r["ru_max"] <= RU_TARGET)
            for r in rows if r["request"] in {name for name, _ in DAILY_PAGES}
        ),
    ]  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=100_000, help="answers of the big shop")
    parser.add_argument("--reviews", type=int, default=2000, help="reviews (mentions) of the big shop")
    parser.add_argument("--small-responses", type=int, default=300)
    parser.add_argument("--small-reviews", type=int, default=20)
    parser.add_argument("--days", type=int, default=365, help="spread over the last N days")
    parser.add_argument(
        "--customers", type=int, default=20_000, help="customers of the big shop (0: none, no daily pages)"
    )
    parser.add_argument("--verify", type=int, default=200, help="answers written through the store")
    parser.add_argument("--requests", type=int, default=200, help="sequential overview requests, at most")
    parser.add_argument("--concurrent", type=int, default=200, help="overview requests on --threads threads")
    parser.add_argument("--other-requests", type=int, default=50, help="the same for the other kinds")
    parser.add_argument("--other-concurrent", type=int, default=40)
    parser.add_argument(
        "--budget",
        type=float,
        default=15.0,
        help="seconds per kind and phase (4 times that for the overview)",
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed-threads", type=int, default=4)
    parser.add_argument("--no-sent", dest="sent", action="store_false", help="no invitations sent")
    parser.add_argument("--no-cases", dest="cases", action="store_false", help="no cases")
    parser.add_argument(
        "--moto-as-is", action="store_true", help="moto's server exactly as `cxloop run` starts it (slow)"
    )
    parser.add_argument("--self-test-answers", type=int, default=600, help="0: no PartitionIndex self-test")
    parser.add_argument("--serve-moto", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keep-state", action="store_true", help="keep the stack's temp folder (logs)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--quick", action="store_true", help="5,000 answers, fewer requests: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.responses, args.reviews, args.small_responses, args.small_reviews = 5000, 200, 100, 10
        args.verify, args.requests, args.concurrent = 50, 30, 20
        args.other_requests, args.other_concurrent, args.budget = 10, 8, 10.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_moto:
        serve_moto(HOST, args.serve_moto)
        return 0
    began = time.perf_counter()
    now = datetime.now(tz=UTC).replace(microsecond=0)
    state = Path(tempfile.mkdtemp(prefix="cxloop-api-bench-"))
    signal.signal(signal.SIGTERM, _terminate)
    say(f"benchmarks/api.py {' '.join(sys.argv[1:])}".rstrip())
    say(
        f"{args.responses:,} answers and {args.reviews:,} reviews over {args.days} days in {BIG.shop_id}; "
        f"{args.small_responses} and {args.small_reviews} in {SMALL.shop_id}; cases {'on' if args.cases else 'off'}, "
        f"sent counts {'on' if args.sent else 'off'}; state {state}"
    )
    say(
        f"assumptions: NPS/CSAT/CES {'/'.join(map(str, TYPE_WEIGHTS))} %, 40 % with a comment (read: sentiment, "
        f"0-2 themes); cases by the default rules, open when under {OPEN_FOR.days} days old; sent = answers / "
        f"{RESPONSE_RATE}, by a dispatcher run a minute over {RUNS_PER_DAY // 60} h a day"
    )
    if not args.moto_as_is and args.self_test_answers:
        started = time.perf_counter()
        checked, narrowed, differences = self_test(args.self_test_answers, now)
        say(
            f"PartitionIndex self-test: {checked} queries ({narrowed} of them narrowed) on "
            f"{args.self_test_answers:,} answers in moto in-process: {checked - len(differences)} answered the "
            f"same as moto's own Query, {len(differences)} differ ({time.perf_counter() - started:.0f} s)"
        )
        for d in differences[:5]:
            say(f"  differs: {d}")
    stack: LocalStack | None = None
    try:
        stack = start_stack(state, not args.moto_as_is)
        run(stack, args, now, state, began)
    finally:
        if stack is not None:
            stack.stop()
        if args.keep_state:
            say(f"state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    return 0


def run(stack: LocalStack, args: argparse.Namespace, now: datetime, state: Path, began: float) -> None:
    assert stack.resources is not None
    say(f"local stack up: gateway {stack.api_url}, moto {os.environ['AWS_ENDPOINT_URL']}")
    big, small, seed_s = seed(stack, args, now)
    shop_pk = f"SHOP#{BIG.shop_id}"
    meter = Meter(
        {("feed", f"{shop_pk}#FEED"): big.mean("feed"), ("gsi1", f"{shop_pk}#CASE"): big.mean("case")}
    )
    instrument(stack, meter)
    key_store = DynamoKeyStore(stack.clients["dynamodb"], stack.resources.tables["shops"])
    port = stack.config.api_port
    api = Client(port, keys.issue(key_store, BIG.shop_id, "benchmark", now)[1])
    small_api = Client(port, keys.issue(key_store, SMALL.shop_id, "benchmark", now)[1])
    problems = verify(stack, args, now, big, small, api, small_api)
    say("measuring:")
    bench = Bench(port, api.key, meter)
    outside_before = sum(1 for o in meter.outside if o.name == "Scan")
    results = measure(bench, api, args, now)
    outside_scans = sum(1 for o in meter.outside if o.name == "Scan") - outside_before
    figures = report(results, outside_scans)
    failures = logged_failures(state / "functions.log")
    if failures:
        say(f"API requests that failed (functions.log, by exception): {dict(failures)}")
    say()
    checks = conclude(figures, problems)
    total_s = time.perf_counter() - began
    say(f"seeding {seed_s:.0f} s; whole run {total_s:.0f} s")
    if args.json:
        summary = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "seed_s": seed_s,
            "total_s": total_s,
            "rows": figures["rows"],
            "targets": checks,
            "problems": problems,
        }
        args.json.write_text(json.dumps(summary, indent=2, default=str))


def conclude(figures: dict[str, Any], problems: list[str]) -> list[tuple[str, bool]]:
    checks = targets(figures["rows"], figures["scans"])
    for text, ok in checks:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    overview = next((r for r in figures["rows"] if r["request"] == "overview"), None)
    if overview:
        say(
            f"info  the overview's own time in the function (without the AWS wait): p50 "
            f"{ms(overview['api_p50'])} ms, p99 {ms(overview['api_p99'])} ms on this machine"
        )
    say(f"{'PASS' if not problems else 'FAIL'}  seeded layout and totals match the real write path")
    for p in problems:
        say(f"      {p}")
    return checks


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
