"""Delivery windows: which batch an alert joins, and when that batch goes out.

Immediate alerts are grouped per minute and sent when the minute is over (the sender runs every
minute, so within about two), hourly ones per clock hour, daily ones per day in the shop's time zone,
sent the next morning at eight. A window is due at its end, never its start: a batch closed while its
window is still open would send each later alert of that window on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifier.domain.model import Delivery

MORNING = time(8, 0)


def window(delivery: Delivery, at: datetime, timezone: str = "UTC") -> tuple[str, datetime]:
    """(window key, due time) of an alert raised at ``at``."""
    at = at.astimezone(UTC)
    if delivery is Delivery.IMMEDIATE:
        start = at.replace(second=0, microsecond=0)
        return f"{delivery.value}#{start:%Y-%m-%dT%H:%M}", start + timedelta(minutes=1)
    if delivery is Delivery.HOURLY:
        start = at.replace(minute=0, second=0, microsecond=0)
        return f"{delivery.value}#{start:%Y-%m-%dT%H}", start + timedelta(hours=1)
    zone = ZoneInfo(timezone)
    day = at.astimezone(zone).date()
    due = datetime.combine(day + timedelta(days=1), MORNING, tzinfo=zone).astimezone(UTC)
    return f"{delivery.value}#{day.isoformat()}", due


def late_window(at: datetime) -> tuple[str, datetime]:
    """For an alert that reached its batch just as the sender closed it: a batch of its own, due now."""
    at = at.astimezone(UTC)
    return f"late#{at:%Y-%m-%dT%H:%M:%S.%f}", at
