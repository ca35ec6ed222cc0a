"""One HTTP exchange with a platform's API, with its failures worded for the owner.

429 waits the platform's ``Retry-After`` (seconds or an HTTP date) and retries a bounded number of
times; 5xx, timeouts and refused connections are retried briefly with backoff, then fail naming the
call; 401/403 fail at once with the adapter's advice. Credentials travel in headers only, and no error
message repeats a header: what the owner reads is the call, the status and the platform's own words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

MAX_RETRIES = 3
MAX_WAIT_S = 60.0  # a Retry-After longer than this is not waited for: the owner is told when to retry


class PlatformError(Exception):
    """A platform call that did not do what was asked; the message says which and what to do."""


class CredentialRefused(PlatformError):
    """401/403: the credential is wrong or lacks a permission."""


class RateLimited(PlatformError):
    """Still 429 after the bounded retries (or asked to wait too long)."""


class PlatformUnavailable(PlatformError):
    """5xx, a timeout or no connection."""


class PlatformRejected(PlatformError):
    """Any other refusal (a 4xx, a GraphQL user error), or an answer that confirms nothing."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    def excerpt(self, limit: int = 300) -> str:
        return " ".join(self.body[:limit].decode("utf-8", "replace").split())


class Transport(Protocol):
    """One request, no retries; raises ``OSError`` (or urllib3's errors) when nothing came back."""

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response: ...


def urllib3_transport(timeout_s: float = 20.0) -> Transport:
    import urllib3

    pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=timeout_s), retries=False)

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        r = pool.request(method, url, headers=dict(headers), body=body, redirect=False)
        return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.data)

    return send


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(tz=UTC))).total_seconds())


@dataclass
class Caller:
    """Calls one platform's API; ``sleep`` is injected so tests need not wait."""

    platform: str
    transport: Transport
    refused: Mapping[int, str] = field(default_factory=dict)  # 401/403 → what to do
    sleep: Callable[[float], None] = time.sleep
    max_retries: int = MAX_RETRIES
    max_wait_s: float = MAX_WAIT_S
    calls: int = 0

    def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        payload: Any = None,
        what: str = "",
        form: Mapping[str, str] | None = None,
    ) -> Response:
        what = what or f"{method} {urlsplit(url).path}"
        sent = {"Accept": "application/json", **headers}
        body = None
        if form is not None:
            body, sent["Content-Type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif payload is not None:
            body, sent["Content-Type"] = json.dumps(payload).encode(), "application/json"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            self.calls += 1
            try:
                response = self.transport(method, url, sent, body)
            except Exception as e:  # urllib3's and the socket's errors alike: nothing came back
                if not isinstance(e, OSError) and not _is_urllib3(e):
                    raise
                if last:
                    raise PlatformUnavailable(
                        f"{self.platform}: {what} failed: no answer ({type(e).__name__}: {e}); the "
                        "platform may be down or the URL wrong: check it and try again"
                    ) from None
                self.sleep(2.0**attempt)
                continue
            wait = self._retry_wait(response, what, attempt, last)
            if wait is None:
                return response
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(self, response: Response, what: str, attempt: int, last: bool) -> float | None:
        """How long to wait before trying again; None to return the answer; raises a final failure."""
        status = response.status
        if status == 429:
            wait = retry_after(response.headers)
            wait = 2.0**attempt if wait is None else wait
            if wait > self.max_wait_s:
                raise RateLimited(
                    f"{self.platform}: {what} is rate-limited and the platform asks to wait {wait:.0f} s: "
                    "try again then"
                )
            if last:
                raise RateLimited(
                    f"{self.platform}: {what} was still rate-limited (429) after {self.max_retries} "
                    "retries that honoured Retry-After: try again in a minute"
                )
            return wait
        if status >= 500:
            if last:
                raise PlatformUnavailable(
                    f"{self.platform}: {what} failed: HTTP {status} {response.excerpt(200)} (the platform's "
                    f"error, {self.max_retries + 1} tries): try again later"
                )
            return 2.0**attempt
        if status in (401, 403):
            advice = self.refused.get(status, "check the credential and its permissions")
            raise CredentialRefused(
                f"{self.platform}: {what} was refused: HTTP {status} {response.excerpt(200)}. {advice}"
            )
        return None

    def require(self, response: Response, what: str, *ok: int) -> Any:
        """The JSON of an answer with one of the ``ok`` statuses, else a clear rejection."""
        if response.status not in ok:
            moved = response.headers.get("location") if 300 <= response.status < 400 else None
            hint = f" (it redirects to {moved}: give that address instead)" if moved else ""
            raise PlatformRejected(
                f"{self.platform}: {what} was rejected: HTTP {response.status} {response.excerpt()}{hint}"
            )
        return response.json()


def _is_urllib3(error: Exception) -> bool:
    try:
        import urllib3
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, urllib3.exceptions.HTTPError)
