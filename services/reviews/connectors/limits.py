"""The sources' limits, in one place: status codes → errors, Retry-After and the sources' own
rate-limit headers → when to come back, and a bounded retry with exponential backoff and full jitter.

A pull runs inside a Lambda invocation: it may wait a little (``max_wait_s``) but never sleeps through
a long limit; it raises RateLimited with the time to come back, and the puller skips the source until then.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from services.reviews.domain.errors import AuthFailed, NotFound, RateLimited, SourceError, Transient
from services.reviews.domain.ports import Http, Response
from shared.clock import utcnow

HOUR = timedelta(hours=1)


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def retry_at(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When the source says to come back: Retry-After (seconds or an HTTP date), Reddit's
    X-Ratelimit-Reset (seconds), Yelp's RateLimit-ResetTime (ISO time), Apple's rolling hour."""
    value = headers.get("retry-after")
    if value:
        seconds = _seconds(value)
        if seconds is not None:
            return now + timedelta(seconds=seconds)
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset and (seconds := _seconds(reset)) is not None:
        return now + timedelta(seconds=seconds)
    reset_time = headers.get("ratelimit-resettime")
    if reset_time:
        try:
            parsed = datetime.fromisoformat(reset_time.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    if "user-hour-rem" in headers.get("x-rate-limit", ""):
        return now + HOUR
    return None


def exhausted(headers: Mapping[str, str]) -> bool:
    """The source's own counters say nothing is left (checked after a successful call)."""
    for name in ("x-ratelimit-remaining", "ratelimit-remaining"):
        value = headers.get(name)
        if value is not None and (left := _seconds(value)) is not None and left < 1:
            return True
    for part in headers.get("x-rate-limit", "").split(";"):
        key, _, value = part.partition(":")
        if key.strip() == "user-hour-rem" and (left := _seconds(value)) is not None and left < 1:
            return True
    return False


def checked(response: Response, what: str, now: datetime) -> Response:
    status = response.status
    if 200 <= status < 300:
        return response
    excerpt = " ".join(response.body[:200].decode("utf-8", "replace").split())
    message = f"{what}: HTTP {status} {excerpt}".strip()
    if status in (401, 403):
        raise AuthFailed(message, status)
    if status == 404:
        raise NotFound(message, status)
    if status == 429:
        raise RateLimited(message, retry_at(response.headers, now), status)
    if status >= 500 or status == 408:
        raise Transient(message, status)
    raise SourceError(message, status)


@dataclass
class Caller:
    """An ``Http`` with the limits applied. ``sleep`` and ``clock`` are injected for tests."""

    http: Http
    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 20.0
    max_wait_s: float = 30.0  # the longest a pull waits in place for a rate limit to pass
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=utcnow)
    rng: random.Random = field(default_factory=random.Random)
    calls: int = 0
    limit_until: datetime | None = None  # set when a good answer says nothing is left

    def __call__(self, method: str, url: str, what: str, **kwargs: Any) -> Response:
        if self.limit_until is not None and self.clock() < self.limit_until:
            # The last answer said the limit is used up: do not spend a refused call.
            raise RateLimited(f"{what}: the source's limit is used up", self.limit_until)
        for attempt in range(1, self.attempts + 1):
            self.calls += 1
            try:
                response = checked(self.http.request(method, url, **kwargs), what, self.clock())
            except Transient:
                if attempt == self.attempts:
                    raise
                self.sleep(self._backoff(attempt))
                continue
            except RateLimited as e:
                wait = self._wait_for(e.retry_at, attempt)
                if attempt == self.attempts or wait is None:
                    raise
                self.sleep(wait)
                continue
            if exhausted(response.headers):
                self.limit_until = retry_at(response.headers, self.clock()) or self.clock() + HOUR
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return self.rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    def _wait_for(self, when: datetime | None, attempt: int) -> float | None:
        if when is None:
            return self._backoff(attempt)
        wait = (when - self.clock()).total_seconds()
        return max(0.0, wait) if wait <= self.max_wait_s else None
