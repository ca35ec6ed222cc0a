"""Scheduled handler (daily): every shop's churn risk refreshed; on the digest weekday, the weekly
digest to each shop's destinations (once per week and destination, however often this runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifier.bootstrap import notifier
from services.notifier.domain.churn_refresh import refresh
from shared.observability import logger

log = logger("notifier")


def run(now: datetime, digest: bool | None = None) -> dict[str, Any]:
    built = notifier()
    weekly = now.isoweekday() == built.config.digest_weekday if digest is None else digest
    summary: dict[str, Any] = {"shops": 0, "at_risk": 0, "digests": 0}
    for shop in built.shops.list():
        at_risk = refresh(built.intake(), shop.shop_id, now)
        summary["shops"] += 1
        summary["at_risk"] += len(at_risk)
        if weekly:
            from services.notifier.digests import send_digest

            summary["digests"] += send_digest(built, shop, now, at_risk)
    log.info("daily run", extra={"report": summary})
    return summary


@log.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(datetime.now(tz=UTC))
