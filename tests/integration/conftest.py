"""Integration fixtures: moto in-process, the topology provisioned once per worker and emptied before
each test that uses it, shops seeded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cxloop.admin import Admin
from cxloop.local.gateway import api_event
from cxloop.local.pump import Pump
from cxloop.local.runtime import Functions
from cxloop.resources import Resources, empty, provision
from cxloop.signing import webhook_headers
from services.feedback import bootstrap
from shared import topology
from shared.settings import ConsumerSettings, IntakeSettings, load
from shared.tenancy import Platform, Shop
from tests.integration.dashboard_world import dash  # noqa: F401 (a fixture for this tier)
from tests.platform_standins import bigcommerce_standin, shopify_standin, woo_standin  # noqa: F401 (fixtures for this tier)
from tests.slack_server import slack  # noqa: F401 (a fixture for this tier)

SHOP_A = Shop(
    shop_id="shop-a",
    name="A",
    platforms=(Platform.SHOPIFY, Platform.WOOCOMMERCE),
    domains={Platform.SHOPIFY: "shop-a.myshopify.com"},
)
SHOP_B = Shop(
    shop_id="shop-b",
    name="B",
    platforms=(Platform.SHOPIFY, Platform.BIGCOMMERCE),
    domains={Platform.SHOPIFY: "shop-b.myshopify.com"},
)


@dataclass
class Stack:
    admin: Admin
    resources: Resources
    secrets: dict[str, str]
    sqs: Any
    tap: str

    def post(self, platform: str, shop_id: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        builder = EnvironBuilder(
            path=f"/webhooks/{platform}/{shop_id}", method="POST", data=body, headers=headers
        )
        request = Request(builder.get_environ())
        event = api_event(request, topology.WEBHOOK_ROUTE, {"platform": platform, "shop_id": shop_id})
        return Functions().invoke(topology.function("feedback-webhooks"), event)  # type: ignore[no-any-return]

    def signed(
        self,
        platform: Platform,
        shop: Shop,
        topic: str,
        payload: Any,
        event_id: str | None = None,
        secret: str | None = None,
    ) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        headers = webhook_headers(
            platform, topic, body, secret or self.secrets[shop.shop_id], shop.domain_for(platform), event_id
        )
        return self.post(platform.value, shop.shop_id, body, headers)

    def drain(self) -> int:
        """Deliver queued messages to the consumer the way Lambda would, until the queue is empty."""
        pump = Pump(Functions(), self.sqs, self.resources, retry_delay_s=0)
        fn = topology.function("feedback-events")
        queue = topology.queue("feedback-events")
        url = self.resources.queue_urls["feedback-events"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        total = 0
        while n := pump.deliver_once(fn, queue, url, arn):
            total += n
        return total

    def bus_events(self) -> list[dict[str, Any]]:
        found = []
        while batch := self.sqs.receive_message(QueueUrl=self.tap, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in batch:
                found.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.tap, ReceiptHandle=m["ReceiptHandle"])
        return found


# The topology's services are emptied through their APIs, keeping tables, queues and rules; moto
# forgets everything else (secrets, SES identities and sent mail) between tests.
TOPOLOGY_SERVICES = ("dynamodb", "sqs", "events")
os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"  # an empty() per test


@dataclass(frozen=True)
class Moto:
    """moto in-process with the topology (prefix cxloop, with the bus tap) provisioned."""

    clients: dict[str, Any]
    resources: Resources

    def reset(self) -> None:
        """Back to the state just after provisioning."""
        empty(self.clients["dynamodb"], self.clients["sqs"])
        for backend in list(BackendDict._instances):
            if backend.service_name not in TOPOLOGY_SERVICES:
                for per_account in backend.values():
                    per_account.reset()


@pytest.fixture(scope="session")
def moto_world() -> Iterator[Moto]:
    """One provisioned moto per worker (provisioning costs more than most tests); tests take it through
    ``aws``, Hypothesis tests reset it per example."""
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        clients = {n: session.client(n) for n in ("dynamodb", "sqs", "secretsmanager", "events")}  # type: ignore[call-overload]
        yield Moto(
            clients, provision(clients["dynamodb"], clients["sqs"], clients["events"], "cxloop", tap=True)
        )


@pytest.fixture
def aws(moto_world: Moto) -> Moto:
    """The worker's moto, as fresh as a newly provisioned one."""
    moto_world.reset()
    return moto_world


@pytest.fixture
def stack(aws: Moto, monkeypatch: pytest.MonkeyPatch) -> Stack:
    clients, resources = aws.clients, aws.resources
    for key, value in resources.env().items():
        monkeypatch.setenv(key, value)
    admin = Admin(
        clients["dynamodb"], clients["sqs"], clients["secretsmanager"], clients["events"], resources
    )
    secrets = {}
    for shop in (SHOP_A, SHOP_B):
        stored = admin.add_shop(shop)
        secrets[shop.shop_id] = stored.platforms[Platform.SHOPIFY].current
    # Fresh "containers" for this test: the handlers build their adapters against this moto.
    bootstrap.intake.use(bootstrap.build_intake(load(IntakeSettings)))
    bootstrap.consumer.use(bootstrap.build_consumer(load(ConsumerSettings)))
    assert resources.tap_queue_url is not None
    return Stack(admin, resources, secrets, clients["sqs"], resources.tap_queue_url)


# Another AWS to hold to the same contracts (``python -m tests.rehearsal.fidelity`` sets it to
# MiniStack's endpoint): the tests that compare "the local server" with moto then compare it instead.
AWS_UNDER_TEST = "CXLOOP_AWS_UNDER_TEST"


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """The local stack's AWS server (moto, serialised DynamoDB, item-level transaction backups), or the
    endpoint named by $CXLOOP_AWS_UNDER_TEST."""
    if os.environ.get(AWS_UNDER_TEST):
        yield os.environ[AWS_UNDER_TEST]
        return
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


def feedback_table_at(endpoint: str | None, prefix: str) -> tuple[Any, str]:
    """A DynamoDB client at ``endpoint`` (None: moto in-process) and the provisioned feedback table."""
    session = boto3.session.Session(region_name="us-east-1")
    db = session.client("dynamodb", endpoint_url=endpoint)
    resources = provision(
        db,
        session.client("sqs", endpoint_url=endpoint),
        session.client("events", endpoint_url=endpoint),
        prefix,
    )
    return db, resources.tables["feedback"]
