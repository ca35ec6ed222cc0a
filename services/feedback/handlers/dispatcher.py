"""Scheduled handler: send the survey e-mails (and reminders) that are due."""

from __future__ import annotations

import uuid
from typing import Any

from services.feedback import bootstrap
from services.feedback.domain.surveys.dispatch import Dispatcher, announce_sent
from shared.clock import utcnow
from shared.observability import Counts, counted, logger

log = logger("feedback")
metrics = Counts("feedback")


@log.inject_lambda_context(clear_state=True)
@counted(metrics)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_id = uuid.uuid4().hex
    log.set_correlation_id(run_id)
    remaining_ms = (
        context.get_remaining_time_in_millis() if hasattr(context, "get_remaining_time_in_millis") else 60_000
    )
    # Stop taking new invitations with time to spare: the rest stays due for the next run.
    deadline = max(1.0, remaining_ms / 1000 - 10)
    built = bootstrap.dispatch()
    report = Dispatcher(built.dispatch_deps(), run_id).run(
        limit=int(event.get("limit", 2000)), deadline_s=deadline
    )
    if built.publisher is not None and report.invited:
        try:
            announce_sent(built.publisher, report, run_id, utcnow())
        except Exception:  # the surveys went out; only the notifier's response rate is less exact
            log.exception("SurveysSent not published", run_id=run_id)
    log.info("dispatch done", extra={"report": report.as_dict()})
    # Totals only: the reasons and shops are in the log line above and `cxloop survey suppressions`.
    metrics.count("SurveysSent", report.sent)
    metrics.count("SurveyRemindersSent", report.reminders)
    metrics.count("SurveysSuppressed", sum(report.suppressed.values()))
    metrics.count("SurveysDeferred", report.deferred)
    metrics.count("SurveysFailed", report.failed)
    return report.as_dict()
