"""End-to-end fixtures: `cxloop run` in a subprocess on free ports, talked to over HTTP, one stack per
worker shared by the modules (each with shops of its own); headless Debian Chromium driven by
Playwright for the pages."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
import pytest

from cxloop.admin import Admin
from cxloop.local.demo import deliveries, demo_clock, post
from cxloop.resources import resolve
from cxloop.signing import webhook_headers
from shared.tenancy import Platform, Shop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def run_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`cxloop` against the stack whose state folder this is, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "cxloop.cli", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def add_shopify_shop(state: Path, shop: str, domain: str, name: str, owner_email: str) -> str:
    """`cxloop shop add` for a Shopify shop, as the README shows it; the webhook secret it prints."""
    added = run_cli(state, "shop", "add", shop, "--platform", "shopify", "--domain", domain,
                    "--name", name, "--owner-email", owner_email)  # fmt: skip
    assert added.returncode == 0, added.stderr
    secret = re.search(r"secret ([A-Za-z0-9_\-]{20,})", added.stdout)
    assert secret, added.stdout
    return secret.group(1)


def until(what: str, probe: Any, timeout_s: float = 40.0) -> Any:
    """``probe()``'s first truthy answer, polled every half second."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s} s")


@dataclass
class LiveStack:
    api: str
    moto: str
    state_dir: Path
    admin: Admin
    process: subprocess.Popen[bytes]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cxloop.cli", "--state-dir", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def send(
        self,
        platform: Platform,
        shop: Shop,
        secret: str,
        topic: str,
        payload: Any,
        event_id: str | None = None,
    ) -> tuple[int, str]:
        body = json.dumps(payload).encode()
        headers = webhook_headers(platform, topic, body, secret, shop.domain_for(platform), event_id)
        return post(f"{self.api}/webhooks/{platform.value}/{shop.shop_id}", body, headers)

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.api}/_local/status.json", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def wait_idle(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(q["visible"] == 0 and q["in_flight"] == 0 for q in self.status()["queues"]):
                return
            time.sleep(0.2)
        raise AssertionError(f"queues not drained: {self.status()}")


def start(tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    api, moto, smtp = free_port(), free_port(), free_port()
    log = (tmp / "stack.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxloop.cli",
            "--state-dir",
            str(tmp / "state"),
            "run",
            "--api-port",
            str(api),
            "--moto-port",
            str(moto),
            "--smtp-port",
            str(smtp),
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, f"http://127.0.0.1:{api}", f"http://127.0.0.1:{moto}", tmp / "state"


def wait_up(proc: subprocess.Popen[bytes], api: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the local stack exited:\n" + log.read_text())
        try:
            urllib.request.urlopen(f"{api}/_local/status.json", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError("the local stack did not come up:\n" + log.read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ends a stack `start` began, as Ctrl-C would, and kills it if it does not stop in time."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


MAYA = "maya.lopez@example.net"  # the demo's customer whose order is delivered


def paid_order(
    order_id: int, number: int, email: str, first_name: str, total: float, days_ago: int
) -> dict[str, Any]:
    """A paid, unfulfilled Shopify order (REST shape) ``days_ago`` days back, in EUR."""
    at = (datetime.now(tz=UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": order_id, "name": f"#{number}", "email": email, "created_at": at, "updated_at": at,
        "currency": "EUR", "total_price": f"{total:.2f}", "financial_status": "paid",
        "fulfillment_status": None, "cancelled_at": None, "closed_at": None, "test": False,
        "customer": {"id": 9_000 + sum(map(ord, email)), "email": email, "first_name": first_name,
                     "updated_at": at},
        "line_items": [{"id": 1, "title": "Stoneware mug", "quantity": 1, "price": f"{total:.2f}"}],
        "fulfillments": [],
    }  # fmt: skip


def post_demo_orders(api: str, shop: str, domain: str, secret: str, customer: str) -> None:
    """The demo's Shopify orders but the cancelled #1043, moved to now, signed for ``shop``; Maya's
    address becomes ``customer``, so that each module finds its own mail in the shared sink."""
    clock = demo_clock(1.0, datetime.now(tz=UTC))
    for d in [d for d in deliveries() if d["shop"] == "demo-shopify" and "#1043" not in json.dumps(d)]:
        body = json.dumps(clock.apply(d["body"])).replace(MAYA, customer).encode()
        headers = webhook_headers(Platform.SHOPIFY, d["topic"], body, secret, domain, d.get("event_id"))
        assert post(f"{api}/webhooks/shopify/{shop}", body, headers)[0] == 200


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """Days are a second, the dispatcher and the notifier's sender run every second: what the survey
    and closed-loop modules need, and harmless to the others."""
    tmp = tmp_path_factory.mktemp("stack")
    proc, api, moto, state = start(
        tmp, "--no-demo", "--day-seconds", "1", "--dispatch-every", "1", "--notify-every", "1"
    )
    try:
        wait_up(proc, api, tmp / "stack.log")
        session = boto3.session.Session(region_name="us-east-1")
        clients = {
            n: session.client(n, endpoint_url=moto) for n in ("dynamodb", "sqs", "secretsmanager", "events")
        }  # type: ignore[call-overload]
        admin = Admin(
            clients["dynamodb"],
            clients["sqs"],
            clients["secretsmanager"],
            clients["events"],
            resolve(clients["sqs"]),
        )
        yield LiveStack(api, moto, state, admin, proc)
    finally:
        stop(proc)


# Debian's Chromium (`make test` installs it with apt-get); Playwright never downloads a browser of its own.
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium's connections are refused on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def _unavailable(reason: str) -> NoReturn:
    """CI must not pass by skipping the browser tests; a developer without Chromium is told why."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: `make test` installs the `browser` extra")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser: Browser, **context: Any) -> Iterator[Page]:
    ctx = browser.new_context(**context)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


@pytest.fixture
def phone_page(chromium_browser: Browser) -> Iterator[Page]:
    yield from _page(
        chromium_browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def desktop_page(chromium_browser: Browser) -> Iterator[Page]:
    yield from _page(chromium_browser, viewport={"width": 1280, "height": 900})


def output_dir(tmp_path: Path, area: str) -> Path:
    """Where a browser test's screenshots go: ``$CXLOOP_TEST_OUTPUT/<area>``, else pytest's ``tmp_path``."""
    chosen = os.environ.get("CXLOOP_TEST_OUTPUT")
    out = Path(chosen) / area if chosen else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


# Nothing wider than the screen, and no box of the page that scrolls sideways on its own.
SIDEWAYS = """() => {
  const wide = document.documentElement.scrollWidth > window.innerWidth;
  const boxes = [...document.querySelectorAll('*')].filter(e => {
    const x = getComputedStyle(e).overflowX;
    return (x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth + 1;
  }).map(e => e.tagName + '.' + e.className);
  return {wide, boxes};
}"""


def fits(page: Page, name: str) -> None:
    """``page`` scrolls only up and down: neither the document nor a box in it scrolls sideways."""
    found = page.evaluate(SIDEWAYS)
    assert not found["wide"] and not found["boxes"], (name, page.viewport_size, found)


@pytest.fixture
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Screenshots go to pytest's temporary directory (the test output), never into the repo."""
    return tmp_path_factory.mktemp("screenshots-" + re.sub(r"\W+", "_", request.node.name)[:80])
