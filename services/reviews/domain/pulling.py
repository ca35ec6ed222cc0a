"""One scheduled pull of one shop's source: incremental from its cursor, failures kept apart.

A failing source backs off on its own (exponential with jitter, capped) and never delays the others;
a rate limit moves its next pull to when the source allows. A run of failures lasting ``alert_after``
raises one owner alert (SourceFailing), and the first success after it one SourceRecovered.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.reviews.domain.errors import RateLimited, SourceError
from services.reviews.domain.ingest import Ingested, MentionPublisher, ReviewStore, ingest
from services.reviews.domain.ports import Connection, Connector
from services.reviews.domain.state import SourceState
from shared.events import SOURCE_FAILING, SOURCE_RECOVERED

FIRST_PULL_ITEMS = 500  # a first pull reads this much history at most
MAX_ITEMS = 1000
MAX_BACKOFF = timedelta(hours=1)
CHUNK = 50


class StateStore(Protocol):
    def save_state(self, state: SourceState, expected_version: int) -> bool: ...


class Credentials(Protocol):
    def get(self, shop_id: str, source: str) -> Mapping[str, str] | None: ...


class AlertPublisher(Protocol):
    def publish(
        self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str
    ) -> None: ...


@dataclass
class PullDeps:
    store: ReviewStore
    states: StateStore
    credentials: Credentials
    connectors: Mapping[str, Connector]
    mentions: MentionPublisher
    alerts: AlertPublisher
    alert_after: timedelta = timedelta(hours=2)
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Pulled:
    shop_id: str
    source: str
    outcome: str  # ok / rate_limited / <error kind> / skipped
    ingested: Ingested | None = None
    error: str = ""


def due(state: SourceState, now: datetime) -> bool:
    return state.enabled and (state.next_pull_at is None or state.next_pull_at <= now)


def pull(deps: PullDeps, state: SourceState, now: datetime, clock: Callable[[], datetime]) -> Pulled:
    connector = deps.connectors.get(state.source)
    credentials = deps.credentials.get(state.shop_id, state.source)
    if connector is None or credentials is None:
        missing = "no connector" if connector is None else "no credentials (cxloop reviews connect)"
        return _failed(deps, state, now, SourceError(f"{state.source}: {missing}"), "config")
    connection = Connection(state.shop_id, state.source, state.settings, credentials)
    limit = FIRST_PULL_ITEMS if state.high_water is None else MAX_ITEMS
    result, moments = Ingested(), []
    try:
        # Stored a chunk at a time: a failure on page 5 keeps pages 1-4 (the cursor stays put, so
        # the next pull reads them again and finds them unchanged).
        chunk = []
        for item in connector.pull(connection, state.high_water, limit):
            chunk.append(item)
            if item.moment is not None:
                moments.append(item.moment)
            if len(chunk) == CHUNK:
                ingest(deps.store, deps.mentions, state.shop_id, chunk, clock(), into=result)
                chunk = []
        ingest(deps.store, deps.mentions, state.shop_id, chunk, clock(), into=result)
    except RateLimited as e:
        later = e.retry_at if e.retry_at and e.retry_at > now else now + timedelta(minutes=5)
        _save(deps, state, next_pull_at=later, last_error=str(e)[:300], last_error_kind=e.kind)
        return Pulled(state.shop_id, state.source, "rate_limited", error=str(e)[:300])
    except SourceError as e:
        return _failed(deps, state, now, e, e.kind)
    high_water = max([*moments, *([state.high_water] if state.high_water else [])], default=None)
    if state.alerted:
        recovered = {"source": state.source, "since": now.isoformat()}
        deps.alerts.publish(SOURCE_RECOVERED, state.shop_id, recovered, "")
    healthy = {
        "failing_since": None,
        "failures": 0,
        "last_error": "",
        "last_error_kind": "",
        "alerted": False,
    }
    next_pull = now + timedelta(seconds=state.every_s)
    _save(deps, state, high_water=high_water, next_pull_at=next_pull, last_success_at=now, **healthy)
    return Pulled(state.shop_id, state.source, "ok", ingested=result)


def _failed(deps: PullDeps, state: SourceState, now: datetime, error: SourceError, kind: str) -> Pulled:
    failures = state.failures + 1
    since = state.failing_since or now
    backoff = min(MAX_BACKOFF, timedelta(seconds=60 * 2 ** min(failures - 1, 10)))
    jittered = timedelta(seconds=deps.rng.uniform(0.5, 1.0) * backoff.total_seconds())
    alert = not state.alerted and now - since >= deps.alert_after
    if alert:
        detail = {
            "source": state.source,
            "kind": kind,
            "status": error.status,
            "since": since.isoformat(),
            "message": f"{state.source} connection broken: {str(error)[:200]} "
            f"since {since:%Y-%m-%d %H:%M} UTC",
        }
        deps.alerts.publish(SOURCE_FAILING, state.shop_id, detail, "")
    _save(deps, state, failures=failures, failing_since=since, next_pull_at=now + jittered,
          last_error=str(error)[:300], last_error_kind=kind, alerted=state.alerted or alert)  # fmt: skip
    return Pulled(state.shop_id, state.source, kind, error=str(error)[:300])


def _save(deps: PullDeps, state: SourceState, **changes: Any) -> None:
    updated = state.model_copy(update={**changes, "version": state.version + 1})
    # A concurrent change (the owner reconnecting) wins; this run's bookkeeping is dropped.
    deps.states.save_state(updated, state.version)
