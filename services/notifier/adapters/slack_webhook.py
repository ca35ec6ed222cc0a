"""Posting to a Slack incoming webhook, with Slack's answer sorted into what the sender does next.

slack-sdk's ``WebhookClient`` does the HTTP, with no retry handlers: whether and when to retry is the
notifier's decision (its pacer and its queue), not a loop hidden in a Lambda invocation. A webhook's
URL is a credential, so it appears in no log line and no message here, and the SDK's own logging (which
writes the URL at debug level) is switched off.
"""

from __future__ import annotations

import http.client
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_S = 1.0
BODY_CHARS = 200  # of Slack's answer, kept in an outcome (Slack's error bodies are one word)

# The SDK's logger: never enabled, never propagated, so no URL reaches the logs through it.
_sdk_log = logging.Logger("cxloop.notifier.slack_sdk", level=logging.CRITICAL + 1)
_sdk_log.addHandler(logging.NullHandler())
_sdk_log.propagate = False


@dataclass(frozen=True)
class Delivered:
    """Slack took the message (200)."""


@dataclass(frozen=True)
class RateLimited:
    """429: post again to this webhook no sooner than ``retry_after_s`` from now."""

    retry_after_s: float


@dataclass(frozen=True)
class Retryable:
    """5xx, or no answer (connection refused, timeout): the same post may work later.
    ``status`` is None when Slack did not answer; ``body`` then names the error."""

    status: int | None
    body: str


@dataclass(frozen=True)
class Broken:
    """Any other 4xx (invalid_payload, action_prohibited, channel_not_found, channel_is_archived ...),
    or a URL that cannot be posted to (status 0, ``invalid_url``): permanent, the destination needs its
    owner."""

    status: int
    body: str


SlackOutcome = Delivered | RateLimited | Retryable | Broken


class SlackWebhook:
    """Posts payloads to incoming webhooks; answers with a :data:`SlackOutcome`, never raises for one."""

    def __init__(self, timeout_s: int = 10) -> None:
        self.timeout_s = timeout_s

    def post(self, url: str, payload: Mapping[str, Any], label: str = "") -> SlackOutcome:
        """POST ``payload`` as JSON to ``url``. ``label`` (a destination's name) is what logs show."""
        outcome = self._send(url, payload) if _postable(url) else Broken(status=0, body="invalid_url")
        log.info("slack post %s: %s", label or "(unnamed)", outcome)
        return outcome

    def _send(self, url: str, payload: Mapping[str, Any]) -> SlackOutcome:
        client = WebhookClient(url, timeout=self.timeout_s, retry_handlers=[], logger=_sdk_log)
        try:
            response = client.send_dict(dict(payload))
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets, bad status lines
            return Retryable(status=None, body=type(e).__name__)
        return classify(response.status_code, response.body, response.headers)


def _postable(url: str) -> bool:
    """An http(s) URL with a host (what urllib can post to; the SDK's own refusal quotes the URL)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("https", "http") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad IPv6 literal or port
        return False


def classify(status: int, body: str, headers: Mapping[str, Any]) -> SlackOutcome:
    """Slack's answer as an outcome: 2xx delivered, 429 rate limited, other 4xx broken, else retryable."""
    text = (body or "")[:BODY_CHARS]
    if 200 <= status < 300:
        return Delivered()
    if status == 429:
        return RateLimited(retry_after_s=retry_after_s(headers))
    if 400 <= status < 500:
        return Broken(status=status, body=text)
    return Retryable(status=status, body=text)


def retry_after_s(headers: Mapping[str, Any]) -> float:
    """The ``Retry-After`` header in seconds; :data:`DEFAULT_RETRY_AFTER_S` when missing or not a number."""
    raw = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        seconds = float(str(raw).strip())
    except ValueError:
        return DEFAULT_RETRY_AFTER_S
    return seconds if math.isfinite(seconds) and seconds >= 0 else DEFAULT_RETRY_AFTER_S
