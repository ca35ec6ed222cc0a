"""The survey settings form: its fields, the programme document it makes, and errors put next to fields.

The form only arranges values; the programme model (the same ``SurveyProgramme`` the CLI and the API
validate with) decides what is allowed, so the three say the same rule in the same words
(``shared.rules_text``). Each field's name is its path in the programme document (``brand.colour``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import rules_text

QUIET_ON = "rules.quiet_hours"  # the checkbox; its times are the two fields below
QUIET_START = "rules.quiet_hours.start"
QUIET_END = "rules.quiet_hours.end"
REMINDER = "rules.reminder_after_days"
ENABLED = "enabled"
GENERAL = ""  # errors that belong to no one field
TEST_SENDS_PER_HOUR = 5


@dataclass(frozen=True)
class Field:
    name: str  # the path in the programme document
    label: str
    kind: str  # text, email, url, number, select, time, textarea
    hint: str = ""
    optional: bool = False  # empty means "none" (the default question, no reply-to, no logo)
    step: str = "1"


FIELDS = (
    Field("survey_type", "Survey type", "select"),
    Field("language", "Language", "select"),
    Field("question", "Question", "textarea", "empty: the type's standard question", optional=True),
    Field("follow_up_question", "Follow-up question", "textarea",
          "asked on the thank-you page; empty: none", optional=True),
    Field("brand.name", "Brand name", "text"),
    Field("brand.colour", "Brand colour", "text", "#rrggbb"),
    Field("brand.logo_url", "Logo", "url", "an https:// URL; empty: the brand name", optional=True),
    Field("brand.sender", "Sender (From)", "email", "an address in your shop's domain"),
    Field("brand.reply_to", "Reply-to", "email", "empty: replies go to the sender", optional=True),
    Field("rules.days_after_delivery", "Days after delivery", "number"),
    Field("rules.days_after_fulfilment", "Days after shipping", "number",
          "when the carrier never reports delivery"),
    Field("rules.throttle_days", "Survey a customer at most once in (days)", "number"),
    Field("rules.sample_percent", "Share of orders surveyed (%)", "number", step="any"),
    Field(QUIET_START, "Quiet hours from", "time"),
    Field(QUIET_END, "Quiet hours until", "time"),
    Field("timezone", "Time zone", "text", "an IANA name such as Europe/Berlin"),
    Field(REMINDER, "Reminder after (days)", "number", "empty: no reminder", optional=True),
    Field("rules.answer_days", "Links work for (days)", "number"),
)  # fmt: skip
NAMES = frozenset(f.name for f in FIELDS) | {QUIET_ON, ENABLED}
# Errors of a whole part go next to the field that usually breaks it.
PART_ERRORS = {"rules": "rules.days_after_fulfilment", QUIET_ON: QUIET_START, "brand": "brand.name"}


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _get(doc: Mapping[str, Any], path: str) -> Any:
    found: Any = doc
    for part in path.split("."):
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


def document(form: Mapping[str, str], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The programme document: the stored one (what the form does not show stays) with the form's values.
    Text goes in as typed (trimmed); the programme model parses and judges it."""
    doc: dict[str, Any] = json.loads(json.dumps(stored))
    doc.setdefault("rules", {})
    doc.setdefault("brand", {})
    for f in FIELDS:
        if f.name in (QUIET_START, QUIET_END):
            continue
        value = form.get(f.name, "").strip()
        _set(doc, f.name, None if f.optional and not value else value)
    if form.get(QUIET_ON) == "on":
        hours = {"start": form.get(QUIET_START, "").strip(), "end": form.get(QUIET_END, "").strip()}
        doc["rules"]["quiet_hours"] = hours
    else:
        doc["rules"]["quiet_hours"] = None
    doc[ENABLED] = form.get(ENABLED) == "on"
    return doc


def values(doc: Mapping[str, Any]) -> dict[str, str]:
    """A programme document (as ``model_dump(mode="json")``) as the form shows it."""
    shown = {f.name: "" if (v := _get(doc, f.name)) is None else _text(v) for f in FIELDS}
    quiet = _get(doc, QUIET_ON)
    shown[QUIET_ON] = "on" if quiet else ""
    shown[QUIET_START] = _clock(quiet["start"]) if quiet else "21:00"
    shown[QUIET_END] = _clock(quiet["end"]) if quiet else "08:00"
    shown[ENABLED] = "on" if doc.get(ENABLED, True) else ""
    return shown


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _clock(value: str) -> str:
    return str(value)[:5]  # "21:00:00" → "21:00", as <input type=time> shows it


def echo(form: Mapping[str, str]) -> dict[str, str]:
    """What the owner typed, to show again beside the errors."""
    return {name: form.get(name, "") for name in NAMES}


def field_of(loc: Iterable[Any]) -> str:
    """The form field an error's location belongs to (``GENERAL`` when none)."""
    path = ".".join(str(p) for p in loc)
    while path:
        if path in PART_ERRORS:
            return PART_ERRORS[path]
        if path in NAMES:
            return path
        path = path.rpartition(".")[0]
    return GENERAL


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """pydantic's errors by form field, each said as the CLI says it."""
    found: dict[str, list[str]] = {}
    for err in errors:
        found.setdefault(field_of(err.get("loc", ())), []).append(rules_text.rule(err))
    return found


def test_window(now: datetime) -> datetime:
    """The hour a test send is counted in."""
    return now.replace(minute=0, second=0, microsecond=0)


def next_window(now: datetime) -> datetime:
    return test_window(now) + timedelta(hours=1)
