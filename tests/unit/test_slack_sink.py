"""The local Slack sink on a fake clock: its rate limit, bursts, scripted answers and stats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cxloop.local.sinks import ScriptedAnswer, SinkAnswer, SlackSink, scripted_answer

OK = b'{"text": "hello"}'


@dataclass
class Clock:
    now: float = 50.0

    def __call__(self) -> float:
        return self.now


def sink(tmp_path: Path, **options: float) -> tuple[SlackSink, Clock]:
    clock = Clock()
    return SlackSink(tmp_path / "slack.jsonl", clock=clock, **options), clock  # type: ignore[arg-type]


def test_one_message_a_second_per_hook_and_no_burst(tmp_path: Path) -> None:
    slack, clock = sink(tmp_path)
    assert slack.post("a", OK) == SinkAnswer(200, "ok")
    clock.now += 0.4
    assert slack.post("a", OK) == SinkAnswer(429, "rate_limited", {"Retry-After": "1"})
    assert slack.post("b", OK).status == 200  # hooks are limited apart
    clock.now += 0.6
    assert slack.post("a", OK).status == 200  # 1.0 s after the last accepted, the 429 did not count
    clock.now += 2.5
    assert slack.post("a", OK).status == 200
    assert slack.stats()["a"] == {
        "accepted": 3,
        "rate_limited": 1,
        "scripted": 0,
        "invalid": 0,
        "min_gap_s": pytest.approx(1.0),
    }
    assert [m["hook"] for m in slack.messages()] == ["a", "b", "a", "a"]


def test_a_configured_burst_then_one_a_second(tmp_path: Path) -> None:
    slack, clock = sink(tmp_path, burst=3, min_interval_s=2.0)
    assert [slack.post("a", OK).status for _ in range(4)] == [200, 200, 200, 429]
    assert slack.post("a", OK).headers == {"Retry-After": "2"}
    clock.now += 2.0
    assert [slack.post("a", OK).status for _ in range(2)] == [200, 429]


def test_interval_zero_turns_the_limit_off(tmp_path: Path) -> None:
    slack, _ = sink(tmp_path, min_interval_s=0)
    assert {slack.post("a", OK).status for _ in range(20)} == {200}


def test_invalid_payloads_are_refused_before_the_rate_and_not_stored(tmp_path: Path) -> None:
    slack, _ = sink(tmp_path)
    assert slack.post("a", OK).status == 200
    assert slack.post("a", b"not json") == SinkAnswer(400, "invalid_payload")
    assert slack.post("a", b'{"username": "x"}') == SinkAnswer(400, "no_text")
    blocks = json.dumps({"blocks": [{"type": "divider"}] * 51}).encode()
    assert slack.post("a", blocks) == SinkAnswer(400, "invalid_blocks")
    assert slack.stats()["a"]["invalid"] == 3
    assert len(slack.messages()) == 1


def test_scripted_answers_then_normal_again(tmp_path: Path) -> None:
    slack, clock = sink(tmp_path)
    slack.script("a", scripted_answer({"status": 404, "times": 2}))
    assert slack.post("a", OK) == SinkAnswer(404, "channel_not_found")
    assert slack.post("a", b"not even json") == SinkAnswer(404, "channel_not_found")
    assert slack.post("a", OK).status == 200
    slack.script("a", scripted_answer({"status": 429, "times": None, "retry_after": 7}))
    clock.now += 100
    assert all(slack.post("a", OK) == SinkAnswer(429, "rate_limited", {"Retry-After": "7"}) for _ in range(5))
    slack.reset("a")
    assert slack.post("a", OK).status == 200
    assert slack.stats()["a"]["scripted"] == 7
    assert slack.stats()["a"]["rate_limited"] == 0  # scripted 429s are not rate violations


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"status": 410}, ScriptedAnswer(410, "channel_is_archived", 1, None)),
        ({"status": 500, "times": None}, ScriptedAnswer(500, "rollup_error", None, None)),
        ({"status": 429, "retry_after": 1.5}, ScriptedAnswer(429, "rate_limited", 1, "1.5")),
        ({"status": 429, "retry_after": "soon"}, ScriptedAnswer(429, "rate_limited", 1, "soon")),
        ({"status": 503, "body": "busy", "times": 3}, ScriptedAnswer(503, "busy", 3, None)),
    ],
)
def test_scripts_from_json(spec: dict[str, object], expected: ScriptedAnswer) -> None:
    assert scripted_answer(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [[], {}, {"status": "404"}, {"status": 42}, {"status": True}, {"status": 404, "times": 0},
     {"status": 404, "body": 1}, {"status": 429, "retry_after": "1\r\nX-Evil: 1"}],
)  # fmt: skip
def test_bad_scripts_are_refused(spec: object) -> None:
    with pytest.raises(ValueError, match=r"must be|object"):
        scripted_answer(spec)
