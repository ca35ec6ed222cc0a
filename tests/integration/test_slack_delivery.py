"""SlackWebhook over real HTTP against the local stack's Slack sink (its pages, served by Werkzeug on
loopback): every answer Slack gives sorted into the outcome the sender acts on, and pacing that keeps a
webhook under its rate limit."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notifier.adapters.slack_webhook import (
    Broken,
    Delivered,
    RateLimited,
    Retryable,
    SlackOutcome,
    SlackWebhook,
)
from services.notifier.domain.model import Alert, AlertBatch, Delivery, RuleKind
from services.notifier.domain.pacing import Pacer
from services.notifier.domain.slack_messages import slack_payload
from tests.slack_server import SlackServer

AT = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
HELLO = {"text": "hello"}
SECRET = "T0001/B0001/s3cr3tW3bh00kT0k3n"  # the part of a Slack webhook URL that is a credential


def a_batch() -> AlertBatch:
    alert = Alert(
        shop_id="shop-a",
        key="detractor#response:inv-1",
        rule=RuleKind.DETRACTOR,
        delivery=Delivery.HOURLY,
        at=AT,
        title="NPS 3 from Ana (order #1042)",
        text="Arrived late & <broken>",
        approve_url="https://feedback.brand.example/approve/case-1",
    )
    return AlertBatch(
        shop_id="shop-a",
        destination="owner-alerts",
        window="hourly#2026-11-22T18:00",
        due_at=AT,
        count=3,
        by_rule={"detractor": 3},
        samples=[alert],
    )


def test_delivered_and_stored(slack: SlackServer) -> None:
    payload = slack_payload(a_batch())
    assert SlackWebhook().post(slack.hook_url("owner-alerts"), payload) == Delivered()
    [stored] = slack.get("/_local/slack.json")
    assert stored["hook"] == "owner-alerts"
    assert stored["payload"] == payload
    assert stored["payload"]["text"] == "3 detractors in the last hour"
    assert slack.get("/_local/slack/stats.json")["owner-alerts"]["accepted"] == 1


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(2, 2.0), (0.5, 0.5), (None, 1.0), ("soon", 1.0), (-3, 1.0)],
    ids=["seconds", "fraction", "missing", "not-a-number", "negative"],
)
def test_rate_limited_with_its_retry_after(slack: SlackServer, retry_after: Any, expected: float) -> None:
    spec = {"status": 429} | ({} if retry_after is None else {"retry_after": retry_after})
    slack.script("busy", **spec)
    assert SlackWebhook().post(slack.hook_url("busy"), HELLO) == RateLimited(retry_after_s=expected)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (403, "action_prohibited"),
        (400, "user_not_found"),
    ],
)
def test_other_client_errors_break_the_destination(slack: SlackServer, status: int, body: str) -> None:
    slack.script("gone", status=status, body=body)
    assert SlackWebhook().post(slack.hook_url("gone"), HELLO) == Broken(status=status, body=body)


def test_a_payload_slack_refuses_is_broken_not_retried(slack: SlackServer) -> None:
    outcome = SlackWebhook().post(slack.hook_url("owner-alerts"), {"blocks": [{"type": "divider"}] * 51})
    assert outcome == Broken(status=400, body="invalid_blocks")


@pytest.mark.parametrize(("status", "body"), [(500, "rollup_error"), (503, "service unavailable")])
def test_server_errors_are_retryable(slack: SlackServer, status: int, body: str) -> None:
    slack.script("flaky", status=status, body=body)
    assert SlackWebhook().post(slack.hook_url("flaky"), HELLO) == Retryable(status=status, body=body)


def test_a_script_lasts_its_times_and_a_reset_ends_one_without_end(slack: SlackServer) -> None:
    webhook = SlackWebhook()
    slack.script("h", status=500, times=2)
    assert [type(webhook.post(slack.hook_url("h"), HELLO)) for _ in range(3)] == [
        Retryable,
        Retryable,
        Delivered,
    ]
    slack.script("h", status=404, times=None)
    time.sleep(1.0)
    assert all(webhook.post(slack.hook_url("h"), HELLO) == Broken(404, "channel_not_found") for _ in range(3))
    slack.reset("h")
    assert webhook.post(slack.hook_url("h"), HELLO) == Delivered()
    assert slack.get("/_local/slack/stats.json")["h"]["scripted"] == 5
    assert len(slack.get("/_local/slack.json")) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retryable() -> None:
    outcome = SlackWebhook().post(f"http://127.0.0.1:{free_port()}/services/{SECRET}", HELLO)
    assert outcome == Retryable(status=None, body="URLError")


def test_no_answer_in_time_is_retryable() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        outcome = SlackWebhook(timeout_s=1).post(f"http://127.0.0.1:{port}/services/{SECRET}", HELLO)
    assert isinstance(outcome, Retryable) and outcome.status is None
    assert outcome.body in ("TimeoutError", "URLError")
    assert time.monotonic() - started < 5


def test_a_url_that_cannot_be_posted_to_is_broken() -> None:
    assert SlackWebhook().post(f"ftp://hooks.example/{SECRET}", HELLO) == Broken(status=0, body="invalid_url")


def test_the_webhook_url_never_reaches_the_logs(slack: SlackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = SlackWebhook(timeout_s=2)
    slack.script(SECRET.replace("/", "-"), status=500, times=None)
    urls = [
        slack.hook_url(SECRET.replace("/", "-")),
        f"http://127.0.0.1:{free_port()}/services/{SECRET}",
        f"gopher://hooks.example/{SECRET}",
    ]
    outcomes = [webhook.post(url, HELLO, label="owner-alerts") for url in urls]
    assert [type(o) for o in outcomes] == [Retryable, Retryable, Broken]
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert ours.count("slack post owner-alerts") == 3
    assert "s3cr3t" not in ours and "s3cr3t" not in repr(outcomes)


def test_two_posts_within_a_second_are_rate_limited_unless_paced(slack: SlackServer) -> None:
    webhook = SlackWebhook()
    unpaced = [webhook.post(slack.hook_url("unpaced"), HELLO) for _ in range(2)]
    assert unpaced == [Delivered(), RateLimited(retry_after_s=1.0)]

    pacer = Pacer(time.monotonic)
    paced = []
    for _ in range(3):
        time.sleep(pacer.wait_s("paced"))
        paced.append(webhook.post(slack.hook_url("paced"), HELLO))
        pacer.sent("paced")
    assert paced == [Delivered()] * 3

    stats = slack.get("/_local/slack/stats.json")
    assert stats["unpaced"]["rate_limited"] == 1
    assert stats["paced"]["rate_limited"] == 0
    assert stats["paced"]["accepted"] == 3
    assert stats["paced"]["min_gap_s"] >= 1.0


def test_the_pacer_honours_retry_after(slack: SlackServer) -> None:
    webhook, pacer = SlackWebhook(), Pacer(time.monotonic)
    slack.script("h", status=429, retry_after=2)
    started = time.monotonic()
    outcomes: list[SlackOutcome] = []
    while not outcomes or not isinstance(outcomes[-1], Delivered):
        assert len(outcomes) < 3
        time.sleep(pacer.wait_s("h"))
        outcome = webhook.post(slack.hook_url("h"), HELLO)
        pacer.sent("h")
        if isinstance(outcome, RateLimited):
            pacer.defer("h", outcome.retry_after_s)
        outcomes.append(outcome)
    assert outcomes == [RateLimited(retry_after_s=2.0), Delivered()]
    assert time.monotonic() - started >= 2.0
