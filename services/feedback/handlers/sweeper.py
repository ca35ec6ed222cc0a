"""Scheduled handler: re-queue raw webhooks stored but never processed; re-announce answers."""

from __future__ import annotations

from typing import Any

from services.feedback import bootstrap
from services.feedback.domain.recovery import republish_answers, requeue_pending
from shared.clock import utcnow
from shared.observability import logger

log = logger("feedback")


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    built = bootstrap.consumer()
    count = requeue_pending(built.raw_events, built.queue, utcnow(), built.requeue_after)
    announced = 0
    if built.deps.planning is not None:
        announced = republish_answers(built.deps.planning, built.deps.publisher, utcnow())
    log.info("sweep done", requeued=count, answers_republished=announced)
    return {"requeued": count, "answers_republished": announced}
