"""Re-queue raw events that were stored but never processed (lost between store and queue)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.feedback.domain.model import QueuedEvent
from services.feedback.domain.ports import EventPublisher, EventQueue, RawEventStore
from services.feedback.domain.surveys.answers import mark_published, publish_response
from services.feedback.domain.surveys.planning import PlanningDeps


def requeue_pending(
    raw_events: RawEventStore, queue: EventQueue, now: datetime, older_than: timedelta, limit: int = 500
) -> int:
    stuck = raw_events.pending(now - older_than, limit)
    for event in stuck:
        queue.send(QueuedEvent.of(event))
        raw_events.touch_pending(event, now)
    return len(stuck)


def republish_answers(
    planning: PlanningDeps, publisher: EventPublisher, now: datetime, limit: int = 200
) -> int:
    """Announce answers whose ResponseRecorded was never confirmed (a failed publish, a crash)."""
    stale = planning.surveys.unpublished(now - timedelta(minutes=1), limit)
    for inv in stale:
        publish_response(publisher, inv, planning.programmes.get(inv.shop_id), "sweeper")
        mark_published(planning.surveys, inv)
    return len(stale)
