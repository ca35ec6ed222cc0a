"""Scheduled handler (every minute): due alert batches out to Slack and e-mail, due automatic replies
out to customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.notifier.bootstrap import notifier
from services.notifier.domain.delivery import SendReport, send_due
from services.notifier.domain.replies import send_due_replies
from shared.clock import utcnow
from shared.observability import DESTINATIONS_BROKEN, Counts, counted, logger

log = logger("notifier")
metrics = Counts("notifier")


def run(
    now: datetime, time_left: Callable[[], float] | None = None, counts: Counts | None = None
) -> dict[str, Any]:
    built = notifier()
    report = send_due(built.sender_deps(), now, time_left=time_left)
    replies = send_due_replies(built.reply_deps(), now)
    summary = {
        "messages": report.delivered,
        "alerts": report.alerts,
        "deferred": report.deferred,
        "held": report.held,
        "broken": report.broken,
        "unfinished": report.unfinished,
        "failed": report.failed,
        "replies": replies,
    }
    log.info("sender run", extra={"report": summary})
    if counts is not None:
        _count(counts, report)
    return summary


def _count(metrics: Counts, report: SendReport) -> None:
    metrics.count("AlertsSent", report.alerts)
    metrics.count("AlertMessagesSent", report.delivered)
    metrics.count("AlertBatchesFailed", len(report.failed))
    for kind, n in report.rate_limited.items():
        metrics.count("DestinationsRateLimited", n, channel=kind)
    for kind, n in report.broken_kinds.items():
        metrics.count(DESTINATIONS_BROKEN, n, channel=kind)


@log.inject_lambda_context(clear_state=True)
@counted(metrics)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return run(utcnow(), (lambda: remaining() / 1000) if remaining else None, metrics)
