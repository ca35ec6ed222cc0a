"""Argument types for the CLI: each reads one kind of value or raises ``argparse.ArgumentTypeError``
saying what was wrong and what is accepted, so argparse reports it under the option's name
(``argument --since: ...``) before anything talks to AWS."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, time, timedelta

from shared.tenancy import SHOP_ID, Platform

OFF = ("off", "none")
# One address as SNS takes it for an e-mail subscription: local@host.tld, no spaces, names or lists.
EMAIL_ADDRESS = re.compile(
    r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


def shop_id(value: str) -> str:
    if not SHOP_ID.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a shop id: use 3-40 characters of a-z, 0-9 and '-', not starting or ending "
            "in '-' (e.g. blue-kiln)"
        )
    return value


def moment(value: str, now: datetime | None = None) -> datetime:
    """``2026-11-01``, an ISO time (UTC unless it says otherwise), or a span back from now: ``7d``, ``24h``,
    ``2w``."""
    now = now or datetime.now(tz=UTC)
    spans = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    unit, number = value[-1:].lower(), value[:-1].strip()
    if unit in spans and number.isdigit():
        return now - int(number) * spans[unit]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a date nor a span: give 2026-11-01, 2026-11-01T08:00, or a span back "
            "from now such as 7d, 24h or 2w"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clock(value: str) -> time:
    """``HH:MM`` on a 24-hour clock."""
    hours, sep, minutes = value.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{value!r} is not HH:MM")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"{value!r} is not a time of day (hours 00-23, minutes 00-59)")
    return time(int(hours), int(minutes))


def quiet_hours(value: str) -> dict[str, str] | None:
    """``HH:MM-HH:MM`` in the shop's time zone (may span midnight), or ``off``."""
    if value.strip().lower() in OFF:
        return None
    start, sep, end = value.partition("-")
    try:
        if not sep:
            raise ValueError(f"{value!r} has no '-' between start and end")
        first, last = clock(start), clock(end)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"{e}: give HH:MM-HH:MM on a 24-hour clock (21:00-08:00) or off"
        ) from None
    if first == last:
        raise argparse.ArgumentTypeError(f"{value!r}: start and end must differ (or give off)")
    return {"start": first.isoformat(), "end": last.isoformat()}


def days_or_off(value: str) -> int | None:
    """A whole number of days, or ``off``."""
    if value.strip().lower() in OFF:
        return None
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days: give e.g. 3, or off")
    return int(value)


def https_url(value: str) -> str:
    """An https URL with a host and no trailing '/', as a public address must be."""
    scheme, sep, rest = value.partition("://")
    if scheme.lower() != "https" or not sep or not rest.split("/", 1)[0] or value.endswith("/"):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an https URL without a trailing '/': give one such as https://cx.example.com"
        )
    return value


def aws_region(value: str) -> str:
    """An AWS region name such as eu-west-1."""
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region: give one such as eu-west-1")
    return value


def email_address(value: str) -> str:
    """One e-mail address (not a name, not a list)."""
    if not EMAIL_ADDRESS.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not one e-mail address: give one such as ops@example.com (no name, no list)"
        )
    return value


def platform_secret(value: str) -> tuple[str, str]:
    """``PLATFORM=SECRET``: the platform's name, then the signing secret it was given."""
    platforms = tuple(p.value for p in Platform)
    name, sep, secret = value.partition("=")
    if not sep or name.strip().lower() not in platforms:
        raise argparse.ArgumentTypeError(
            f"{value!r} does not say which platform the secret is for: give PLATFORM=SECRET with PLATFORM "
            f"one of {', '.join(platforms)} (e.g. shopify=<the app's client secret>)"
        )
    if not secret.strip():
        raise argparse.ArgumentTypeError(f"{name}= has no secret after the '=': give {name}=SECRET")
    return name.strip().lower(), secret.strip()


def day(value: str) -> datetime:
    """A calendar date (``2010-09-24``) or a date and time (``2010-09-24T12:00``), as recorded (no time
    zone): the cut-offs of ``cxloop churn evaluate``, on the invoices' own clock."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: give YYYY-MM-DD (2010-09-24) or YYYY-MM-DDTHH:MM"
        ) from None
    if parsed.tzinfo is not None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has a time zone: give the date as the invoices record it (2010-09-24)"
        )
    return parsed


def positive_days(value: str) -> int:
    """A whole number of days, at least 1."""
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days of 1 or more (e.g. 90)")
    return int(value)


def readable_file(value: str) -> str:
    """A file that is there (read later, with errors naming its rows and columns)."""
    from pathlib import Path

    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value!r}: no such file")
    return value
