"""Pacing of posts per Slack webhook: Slack allows about one message a second per webhook and answers
429 with ``Retry-After`` beyond that; a 429 costs a retry, so the sender waits instead of finding out.

Pure: the clock is injected, the caller sleeps (or reschedules) for :meth:`Pacer.wait_s`.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_MIN_INTERVAL_S = 1.0


class Pacer:
    """When the next post to each webhook may go: ``min_interval_s`` after the last one, and never
    before a ``Retry-After`` the webhook gave has run out (whichever is later).

    Use: ``wait_s(hook)`` before posting (sleep for it); ``sent(hook)`` once a post's answer is back,
    whatever it was (Slack times messages by arrival, so counting from the answer keeps the gap it sees
    at least the interval); ``defer(hook, retry_after_s)`` on a 429.
    """

    def __init__(self, clock: Callable[[], float], min_interval_s: float = DEFAULT_MIN_INTERVAL_S) -> None:
        if min_interval_s < 0:
            raise ValueError("min_interval_s must not be negative")
        self._clock = clock
        self.min_interval_s = min_interval_s
        self._next_at: dict[str, float] = {}  # hook -> earliest time of its next post

    def wait_s(self, hook: str) -> float:
        """Seconds to wait before the next post to ``hook`` (0: now)."""
        next_at = self._next_at.get(hook)
        return 0.0 if next_at is None else max(0.0, next_at - self._clock())

    def sent(self, hook: str) -> None:
        """A post to ``hook`` went out now: the next waits ``min_interval_s`` (or a longer deferral)."""
        self._hold_until(hook, self._clock() + self.min_interval_s)

    def defer(self, hook: str, seconds: float) -> None:
        """``hook`` asked for ``seconds`` of quiet (Retry-After), counted from now."""
        self._hold_until(hook, self._clock() + max(0.0, seconds))

    def _hold_until(self, hook: str, at: float) -> None:
        self._next_at[hook] = max(at, self._next_at.get(hook, at))
