"""A local HTTP server that plays a review source: scripted answers per path, every request recorded
(the connector tests, the reviews benchmark).

Connector tests point a connector's base URL at it and script the real API's shapes (pages, 401, 429
with or without Retry-After, 5xx, malformed bodies, edits between pulls).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class CannedResponse:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Route = Callable[[Seen], CannedResponse]


class FakeSource:
    """``answer(method, path, *answers)`` queues answers (the last one repeats); ``route`` sets a
    function deciding from the request. Unknown paths get a 404 with a JSON error."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._queued: dict[tuple[str, str], deque[CannedResponse]] = defaultdict(deque)
        self._routes: dict[tuple[str, str], Route] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, method: str, path: str, *answers: CannedResponse) -> None:
        with self._lock:
            self._queued[(method, path)].extend(answers)

    def route(self, method: str, path: str, fn: Route) -> None:
        self._routes[(method, path)] = fn

    def seen(self, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests if path is None or r.path == path]

    def _reply(self, seen: Seen) -> CannedResponse:
        key = (seen.method, seen.path)
        with self._lock:
            self.requests.append(seen)
            queue = self._queued.get(key)
            if queue:
                return queue.popleft() if len(queue) > 1 else queue[0]
        if key in self._routes:
            return self._routes[key](seen)
        return CannedResponse(404, {"error": {"code": "NOT_FOUND", "description": f"no route {seen.path}"}})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                answer = fake._reply(seen)
                body = answer.encoded()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def __enter__(self) -> FakeSource:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
