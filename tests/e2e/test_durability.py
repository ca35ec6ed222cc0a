"""The local stack keeps its state (issue 15): whatever it acknowledged survives kill -9 of any of its
processes or of all of them, and a restart on the same state folder carries on where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cxloop.admin import Admin
from cxloop.local.demo import post
from cxloop.resources import resolve
from cxloop.signing import webhook_headers
from shared.tenancy import Platform, Shop
from shared.topology import link_keys_secret
from tests.e2e.conftest import free_port, until, wait_up

pytestmark = pytest.mark.e2e

SHOP = Shop(
    shop_id="durable-shop",
    name="Durable Linen",
    platforms=(Platform.SHOPIFY,),
    domains={Platform.SHOPIFY: "durable.myshopify.com"},
)


class Stack:
    """One state folder and one set of ports, started and killed as often as a test likes."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.api_port, self.moto_port, self.smtp_port = free_port(), free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.moto = f"http://127.0.0.1:{self.moto_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        self.runs += 1
        log = self.tmp / f"stack-{self.runs}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "cxloop.cli", "--state-dir", str(self.state), "run", "--no-demo",
                "--api-port", str(self.api_port), "--moto-port", str(self.moto_port),
                "--smtp-port", str(self.smtp_port), *extra,
            ],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        wait_up(self.proc, self.api, log)
        return self.proc

    def moto_pid(self) -> int:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        for pid in children:
            if b"cxloop.local.aws_server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        raise AssertionError(f"no moto server among {children}")

    def kill_all(self) -> None:
        """SIGKILL to every process of the stack at once: nothing gets to save anything."""
        assert self.proc is not None
        moto = self.moto_pid()
        os.kill(self.proc.pid, signal.SIGKILL)
        os.kill(moto, signal.SIGKILL)
        self.proc.wait(timeout=10)
        until("moto's server gone", lambda: not Path(f"/proc/{moto}").exists() or _zombie(moto), 10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def admin(self) -> Admin:
        session = boto3.session.Session(region_name="us-east-1")
        names = ("dynamodb", "sqs", "secretsmanager", "events")
        c = {n: session.client(n, endpoint_url=self.moto) for n in names}  # type: ignore[call-overload]
        return Admin(c["dynamodb"], c["sqs"], c["secretsmanager"], c["events"], resolve(c["sqs"]))

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.api}/_local/status.json", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def idle(self) -> bool:
        status = self.status()
        drained = all(q["visible"] == 0 and q["in_flight"] == 0 for q in status["queues"])
        return status["aws"] == "up" and drained


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def order(n: int) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": 880000 + n,
        "name": f"#D{n}",
        "email": f"customer{n}@example.com",
        "created_at": now,
        "updated_at": now,
        "currency": "EUR",
        "total_price": "42.00",
        "financial_status": "paid",
        "fulfillment_status": None,
        "customer": {"id": 770000 + n, "email": f"customer{n}@example.com", "first_name": "Dana"},
        "line_items": [{"id": 1, "product_id": 5, "title": "Linen sheet", "quantity": 1, "price": "42.00"}],
    }


def send(stack: Stack, secret: str, n: int) -> tuple[int, str]:
    body = json.dumps(order(n)).encode()
    headers = webhook_headers(
        Platform.SHOPIFY, "orders/create", body, secret, SHOP.domain_for(Platform.SHOPIFY), uuid.uuid4().hex
    )
    return post(f"{stack.api}/webhooks/shopify/{SHOP.shop_id}", body, headers)


def stored_orders(stack: Stack) -> set[str]:
    return {o.order_id for o in stack.admin().orders(SHOP.shop_id)}


def test_acknowledged_webhooks_and_secrets_survive_kill_9_of_every_process(stack: Stack) -> None:
    stack.start()
    secret = stack.admin().add_shop(SHOP).platforms[Platform.SHOPIFY].current
    link_keys = keys(stack.admin())
    # The pump is paused: every acknowledged webhook is still queued when the stack is killed.
    assert post(f"{stack.api}/_local/pump/feedback-events/pause", b"", {})[0] == 200
    acknowledged = [n for n in range(25) if send(stack, secret, n)[0] == 200]
    assert len(acknowledged) == 25
    stack.kill_all()

    stack.start()
    expected = {str(880000 + n) for n in acknowledged}
    until("the queued webhooks applied", lambda: stored_orders(stack) >= expected)
    until("queues drained", stack.idle)
    assert stored_orders(stack) == {str(880000 + n) for n in acknowledged}
    admin = stack.admin()
    assert admin.shops.get(SHOP.shop_id) is not None
    # The shop's webhook secret and the survey links' keys are the ones issued before the kill.
    assert send(stack, secret, 99)[0] == 200
    assert keys(admin) == link_keys
    until("every event processed", lambda: not pending(admin))


def keys(admin: Admin) -> str:
    return str(admin.secretsmanager.get_secret_value(SecretId=link_keys_secret("cxloop"))["SecretString"])


def pending(admin: Admin) -> list[str]:
    return [e["sk"] for e in admin.store.items(SHOP.shop_id, "EVENT") if "pending_pk" in e]


def test_the_stack_starts_its_killed_aws_server_again_with_its_state(stack: Stack) -> None:
    stack.start()
    secret = stack.admin().add_shop(SHOP).platforms[Platform.SHOPIFY].current
    before = [n for n in range(10) if send(stack, secret, n)[0] == 200]
    os.kill(stack.moto_pid(), signal.SIGKILL)
    answers = [send(stack, secret, n) for n in range(10, 30)]
    # While the server is down the intake answers "retry later", never a 200 for something it lost.
    assert {status for status, _ in answers} <= {200, 503}, answers
    restarts = until("the server started again", lambda: stack.status()["state"]["aws_restarts"])
    assert restarts[0]["exit"] == -signal.SIGKILL
    retried = [n for n, (status, _) in zip(range(10, 30), answers, strict=True) if status != 200]
    assert all(send(stack, secret, n)[0] == 200 for n in retried)
    until("queues drained", stack.idle)
    assert stored_orders(stack) == {str(880000 + n) for n in [*before, *range(10, 30)]}


def test_a_second_stack_on_the_same_state_folder_is_refused(stack: Stack, tmp_path: Path) -> None:
    stack.start()
    other = subprocess.run(
        [
            sys.executable, "-m", "cxloop.cli", "--state-dir", str(stack.state), "run", "--no-demo",
            "--api-port", str(free_port()), "--moto-port", str(free_port()), "--smtp-port", str(free_port()),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert other.returncode != 0
    assert "--state-dir" in other.stdout + other.stderr
    assert "in use" in other.stdout + other.stderr
    assert stack.proc is not None and stack.proc.poll() is None, "the first stack must keep running"


def test_fresh_forgets_the_stored_state(stack: Stack) -> None:
    stack.start()
    stack.admin().add_shop(SHOP)
    stack.stop()
    stack.start()
    assert stack.admin().shops.get(SHOP.shop_id) is not None, "a clean stop and start keeps the shop"
    stack.stop()
    old_mail = stack.state / "mail" / "new" / "from-before"
    old_mail.parent.mkdir(parents=True, exist_ok=True)
    old_mail.write_text("a survey whose link the forgotten state no longer knows")
    stack.start("--fresh")
    assert stack.admin().shops.get(SHOP.shop_id) is None
    assert not old_mail.exists(), "--fresh kept the inbox of the forgotten state"
