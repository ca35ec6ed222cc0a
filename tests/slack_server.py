"""A Slack-compatible server on loopback for tests: the local stack's Slack sink behind its own pages,
served by Werkzeug, with helpers to script its answers and read what it took."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from cxloop.local.pages import Pages
from cxloop.local.sinks import SlackSink
from cxloop.local.stack import QuietHandler


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
    pages = Pages(tmp_path / "mail", sink, {}, dict, lambda _: None, lambda _f, _p: None)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            response = pages.dispatch(Request(environ))
        except HTTPException as e:
            return e(environ, start_response)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SlackServer(f"http://127.0.0.1:{server.server_port}", sink)
    finally:
        server.shutdown()
        thread.join(timeout=5)
