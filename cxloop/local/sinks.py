"""The local stack's stand-ins for outside services: an SMTP server that keeps what it receives
(a Maildir under the state folder) and a Slack-compatible incoming-webhook sink (JSON lines)."""

from __future__ import annotations

import json
import mailbox
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, root: Path) -> None:
        self.box = mailbox.Maildir(root, create=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        message = message_from_bytes(data, policy=policy.default)
        message["X-Local-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        message["X-Local-Received-At"] = datetime.now(tz=UTC).isoformat()
        with self._lock:
            self.box.add(message)
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.handler = MaildirHandler(root)
        self.controller = Controller(self.handler, hostname=host, port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def read_inbox(root: Path) -> list[tuple[str, EmailMessage]]:
    box = mailbox.Maildir(root, create=True, factory=None)
    found = []
    for key in list(box.iterkeys()):
        with box.get_file(key) as f:
            found.append((key, message_from_bytes(f.read(), policy=policy.default)))
    found.sort(key=lambda kv: str(kv[1].get("X-Local-Received-At", "")), reverse=True)
    return found


# Slack's plain-text error bodies (FACTS 2.1), the default body of a scripted answer with that status.
SLACK_ERRORS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "channel_not_found",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}


@dataclass(frozen=True)
class SinkAnswer:
    """What the sink answers one post: status, plain-text body, and headers (``Retry-After``)."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedAnswer:
    """The next ``times`` posts to a hook (None: every post until reset) get this answer instead."""

    status: int
    body: str
    times: int | None = 1
    retry_after: str | None = None  # sent verbatim as Retry-After (a bad value tests a client)

    def answer(self) -> SinkAnswer:
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        return SinkAnswer(self.status, self.body, headers)


@dataclass
class HookStats:
    accepted: int = 0
    rate_limited: int = 0
    scripted: int = 0
    invalid: int = 0
    min_gap_s: float | None = None  # between accepted messages
    last_accepted_at: float | None = None  # on the sink's clock
    tokens: float = 0.0  # the rate bucket, as of last_accepted_at

    def view(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rate_limited": self.rate_limited,
            "scripted": self.scripted,
            "invalid": self.invalid,
            "min_gap_s": self.min_gap_s,
        }


@dataclass
class SlackSink:
    """Accepts what Slack's incoming webhooks accept and answers like Slack, load and failures included.

    Checked in order: a scripted answer for the hook (returned as is, nothing stored); the payload
    (400 ``invalid_payload`` / ``no_text`` / ``invalid_blocks``); the rate: a token bucket per hook of
    ``burst`` messages refilled one per ``min_interval_s`` (the default: no burst, 1 s apart after the
    last accepted message; 0 turns it off), beyond which a post gets 429 ``rate_limited`` with
    ``Retry-After`` in whole seconds. Accepted messages go to a JSON-lines file.
    """

    path: Path
    min_interval_s: float = 1.0
    burst: int = 1
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self._lock = threading.Lock()
        self._scripts: dict[str, ScriptedAnswer] = {}
        self._stats: dict[str, HookStats] = {}

    def post(self, hook: str, body: bytes) -> SinkAnswer:
        with self._lock:
            stats = self._stats.setdefault(hook, HookStats(tokens=float(self.burst)))
            script = self._scripts.get(hook)
            if script is not None:
                stats.scripted += 1
                self._use(hook, script)
                return script.answer()
            payload = _read(body)
            if isinstance(payload, str):
                stats.invalid += 1
                return SinkAnswer(400, payload)
            now = self.clock()
            tokens = self._tokens(stats, now)
            if tokens < 1:
                stats.rate_limited += 1
                wait = (1 - tokens) * self.min_interval_s
                return SinkAnswer(429, "rate_limited", {"Retry-After": str(max(1, math.ceil(wait)))})
            stats.tokens = tokens - 1
            self._accept(hook, stats, now, payload)
            return SinkAnswer(200, "ok")

    def script(self, hook: str, answer: ScriptedAnswer) -> None:
        with self._lock:
            self._scripts[hook] = answer

    def reset(self, hook: str) -> None:
        with self._lock:
            self._scripts.pop(hook, None)

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {hook: s.view() for hook, s in self._stats.items()}

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def _use(self, hook: str, script: ScriptedAnswer) -> None:
        if script.times is not None:
            script.times -= 1
            if script.times <= 0:
                del self._scripts[hook]

    def _tokens(self, stats: HookStats, now: float) -> float:
        """The hook's bucket now: refilled one token per ``min_interval_s`` since the last accepted post."""
        if self.min_interval_s <= 0:
            return float(self.burst)
        if stats.last_accepted_at is None:
            return stats.tokens
        refill = (now - stats.last_accepted_at) / self.min_interval_s
        return min(float(self.burst), stats.tokens + refill)

    def _accept(self, hook: str, stats: HookStats, now: float, payload: dict[str, Any]) -> None:
        if stats.last_accepted_at is not None:
            gap = now - stats.last_accepted_at
            stats.min_gap_s = gap if stats.min_gap_s is None else min(stats.min_gap_s, gap)
        stats.accepted += 1
        stats.last_accepted_at = now
        record = {"hook": hook, "received_at": datetime.now(tz=UTC).isoformat(), "payload": payload}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def _read(body: bytes) -> dict[str, Any] | str:
    """The payload, or Slack's 400 body for one it would refuse."""
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "invalid_payload"
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return "no_text"
    blocks = payload.get("blocks") or []
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    return payload


def scripted_answer(spec: Any) -> ScriptedAnswer:
    """A script from its JSON: ``status`` (required), ``body`` (Slack's error for the status), ``times``
    (1; null: until reset), ``retry_after`` (seconds, or any string to send verbatim; none: no header)."""
    if not isinstance(spec, dict):
        raise ValueError("a script is a JSON object")
    status = spec.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status code")
    body = spec.get("body", SLACK_ERRORS.get(status, "ok" if status < 300 else "error"))
    times = spec.get("times", 1)
    if not isinstance(body, str):
        raise ValueError("body must be a string")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise ValueError("times must be a positive integer or null")
    return ScriptedAnswer(status, body, times, _retry_after_header(spec.get("retry_after")))


def _retry_after_header(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, str) and "\r" not in value and "\n" not in value:
        return value
    raise ValueError("retry_after must be a number or a one-line string")
