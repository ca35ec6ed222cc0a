"""A Slack-compatible server on loopback for tests: the local stack's Slack sink behind its own pages,
served by Werkzeug, with helpers to script its answers and read what it took."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cxloop.local.sinks import SlackSink
from cxloop.local.slack_server import serve_slack


@dataclass
class SlackServer:
    base: str
    sink: SlackSink

    def hook_url(self, hook: str) -> str:
        return f"{self.base}/_local/slack/{hook}"

    def script(self, hook: str, **spec: Any) -> None:
        request = urllib.request.Request(
            f"{self.hook_url(hook)}/script", data=json.dumps(spec).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200

    def reset(self, hook: str) -> None:
        request = urllib.request.Request(f"{self.hook_url(hook)}/script", method="DELETE")
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=5) as r:
            return json.loads(r.read())


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[SlackServer]:
    sink = SlackSink(tmp_path / "slack.jsonl")
    base, stop = serve_slack(sink, tmp_path)
    try:
        yield SlackServer(base, sink)
    finally:
        stop()
