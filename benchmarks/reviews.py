"""Reviews ingested from local fake sources into the local stack's AWS server: speed, AWS calls, and
behaviour under a source that answers 429 half the time.

    .venv/bin/python benchmarks/reviews.py [--shops 4] [--reviews 500] [--edit-percent 10]

- Starts the local stack's AWS server (cxloop.local.aws_server: moto with the stack's patches) in a
  subprocess and provisions the topology there, with a tap queue that receives every bus event.
- A fake Google Business Profile API (cxloop.local.fake_source) serves each shop's reviews in the real
  shape: 50 a page, newest updateTime first, nextPageToken, an OAuth token endpoint.
- Run "clean": every shop's first pull, through the real puller (services/reviews/handlers/puller.run),
  the real connector, DynamoDB and EventBridge clients. AWS calls are counted with botocore
  before-call hooks.
- Run "edits": the given share of reviews is edited at the source (new text, later updateTime); the
  next pull must store each as a new revision and announce it once.
- Run "429": the same first pulls against a source that refuses every other request with 429 (half
  of those with Retry-After: 1, half without). The puller's clock is advanced to each connection's
  next pull; the wall time to completion is measured.
After each run: reviews stored vs served (lost), MentionIngested on the bus vs distinct (duplicated).
Prints figures and exits 0 whatever they are.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import boto3

from cxloop.local.fake_source import CannedResponse, FakeSource, Seen
from cxloop.resources import provision
from services.reviews.bootstrap import Reviews, build_reviews
from services.reviews.domain.state import SourceState
from services.reviews.handlers.puller import run
from shared.credentials import SecretsManagerCredentials
from shared.events import MENTION_INGESTED
from shared.settings import ReviewsSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STARS = ("ONE", "TWO", "THREE", "FOUR", "FIVE")


@dataclass
class GoogleFake:
    """Each shop's location holds ``n`` reviews; ``flaky`` refuses every other request with 429."""

    shops: int
    n: int
    flaky: bool = False
    edits: dict[str, str] = field(default_factory=dict)  # reviewId → new text
    requests: int = 0
    refused: int = 0

    def reviews(self, location: str) -> list[dict[str, Any]]:
        out = []
        for i in range(self.n):
            rid = f"{location}-r{i}"
            edited = rid in self.edits
            updated = T0 + timedelta(minutes=i + (10_000 if edited else 0))
            out.append({
                "reviewId": rid,
                "name": f"accounts/a/locations/{location}/reviews/{rid}",
                "reviewer": {"displayName": f"Customer {i}"},
                "starRating": STARS[i % 5],
                "comment": self.edits.get(rid, f"Review {i} of {location}: delivery took {i % 9} days."),
                "createTime": (T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "updateTime": updated.isoformat().replace("+00:00", ".123456Z"),
            })  # fmt: skip
        return sorted(out, key=lambda r: r["updateTime"], reverse=True)

    def refuse(self) -> CannedResponse | None:
        self.requests += 1
        if self.flaky and self.requests % 2 == 0:
            self.refused += 1
            return CannedResponse(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}},
                          {"Retry-After": "1"} if self.refused % 2 else {})  # fmt: skip
        return None

    def list_reviews(self, seen: Seen) -> CannedResponse:
        if (refused := self.refuse()) is not None:
            return refused
        location = seen.path.split("/")[5]
        start = int(seen.param("pageToken") or 0)
        size = int(seen.param("pageSize") or 50)
        reviews = self.reviews(location)
        body: dict[str, Any] = {"reviews": reviews[start : start + size], "totalReviewCount": len(reviews)}
        if start + size < len(reviews):
            body["nextPageToken"] = str(start + size)
        return CannedResponse(200, body)

    def token(self, seen: Seen) -> CannedResponse:
        form = parse_qs(seen.body.decode())
        assert form.get("grant_type") == ["refresh_token"]
        return CannedResponse(200, {"access_token": "tok", "expires_in": 3600, "token_type": "Bearer"})

    def install(self, fake: FakeSource) -> None:
        fake.route("POST", "/token", self.token)
        for s in range(self.shops):
            fake.route("GET", f"/v4/accounts/a/locations/loc{s}/reviews", self.list_reviews)


class Counted:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()  # wall time inside AWS calls, by service
        self._started: dict[int, float] = {}

    def snapshot(self) -> Counter[str]:
        """The calls so far, before the verification's own reads."""
        return Counter(self.calls)

    def client(self, session: Any, name: str, endpoint: str) -> Any:
        c = session.client(name, endpoint_url=endpoint)

        def on_call(model: Any, context: Any = None, **_: Any) -> None:
            self.calls[f"{name}.{model.name}"] += 1
            self._started[id(context)] = time.perf_counter()

        def on_done(context: Any = None, **_: Any) -> None:
            started = self._started.pop(id(context), None)
            if started is not None:
                self.seconds[name] += time.perf_counter() - started

        c.meta.events.register("before-call.*.*", on_call)
        c.meta.events.register("after-call.*.*", on_done)
        return c


def start_aws() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "cxloop.local.aws_server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the AWS server did not start")


def setup(
    endpoint: str, prefix: str, fake_url: str, shops: int, counted: Counted
) -> tuple[Reviews, Any, str]:
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
    )
    plain = {
        n: session.client(n, endpoint_url=endpoint) for n in ("dynamodb", "sqs", "events", "secretsmanager")
    }
    resources = provision(plain["dynamodb"], plain["sqs"], plain["events"], prefix, tap=True)
    settings = ReviewsSettings(reviews_table=resources.tables["reviews"], event_bus_name=resources.bus_name,
                               secrets_prefix=prefix, sources_base_url=fake_url)  # fmt: skip
    credentials = SecretsManagerCredentials(counted.client(session, "secretsmanager", endpoint), prefix)
    built = build_reviews(
        settings,
        dynamodb=counted.client(session, "dynamodb", endpoint),
        events=counted.client(session, "events", endpoint),
        credentials=credentials,
    )
    for s in range(shops):
        SecretsManagerCredentials(plain["secretsmanager"], prefix).put(
            f"shop{s}", "google", {"client_id": "c", "client_secret": "s", "refresh_token": "r"}
        )
        state = SourceState(shop_id=f"shop{s}", source="google", settings={"account": "a", "location": f"loc{s}"},
                            version=1)  # fmt: skip
        assert built.store.save_state(state, 0)
    assert resources.tap_queue_url is not None
    return built, plain["sqs"], resources.tap_queue_url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(batch)])  # fmt: skip
    return [e for e in found if e["detail-type"] == MENTION_INGESTED]


def pull_until_done(built: Reviews, start: datetime, max_runs: int = 200) -> tuple[int, Counter[str]]:
    """Run the puller, moving its clock to the next due connection, until every one has succeeded."""
    now, runs, outcomes = start, 0, Counter[str]()
    while runs < max_runs:
        runs += 1
        counts = run(built, now)
        outcomes.update({k: v for k, v in counts.items() if v})
        states = list(built.store.states())
        if all(s.last_success_at is not None and s.last_success_at >= start for s in states):
            return runs, outcomes
        pending = [s.next_pull_at for s in states if s.next_pull_at and (s.last_success_at or T0) < start]
        now = max(now, min(pending)) if pending else now
    return runs, outcomes


def verify(built: Reviews, mentions: list[dict[str, Any]], shops: int, served: int) -> dict[str, int]:
    stored = sum(len(built.store.newest(f"shop{s}", limit=10_000)) for s in range(shops))
    keys = [(m["detail"]["data"]["mention_id"], m["detail"]["data"]["revision"]) for m in mentions]
    return {"served": served, "stored": stored, "lost": served - stored,
            "announced": len(keys), "duplicated": len(keys) - len(set(keys))}  # fmt: skip


def report(
    name: str, seconds: float, new: int, counted: Counted, result: dict[str, int], extra: str = ""
) -> None:
    calls = sum(counted.calls.values())
    per = calls / new if new else float("nan")
    by_op = ", ".join(f"{k} {v}" for k, v in sorted(counted.calls.items()))
    print(f"\n{name}: {seconds:.2f} s, {new} new or edited reviews, {new / seconds:,.0f}/s {extra}")
    print(f"  AWS calls {calls} = {per:.2f} per review ({by_op})")
    inside = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(counted.seconds.items()))
    print(f"  time inside AWS calls (the local emulator): {inside}")
    print(f"  served {result['served']}, stored {result['stored']}, lost {result['lost']}; MentionIngested "
          f"{result['announced']}, duplicated {result['duplicated']}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=4)
    parser.add_argument("--reviews", type=int, default=500, help="per shop (a first pull reads at most 500)")
    parser.add_argument("--edit-percent", type=float, default=10.0)
    args = parser.parse_args()
    proc, endpoint = start_aws()
    total = args.shops * args.reviews
    try:
        # Clean first pulls, then edits.
        with FakeSource() as fake:
            source = GoogleFake(args.shops, args.reviews)
            source.install(fake)
            counted = Counted()
            built, sqs, tap = setup(endpoint, "bench-clean", fake.url, args.shops, counted)
            started = time.perf_counter()
            runs, outcomes = pull_until_done(built, datetime.now(tz=UTC))
            elapsed = time.perf_counter() - started
            calls, seconds = counted.snapshot(), Counter(counted.seconds)
            result = verify(built, drain(sqs, tap), args.shops, total)
            counted.calls, counted.seconds = calls, seconds
            report("clean first pulls", elapsed, outcomes["new"], counted, result,
                   f"({args.shops} shops, {source.requests} source requests, {runs} puller run(s))")  # fmt: skip

            edited_ids = [f"loc{s}-r{i}" for s in range(args.shops)
                          for i in range(0, args.reviews, max(1, round(100 / args.edit_percent)))]  # fmt: skip
            source.edits = {rid: f"Edited: {rid} arrived broken, asked for a refund." for rid in edited_ids}
            counted.calls.clear()
            counted.seconds.clear()
            requests_before = source.requests
            started = time.perf_counter()
            _, outcomes = pull_until_done(built, datetime.now(tz=UTC) + timedelta(hours=1))
            elapsed = time.perf_counter() - started
            calls, seconds = counted.snapshot(), Counter(counted.seconds)
            mentions = drain(sqs, tap)
            revisions = Counter(m["detail"]["data"]["revision"] for m in mentions)
            result = verify(built, mentions, args.shops, total)
            result["lost"] = len(edited_ids) - outcomes["edited"]
            counted.calls, counted.seconds = calls, seconds
            report(f"edits ({len(edited_ids)} edited at the source)", elapsed, outcomes["edited"], counted, result,
                   f"({source.requests - requests_before} source requests; announced revisions {dict(revisions)})")  # fmt: skip

        # First pulls against a source refusing every other request.
        with FakeSource() as fake:
            source = GoogleFake(args.shops, args.reviews, flaky=True)
            source.install(fake)
            counted = Counted()
            built, sqs, tap = setup(endpoint, "bench-flaky", fake.url, args.shops, counted)
            started = time.perf_counter()
            runs, outcomes = pull_until_done(built, datetime.now(tz=UTC))
            elapsed = time.perf_counter() - started
            calls, seconds = counted.snapshot(), Counter(counted.seconds)
            result = verify(built, drain(sqs, tap), args.shops, total)
            counted.calls, counted.seconds = calls, seconds
            report("429 half the time", elapsed, outcomes["new"], counted, result,
                   f"({source.requests} source requests, {source.refused} refused with 429, {runs} puller runs, "
                   f"rate-limited outcomes {outcomes.get('rate_limited', 0)})")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
