"""The demo's story, played against the stack deployed in MiniStack through its API URL.

An owner sets up a Shopify shop with the CLI (pointed at the emulator's AWS, as at an account after
`cxloop deploy`); the shop's signed webhooks announce Maya's order and its delivery; the survey
e-mail leaves through SES (MiniStack keeps what SES sent: ``GET /_ministack/ses/messages``); Maya
clicks 2 and writes why; the scoring function reads her comment; the owner is alerted by e-mail; the
dashboard API answers with the shop's key, and refuses without it.

Where MiniStack differs from AWS the harness says so and works around it here, never in the product:
- The API URL is ``http://<id>.execute-api.localhost:<port>``; ``*.localhost`` does not resolve here,
  so requests go to 127.0.0.1 with that Host header (what the name would resolve to). It is http,
  and survey links must be https (RFC 8058's one-click unsubscribe): the stack is synthesized with a
  custom domain (``--public-url``, PUBLIC_URL below) and the harness plays its DNS and TLS, sending
  what is addressed to it to the API.
- EventBridge schedules fire (rate() rules, first one interval after the rule's creation, as in
  AWS), but the dispatcher's 5 minutes and the sender's minute would make the rehearsal wait; the
  harness invokes those functions with the scheduled event EventBridge sends, as often as it needs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cxloop.local.demo import deliveries, demo_clock
from cxloop.signing import webhook_headers
from shared import topology
from shared.tenancy import Platform
from tests.rehearsal.emulator import ACCOUNT, REGION, MiniStack

T = TypeVar("T")

SHOP = "rehearsal-linen"
DOMAIN = "rehearsal-linen.myshopify.com"
BRAND_DOMAIN = "rehearsal-linen.example"
SENDER = f"hello@{BRAND_DOMAIN}"
OWNER = f"owner@{BRAND_DOMAIN}"
ALERTS_FROM = f"cxloop alerts <alerts@{BRAND_DOMAIN}>"  # the stack's notifierSender (synth parameter)
MAYA = "maya.lopez@example.net"
CUSTOMER = "maya.lopez+rehearsal@example.net"
PUBLIC_URL = "https://feedback.rehearsal-linen.example"  # the stack's custom domain for survey links
COMMENT = "Fast delivery, but the seams ripped after one wash."


class StoryFailed(AssertionError):
    """A step did not see what it waited for: the message says what it saw instead."""


@dataclass
class Api:
    """The deployed HTTP API, reached at 127.0.0.1 under its own host name."""

    url: str  # ApiUrl output: http://<id>.execute-api.localhost:<port>
    port: int

    def request(
        self, method: str, url_or_path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        url = url_or_path if url_or_path.startswith("http") else self.url + url_or_path
        parts = urllib.parse.urlsplit(url)
        host = urllib.parse.urlsplit(self.url).netloc
        if parts.netloc not in (host, urllib.parse.urlsplit(PUBLIC_URL).netloc):
            raise StoryFailed(f"{url} is neither the API's nor its custom domain's")
        local = urllib.parse.urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        request = urllib.request.Request(
            local, data=body, method=method, headers={**(headers or {}), "Host": host}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


@dataclass
class World:
    aws: MiniStack
    api: Api
    state_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        """`cxloop` as the owner runs it against the account (here, the emulator's)."""
        done = subprocess.run(
            [sys.executable, "-m", "cxloop.cli", "--state-dir", str(self.state_dir), *args],
            env={**self.aws.env(), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise StoryFailed(f"cxloop {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def invoke(self, logical: str, event: dict[str, Any]) -> dict[str, Any]:
        name = topology.physical("cxloop", logical)
        answer = self.aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise StoryFailed(f"{name} failed: {payload[:800]!r}")
        return json.loads(payload or b"null") or {}

    def tick(self, logical: str) -> None:
        """What EventBridge's schedule would send the function (see the module's docstring)."""
        rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{topology.physical('cxloop', logical)}-schedule"
        self.invoke(
            logical,
            {"version": "0", "id": f"rehearsal-{time.time_ns()}", "detail-type": "Scheduled Event",
             "source": "aws.events", "account": ACCOUNT, "region": REGION, "resources": [rule],
             "time": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}},
        )  # fmt: skip

    def mail_to(self, address: str) -> list[dict[str, Any]]:
        sent = self.aws.get("/_ministack/ses/messages")["messages"].get(ACCOUNT, [])
        return [m for m in sent if any(address in to for to in m["To"])]


def until(what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 1.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise StoryFailed(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)


# --- the steps ------------------------------------------------------------------------------------


def owner_sets_up_the_shop(world: World) -> str:
    # The owner verifies the survey's sender domain in SES, as in AWS (MiniStack verifies it at once).
    world.aws.client("sesv2").create_email_identity(EmailIdentity=BRAND_DOMAIN)
    added = world.cli("shop", "add", SHOP, "--platform", "shopify", "--domain", DOMAIN,
                      "--name", "Rehearsal Linen", "--owner-email", OWNER)  # fmt: skip
    secret = re.search(r"secret ([A-Za-z0-9_\-]{20,})", added)
    if not secret:
        raise StoryFailed(f"shop add printed no secret: {added}")
    world.facts["secret"] = secret.group(1)
    world.cli("survey", "set", "--shop", SHOP, "--type", "nps", "--sender", SENDER, "--reply-to", OWNER,
              "--days-after-delivery", "0", "--quiet-hours", "off", "--reminder-days", "off",
              "--follow-up", "What is one thing we could do better?")  # fmt: skip
    world.cli("notify", "rule", "--shop", SHOP, "detractor", "--delivery", "immediate")
    key = json.loads(world.cli("keys", "issue", "--shop", SHOP, "--json"))
    world.facts["key"] = key["key"]
    return f"shop {SHOP}, NPS programme, immediate detractor alerts to {OWNER}, key {key['key_id']}"


def webhooks_are_accepted(world: World) -> str:
    """Maya's order #1042, paid, fulfilled, in transit, delivered: the demo's, moved to now."""
    clock = demo_clock(1.0, datetime.now(tz=UTC))
    sent = []
    for delivery in deliveries():
        if delivery["shop"] != "demo-shopify" or "#1043" in json.dumps(delivery):
            continue
        body = json.dumps(clock.apply(delivery["body"])).replace(MAYA, CUSTOMER).encode()
        headers = webhook_headers(
            Platform.SHOPIFY, delivery["topic"], body, world.facts["secret"], DOMAIN, delivery.get("event_id")
        )
        status, _, answer = world.api.request("POST", f"/webhooks/shopify/{SHOP}", body, headers)
        if status != 200:
            raise StoryFailed(f"{delivery['topic']}: {status} {answer[:300]!r}")
        sent.append(delivery["topic"])
    bad = webhook_headers(Platform.SHOPIFY, "orders/create", b"{}", "not-the-secret", DOMAIN)
    status, _, _ = world.api.request("POST", f"/webhooks/shopify/{SHOP}", b"{}", bad)
    if status != 401:
        raise StoryFailed(f"a webhook signed with the wrong secret got {status}, not 401")
    return f"{len(sent)} signed webhooks answered 200 ({', '.join(sorted(set(sent)))}); a forged one 401"


def survey_email_is_sent(world: World) -> str:
    def mail() -> list[dict[str, Any]] | None:
        found = world.mail_to(CUSTOMER)
        if not found:
            world.tick("feedback-dispatcher")
        return found

    [survey] = until("the survey e-mail in SES", mail, timeout_s=180, every_s=2)
    link = re.search(r"(https?://\S+/r/[^\s?\"]+)\?score=2", survey["BodyText"])
    if not link:
        raise StoryFailed(f"no score link in the survey e-mail: {survey['BodyText'][:500]}")
    world.facts["link"] = link.group(1)
    host = urllib.parse.urlsplit(link.group(1)).netloc
    return f"{survey['Subject']!r} from {survey['Source']}, score links to {host}"


def score_is_clicked(world: World) -> str:
    status, _, page = world.api.request("GET", world.facts["link"] + "?score=2")
    if status != 200 or b"<form" not in page:
        raise StoryFailed(f"the score link answered {status}: {page[:300]!r}")
    return "the link recorded 2 and showed the comment form"


def comment_is_sent(world: World) -> str:
    body = urllib.parse.urlencode({"score": "2", "comment": COMMENT}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, page = world.api.request("POST", world.facts["link"], body, headers)
    if status != 200:
        raise StoryFailed(f"the comment form answered {status}: {page[:300]!r}")
    return "the comment was recorded"


def comment_is_scored(world: World) -> str:
    def reading() -> dict[str, Any] | None:
        status, _, body = world.api.request(
            "GET", "/api/v1/responses", headers={"Authorization": f"Bearer {world.facts['key']}"}
        )
        items = json.loads(body).get("items", []) if status == 200 else []
        read = [i for i in items if i.get("text") == COMMENT and i.get("sentiment")]
        return read[0] if read else None

    item = until("the scoring function's reading of the comment", reading, timeout_s=180, every_s=2)
    themes = ", ".join(f"{t['theme']} {t['sentiment']}" for t in item["themes"])
    return f"sentiment {item['sentiment']['label']}, themes: {themes or 'none'}"


def owner_is_alerted(world: World) -> str:
    def alert() -> list[dict[str, Any]] | None:
        found = world.mail_to(OWNER)
        if not found:
            world.tick("notifier-sender")
        return found

    # An immediate alert goes once its minute is over (the batching window), at the sender's next run.
    [mail] = until("the owner's alert e-mail in SES", alert, timeout_s=180, every_s=3)
    if COMMENT[:30] not in (mail["BodyText"] or ""):
        raise StoryFailed(f"the alert does not quote the comment: {mail['BodyText'][:500]}")
    return f"{mail['Subject']!r} from {mail['Source']}"


def dashboard_answers_with_the_key(world: World) -> str:
    auth = {"Authorization": f"Bearer {world.facts['key']}"}
    status, _, body = world.api.request("GET", "/api/v1/overview", headers=auth)
    if status != 200:
        raise StoryFailed(f"/api/v1/overview answered {status}: {body[:300]!r}")
    metrics = json.loads(body)
    refused, _, _ = world.api.request("GET", "/api/v1/overview")
    if refused != 401:
        raise StoryFailed(f"/api/v1/overview without a key answered {refused}, not 401")
    return f"overview {json.dumps(metrics)[:200]}; without a key 401"


STORY: tuple[tuple[str, Callable[[World], str]], ...] = (
    ("the owner sets up the shop with the CLI", owner_sets_up_the_shop),
    ("signed Shopify webhooks: order, payment, fulfilment, delivery", webhooks_are_accepted),
    ("the survey e-mail leaves through SES", survey_email_is_sent),
    ("the customer clicks 2 in the e-mail", score_is_clicked),
    ("the customer writes why", comment_is_sent),
    ("the scoring function reads the comment", comment_is_scored),
    ("the owner's alert e-mail", owner_is_alerted),
    ("the dashboard API with the shop's key", dashboard_answers_with_the_key),
)
