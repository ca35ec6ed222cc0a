"""Scheduled handler (daily): every shop's churn risk, lifetime values (numpy: only this function
has it), retention snapshot and emerging topics
refreshed, and the weekly digest (of the week that ended on the last digest weekday) to each
destination that has not had it yet: once per week and destination however often this runs, and
tried again the next day when a send failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.bootstrap import notifier
from services.notifier.domain import emerging, lifetime, retention_snapshot
from services.notifier.domain.churn_refresh import refresh
from shared.clock import utcnow
from shared.observability import logger

log = logger("notifier")


def run(now: datetime, digest: bool = True) -> dict[str, Any]:
    built = notifier()
    summary: dict[str, Any] = {"shops": 0, "at_risk": 0, "digests": 0}
    for shop in built.shops.list():
        try:
            at_risk = refresh(built.intake(), shop.shop_id, now)
            summary["at_risk"] += len(at_risk)
            customers = built.store.customers(shop.shop_id)  # one query for the values and the snapshot
            valued = lifetime.refresh(built.store, shop.shop_id, now, customers)
            summary["valued"] = summary.get("valued", 0) + len(valued.values)
            retention_snapshot.refresh(
                built.store, built.retention(), shop.shop_id, now, valued.values, valued.run, customers
            )
            summary["retention"] = summary.get("retention", 0) + 1
            summary["emerging"] = summary.get("emerging", 0) + len(
                emerging.refresh(built.store, shop.shop_id, now).topics
            )
            if digest:
                from services.notifier.digests import send_digest

                summary["digests"] += send_digest(built, shop, now, at_risk)
        except Exception:  # one shop's failure must not cost the others their day
            log.exception("daily run failed for a shop", shop_id=shop.shop_id)
            summary.setdefault("failed", []).append(shop.shop_id)
        summary["shops"] += 1
    log.info("daily run", extra={"report": summary})
    return summary


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(utcnow())
