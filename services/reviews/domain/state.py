"""A shop's connection to one source as the puller keeps it: settings, cursor, health.

Credentials are not here: they live in Secrets Manager (shared/credentials.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_EVERY = timedelta(minutes=30)


class SourceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    shop_id: str
    source: str
    settings: dict[str, str] = Field(default_factory=dict)  # non-secret: ids, brand terms
    enabled: bool = True
    every_s: int = Field(default=int(DEFAULT_EVERY.total_seconds()), ge=60)  # this connection's schedule
    # Incremental pulls: the newest source time seen; the next pull stops once past it.
    high_water: datetime | None = None
    next_pull_at: datetime | None = None  # None: due now
    last_success_at: datetime | None = None
    # Health: set on the first failure of a run of failures, cleared by a success.
    failing_since: datetime | None = None
    failures: int = 0
    last_error: str = ""
    last_error_kind: str = ""
    alerted: bool = False  # one owner alert per run of failures
    version: int = 0
