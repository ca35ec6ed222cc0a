"""Re-queue raw events that were stored but never processed (lost between store and queue)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.feedback.domain.answers import publish_response
from services.feedback.domain.invitations import Invitation
from services.feedback.domain.model import QueuedEvent
from services.feedback.domain.ports import EventPublisher, EventQueue, RawEventStore
from services.feedback.domain.surveying import PlanningDeps, bump, update


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

        def published(current: Invitation, revision: int = inv.revision) -> tuple[Invitation, None] | None:
            if current.published_revision >= revision:
                return None
            return bump(current, published_revision=revision), None

        update(planning.surveys, inv.shop_id, inv.invite_id, published)
    return len(stale)
