"""The local stack's stand-ins for outside services: an SMTP server that keeps what it receives
(a Maildir under the state folder) and a Slack-compatible incoming-webhook sink (JSON lines)."""

from __future__ import annotations

import json
import mailbox
import threading
from dataclasses import dataclass
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


@dataclass
class SlackSink:
    """Accepts what Slack's incoming webhooks accept; answers like Slack (``ok`` / ``invalid_payload``)."""

    path: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def post(self, hook: str, body: bytes) -> tuple[int, str]:
        try:
            payload: Any = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return 400, "invalid_payload"
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return 400, "no_text"
        blocks = payload.get("blocks") or []
        if not isinstance(blocks, list) or len(blocks) > 50:
            return 400, "invalid_blocks"
        record = {"hook": hook, "received_at": datetime.now(tz=UTC).isoformat(), "payload": payload}
        with self._lock, self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        return 200, "ok"

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
