"""Re-queue raw events that were stored but never processed (lost between store and queue)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.feedback.domain.model import QueuedEvent
from services.feedback.domain.ports import EventQueue, RawEventStore


def requeue_pending(
    raw_events: RawEventStore, queue: EventQueue, now: datetime, older_than: timedelta, limit: int = 500
) -> int:
    stuck = raw_events.pending(now - older_than, limit)
    for event in stuck:
        queue.send(QueuedEvent.of(event))
        raw_events.touch_pending(event, now)
    return len(stuck)
