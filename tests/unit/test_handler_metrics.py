"""The business metrics each handler publishes (issue 16, operations): EMF lines on stdout, as
CloudWatch Logs reads them in Lambda, one set per invocation, with closed-set dimensions."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from services.feedback import bootstrap as feedback_bootstrap
from services.feedback.domain.surveys.dispatch import DispatchReport
from services.feedback.handlers import dispatcher, mail_events, webhooks
from services.notifier.domain.delivery import SendReport
from services.notifier.handlers import sender
from shared.observability import Counts, route_metrics
from shared.tenancy import Platform
from tests.unit.support import World, body_of, shopify_headers

pytestmark = pytest.mark.unit

SHOP = "metric-shop"
SECRET = "shopify-secret-1"
DOMAIN = "metric.myshopify.com"
ORDER = {"id": 1, "email": "a@example.com", "updated_at": "2026-03-01T11:00:00+00:00", "total_price": "1.00"}


class Context:
    function_name = "cxloop-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cxloop-test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def emf(out: str) -> list[dict[str, Any]]:
    """The EMF documents among the printed lines (the logs go elsewhere in these tests)."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [doc for doc in lines if "_aws" in doc]


def metrics_of(docs: list[dict[str, Any]]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(metric, its full dimension values): value}, checking each document's EMF shape on the way."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "cxloop"
        full = max(directive["Dimensions"], key=len)
        for dims in directive["Dimensions"]:
            assert "service" in dims and set(dims) <= set(full)
        values = frozenset((k, doc[k]) for k in full)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            value = doc[metric["Name"]]  # Powertools writes a list of values
            found[(metric["Name"], values)] = sum(value) if isinstance(value, list) else value
    return found


def dims(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
def world() -> Any:
    w = World()
    w.add_shop(SHOP, {Platform.SHOPIFY: SECRET}, domain=DOMAIN)
    feedback_bootstrap.intake.use(feedback_bootstrap.Intake(w.intake_deps, w.policy))
    yield w
    feedback_bootstrap.intake.use(None)


def _webhook(platform: str = "shopify", *, secret: str = SECRET, event_id: str = "evt-1") -> dict[str, Any]:
    body = body_of(ORDER)
    return {
        "version": "2.0",
        "rawPath": f"/webhooks/{platform}/{SHOP}",
        "headers": shopify_headers(secret, "orders/create", body, domain=DOMAIN, event_id=event_id),
        "pathParameters": {"platform": platform, "shop_id": SHOP},
        "requestContext": {"requestId": uuid.uuid4().hex, "http": {"method": "POST"}},  # one per delivery
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def test_webhooks_count_accepted_duplicate_and_refused_by_platform_and_reason(world, capsys) -> None:
    assert webhooks.handler(_webhook(), Context())["statusCode"] == 200
    first = metrics_of(emf(capsys.readouterr().out))
    assert first == {("WebhooksAccepted", dims(service="feedback", platform="shopify")): 1}

    webhooks.handler(_webhook(), Context())  # the platform's retry
    assert metrics_of(emf(capsys.readouterr().out)) == {
        ("WebhooksDuplicate", dims(service="feedback", platform="shopify")): 1
    }

    assert webhooks.handler(_webhook(secret="forged-secret", event_id="e2"), Context())["statusCode"] == 401
    (doc,) = emf(capsys.readouterr().out)
    assert metrics_of([doc]) == {
        ("WebhooksRefused", dims(service="feedback", platform="shopify", reason="signature")): 1
    }
    # The alarm's metric: the reason without the platform, published from the same line.
    assert sorted(sorted(d) for d in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) == [
        ["platform", "reason", "service"],
        ["reason", "service"],
    ]


def test_a_path_cannot_mint_metric_dimensions(world, capsys) -> None:
    assert webhooks.handler(_webhook("made-up-platform-123"), Context())["statusCode"] == 404
    assert metrics_of(emf(capsys.readouterr().out)) == {
        ("WebhooksRefused", dims(service="feedback", platform="unknown", reason="unknown_shop")): 1
    }


def test_each_invocation_publishes_its_own_counts_once(world, capsys) -> None:
    webhooks.handler(_webhook(event_id="a"), Context())
    webhooks.handler(_webhook(event_id="b"), Context())
    docs = emf(capsys.readouterr().out)
    assert [metrics_of([d]) for d in docs] == [
        {("WebhooksAccepted", dims(service="feedback", platform="shopify")): 1}
    ] * 2


def test_metrics_go_where_the_local_stack_routes_them(world, capsys, tmp_path) -> None:
    path = tmp_path / "functions.log"
    with path.open("a") as stream:
        route_metrics(stream)
        try:
            webhooks.handler(_webhook(), Context())
        finally:
            route_metrics(None)
    assert emf(capsys.readouterr().out) == []
    logged = metrics_of(emf(path.read_text()))
    assert logged == {("WebhooksAccepted", dims(service="feedback", platform="shopify")): 1}


def test_metrics_disabled_publishes_nothing(world, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    webhooks.handler(_webhook(), Context())
    assert emf(capsys.readouterr().out) == []


def test_the_dispatcher_counts_surveys_sent_suppressed_and_deferred(monkeypatch, capsys) -> None:
    suppressed = Counter({"throttled": 2, "bounced": 1})
    report = DispatchReport(sent=3, reminders=1, deferred=2, suppressed=suppressed)

    class FakeDispatcher:
        def __init__(self, *_: Any) -> None: ...

        def run(self, **_: Any) -> DispatchReport:
            return report

    monkeypatch.setattr(dispatcher, "Dispatcher", FakeDispatcher)
    feedback_bootstrap.dispatch.use(SimpleNamespace(dispatch_deps=lambda: None, publisher=None))  # type: ignore[arg-type]
    try:
        dispatcher.handler({}, Context())
    finally:
        feedback_bootstrap.dispatch.use(None)
    assert metrics_of(emf(capsys.readouterr().out)) == {
        ("SurveysSent", dims(service="feedback")): 3,
        ("SurveyRemindersSent", dims(service="feedback")): 1,
        ("SurveysSuppressed", dims(service="feedback")): 3,
        ("SurveysDeferred", dims(service="feedback")): 2,
    }


def _ses(kind: str, to: str) -> str:
    mail = {"tags": {"shop": [SHOP], "invite": ["inv-1"]}}
    if kind == "Bounce":
        event = {"bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": to}]}}
    else:
        event = {"complaint": {"complainedRecipients": [{"emailAddress": to}]}}
    return json.dumps({"source": "aws.ses", "detail": {"eventType": kind, "mail": mail, **event}})


def test_mail_events_count_bounces_and_complaints(monkeypatch, capsys) -> None:
    acted: list[int] = []
    monkeypatch.setattr(mail_events.bounces, "act", lambda _s, feedback, _n, _p: acted.append(len(feedback)))
    feedback_bootstrap.surveys.use(SimpleNamespace(surveys=None, publisher=None))  # type: ignore[arg-type]
    records = [
        {"messageId": f"m{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
        for i, body in enumerate(
            [_ses("Bounce", "a@x.com"), _ses("Bounce", "b@x.com"), _ses("Complaint", "c@x.com"), "{"]
        )
    ]
    try:
        result = mail_events.handler({"Records": records}, Context())
    finally:
        feedback_bootstrap.surveys.use(None)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m3"}]  # the unreadable one, counted nowhere
    assert acted == [1, 1, 1]
    assert metrics_of(emf(capsys.readouterr().out)) == {
        ("SesBounces", dims(service="feedback")): 2,
        ("SesComplaints", dims(service="feedback")): 1,
    }


def _built() -> Any:
    return SimpleNamespace(sender_deps=lambda: 0, reply_deps=lambda: 0)


def test_the_sender_counts_alerts_429s_and_broken_destinations(monkeypatch, capsys) -> None:
    report = SendReport(delivered=2, alerts=5, deferred=1, held=1, broken=["team"])
    report.rate_limited["slack"] += 1
    report.broken_kinds["slack"] += 1
    monkeypatch.setattr(sender, "notifier", _built)
    monkeypatch.setattr(sender, "send_due", lambda *_a, **_k: report)
    monkeypatch.setattr(sender, "send_due_replies", lambda *_a: 0)
    sender.handler({}, Context())
    assert metrics_of(emf(capsys.readouterr().out)) == {
        ("AlertsSent", dims(service="notifier")): 5,
        ("AlertMessagesSent", dims(service="notifier")): 2,
        ("DestinationsRateLimited", dims(service="notifier", channel="slack")): 1,
        ("DestinationsBroken", dims(service="notifier", channel="slack")): 1,
    }


def test_a_run_without_counts_publishes_nothing(monkeypatch, capsys) -> None:
    """Tests and benchmarks call ``sender.run`` directly: nothing is counted for a later invocation."""
    monkeypatch.setattr(sender, "notifier", _built)
    monkeypatch.setattr(sender, "send_due", lambda *_a, **_k: SendReport(alerts=4, delivered=1))
    monkeypatch.setattr(sender, "send_due_replies", lambda *_a: 0)
    sender.run(None)  # type: ignore[arg-type]
    assert emf(capsys.readouterr().out) == []


def test_counts_refuse_a_rollup_of_a_dimension_they_lack() -> None:
    with pytest.raises(ValueError, match="rollup"):
        Counts("feedback").count("WebhooksRefused", platform="shopify", rollup=("reason",))


def test_zero_counts_publish_nothing() -> None:
    counts = Counts("feedback")
    counts.count("SurveysSent", 0)
    assert counts.documents() == []
