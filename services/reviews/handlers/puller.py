"""Scheduled handler: pull every source connection that is due, each on its own; re-announce leftovers.

One connection's failure is logged and recorded on it (backoff, one alert per run of failures) and
the loop goes on; the run stops starting new pulls when little of the invocation's time is left.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.reviews import bootstrap
from services.reviews.bootstrap import Reviews
from services.reviews.domain.ingest import Outcome, announce
from services.reviews.domain.pulling import due, pull
from shared.clock import utcnow
from shared.observability import logger

log = logger("reviews")
RESERVE_MS = 30_000  # stop starting pulls when less than this is left
REANNOUNCE_AFTER = timedelta(minutes=5)


def run(built: Reviews, now: datetime, time_left_ms: Any = None) -> dict[str, int]:
    counts = {"pulled": 0, "failed": 0, "new": 0, "edited": 0, "reannounced": 0}
    for state in built.store.states():
        if time_left_ms is not None and time_left_ms() < RESERVE_MS:
            log.warning("time budget spent; the rest waits for the next run")
            break
        if not due(state, now):
            continue
        try:
            result = pull(built.deps, state, now, utcnow)
        except Exception:
            counts["failed"] += 1
            log.exception("pull failed", shop_id=state.shop_id, source=state.source)
            continue
        counts["pulled"] += 1
        ingested = result.ingested
        new = ingested.counts[Outcome.NEW] if ingested else 0
        edited = ingested.counts[Outcome.EDITED] if ingested else 0
        counts["new"] += new
        counts["edited"] += edited
        counts["failed"] += result.outcome not in ("ok", "rate_limited")
        log.info("pulled", shop_id=state.shop_id, source=state.source, outcome=result.outcome,
                 new=new, edited=edited, error=result.error)  # fmt: skip
    leftovers = built.store.unannounced(now - REANNOUNCE_AFTER)
    for shop_id in sorted({r.shop_id for r in leftovers}):
        mine = [r for r in leftovers if r.shop_id == shop_id]
        announce(built.store, built.deps.mentions, shop_id, mine)
        counts["reannounced"] += len(mine)
    return counts


@log.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    counts = run(bootstrap.reviews(), utcnow(), remaining)
    log.info("pull run done", counts=counts)
    return counts
