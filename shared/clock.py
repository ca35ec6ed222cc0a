"""The one clock of the functions: aware UTC, so stored times compare and sort as strings."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(tz=UTC)
