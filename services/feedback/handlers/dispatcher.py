"""Scheduled handler: send the survey e-mails (and reminders) that are due."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from services.feedback import rendering
from services.feedback.bootstrap import Surveys, build_surveys
from services.feedback.domain.dispatch import DispatchDeps, Dispatcher, Links, announce_sent
from services.feedback.domain.inbound import utcnow
from shared.observability import logger
from shared.settings import SurveySettings, load

log = logger("feedback")
_built: dict[str, Surveys] = {}


def surveys() -> Surveys:
    if "surveys" not in _built:
        _built["surveys"] = build_surveys(load(SurveySettings), with_mailer=True)
    return _built["surveys"]


def use(built: Surveys) -> None:
    _built["surveys"] = built


def deps(built: Surveys) -> DispatchDeps:
    if built.mailer is None:
        raise RuntimeError("the dispatcher needs a mailer")
    return DispatchDeps(
        surveys=built.surveys,
        programmes=built.programmes,
        mailer=built.mailer,
        render=rendering.render_email,
        links=Links(built.settings.public_url, built.link_keys.keys()),
        day=timedelta(seconds=built.settings.day_seconds),
        clock=utcnow,
    )


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_id = uuid.uuid4().hex
    log.set_correlation_id(run_id)
    remaining_ms = (
        context.get_remaining_time_in_millis() if hasattr(context, "get_remaining_time_in_millis") else 60_000
    )
    # Stop taking new invitations with time to spare: the rest stays due for the next run.
    deadline = max(1.0, remaining_ms / 1000 - 10)
    built = surveys()
    report = Dispatcher(deps(built), run_id).run(limit=int(event.get("limit", 2000)), deadline_s=deadline)
    if built.publisher is not None and report.invited:
        try:
            announce_sent(built.publisher, report, run_id, utcnow())
        except Exception:  # the surveys went out; only the notifier's response rate is less exact
            log.exception("SurveysSent not published", run_id=run_id)
    log.info("dispatch done", extra={"report": report.as_dict()})
    return report.as_dict()
