"""A shop world for the dashboard's API and pages on moto (in-process): two shops with keys, answers,
readings, reviews and cases fed through the notifier's own event handler, and the API invoked as API
Gateway would invoke it."""

from __future__ import annotations

import json
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from cxloop.local.gateway import api_event
from cxloop.local.runtime import Functions
from cxloop.local.sinks import SmtpSink
from cxloop.resources import Resources, provision_link_keys
from services.dashboard import bootstrap
from services.dashboard.domain import keys
from services.notifier import bootstrap as notifier_bootstrap
from services.notifier.domain.model import AlertSettings, Destination, DestinationKind
from services.notifier.handlers.events import handle
from shared import events, topology
from shared.dynamo_shops import DynamoShopDirectory
from shared.settings import DashboardSettings, load
from shared.tenancy import Platform, Shop

if TYPE_CHECKING:
    from tests.integration.conftest import Moto

NOW = datetime.now(tz=UTC).replace(microsecond=0)
SHOP_A = Shop(
    shop_id="shop-a", name="Acme Socks", platforms=(Platform.SHOPIFY,), owner_email="o@acme.example"
)
SHOP_B = Shop(
    shop_id="shop-b", name="Bravo Hats", platforms=(Platform.SHOPIFY,), owner_email="o@bravo.example"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class DashWorld:
    built: bootstrap.Dashboard
    resources: Resources
    inbox_dir: Path
    keys: dict[str, str] = field(default_factory=dict)
    functions: Functions = field(default_factory=Functions)

    @property
    def notifier(self) -> notifier_bootstrap.Notifier:
        """The notifier's own composition behind the dashboard's interface to it (a test may look inside)."""
        return self.built.notifier.notifier

    def hear(self, detail_type: str, data: dict[str, Any], shop: Shop = SHOP_A, now: datetime = NOW) -> None:
        handle(detail_type, events.Envelope(name=detail_type, shop_id=shop.shop_id, data=data), now)

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "shop-a",
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        function: str = "dashboard-api",
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("authorization", f"Bearer {self.keys.get(key, key)}")
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("content-type", "application/json")
        builder = EnvironBuilder(
            path=path,
            method=method,
            data=data,
            headers=sent,
            query_string=urllib.parse.urlencode(query or {}),
        )
        fn = topology.function(function)
        result = self.functions.invoke(fn, api_event(Request(builder.get_environ()), fn.routes[0], {}))
        return Reply(int(result["statusCode"]), dict(result.get("headers") or {}), result.get("body") or "")


def answer(invite: str, score: int, *, survey_type: str = "nps", at: datetime = NOW, revision: int = 1,
           comment: str | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    data = {
        "invite_id": invite,
        "revision": revision,
        "survey_type": survey_type,
        "score": score,
        "answered_at": at.isoformat(),
        "comment": comment,
        "order_id": f"o-{invite}",
        "order_name": f"#{invite[-4:]}",
        "platform": "shopify",
        "customer_key": f"email:{invite}",
        "email": f"{invite}@customer.example",
        "first_name": "Ana",
    }
    return data | extra


def reading(subject_id: str, label: str, themes: list[tuple[str, str]], *, subject: str = "response",
            revision: int = 1, at: datetime = NOW, **extra: Any) -> dict[str, Any]:  # fmt: skip
    score = {"positive": 0.8, "neutral": 0.0, "negative": -0.8}
    return {
        "subject": subject,
        "subject_id": subject_id,
        "revision": revision,
        "key": f"{subject_id}#{revision}",
        "sentiment": {"label": label, "score": score[label], "confidence": 0.9},
        "themes": [{"theme": t, "sentiment": s, "score": score[s]} for t, s in themes],
        "language": "en",
        "taxonomy": "ecommerce",
        "model_version": "test",
        "scored_at": at.isoformat(),
        **extra,
    }


@pytest.fixture
def dash(aws: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DashWorld]:
    port = free_port()
    smtp = SmtpSink(tmp_path / "mail", port=port)
    smtp.start()
    resources = aws.resources
    provision_link_keys(aws.clients["secretsmanager"])
    for k, v in resources.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(topology.ENV_MAIL_TRANSPORT, "smtp")
    monkeypatch.setenv(topology.ENV_SMTP_PORT, str(port))
    monkeypatch.setenv(topology.ENV_PUBLIC_URL, "http://127.0.0.1:8080")
    shops = DynamoShopDirectory(aws.clients["dynamodb"], resources.tables["shops"])
    for shop in (SHOP_A, SHOP_B):
        shops.put(shop)
    built = bootstrap.build_dashboard(load(DashboardSettings))
    bootstrap.dashboard.use(built)
    notifier_bootstrap.notifier.use(built.notifier.notifier)
    world = DashWorld(built, resources, tmp_path / "mail")
    for shop in (SHOP_A, SHOP_B):
        built.notifier.save_alert_settings(
            shop.shop_id,
            AlertSettings(
                destinations=(Destination(name="team", kind=DestinationKind.EMAIL, address="t@x.example"),)
            ),
        )
        world.keys[shop.shop_id] = keys.issue(built.keys, shop.shop_id, "test", NOW)[1]
    try:
        yield world
    finally:
        bootstrap.dashboard.use(None)
        notifier_bootstrap.notifier.use(None)
        smtp.stop()


def days_ago(n: int) -> datetime:
    return NOW - timedelta(days=n)
