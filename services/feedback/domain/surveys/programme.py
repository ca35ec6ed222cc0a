"""A shop's survey programme: what to ask, how it looks, and when (not) to send it.

Validated here once, whether it comes from ``cxloop survey set`` or the API, so every error names the
field and the rule it broke.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class SurveyType(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


# The score scale of each type, lowest first. CES counts effort: 1 is very little, 7 a great deal
# (so "high effort" is a high score, as the notifier's rules read it).
SCALES: dict[SurveyType, tuple[int, int]] = {
    SurveyType.NPS: (0, 10),
    SurveyType.CSAT: (1, 5),
    SurveyType.CES: (1, 7),
}

LANGUAGES = ("en", "de", "fr")

# What is asked when the shop sets no wording of its own; {brand} is the shop's name.
DEFAULT_QUESTIONS: dict[str, dict[SurveyType, str]] = {
    "en": {
        SurveyType.NPS: "How likely are you to recommend {brand} to a friend or colleague?",
        SurveyType.CSAT: "How satisfied are you with your order from {brand}?",
        SurveyType.CES: "How much effort did it take to get what you needed from {brand}?",
    },
    "de": {
        SurveyType.NPS: "Wie wahrscheinlich ist es, dass Sie {brand} einem Freund oder Kollegen empfehlen?",
        SurveyType.CSAT: "Wie zufrieden sind Sie mit Ihrer Bestellung bei {brand}?",
        SurveyType.CES: "Wie viel Aufwand hatten Sie, um bei {brand} zu bekommen, was Sie brauchten?",
    },
    "fr": {
        SurveyType.NPS: "Quelle est la probabilité que vous recommandiez {brand} à un ami ou un collègue ?",
        SurveyType.CSAT: "Êtes-vous satisfait(e) de votre commande chez {brand} ?",
        SurveyType.CES: (
            "Quel effort avez-vous dû fournir pour obtenir ce dont vous aviez besoin chez {brand} ?"
        ),
    },
}

Email = Annotated[str, Field(max_length=254)]


def _email(value: str | None, what: str) -> str | None:
    if value is not None and not EMAIL.match(value):
        raise ValueError(f"{what} is not an e-mail address: {value!r}")
    return value


class Brand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    colour: str = "#1f6feb"
    logo_url: str | None = Field(default=None, max_length=2000)
    sender: Email  # the From address; in AWS it must be a verified SES identity
    reply_to: Email | None = None

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not COLOUR.match(value):
            raise ValueError(f"colour must be #rrggbb, not {value!r}")
        return value.lower()

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("logo_url must be an https:// URL (mail clients block anything else)")
        return value

    @field_validator("sender", "reply_to")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return _email(value, "address")


class QuietHours(BaseModel):
    """Local hours in the shop's time zone when no survey goes out (may span midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self


class Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days_after_delivery: int = Field(default=3, ge=0, le=60)
    # When the carrier never reports delivery, send this long after the order ships.
    days_after_fulfilment: int = Field(default=7, ge=0, le=90)
    # Never survey the same person twice within this many days.
    throttle_days: int = Field(default=90, ge=0, le=3650)
    sample_percent: float = Field(default=100.0, gt=0, le=100)
    quiet_hours: QuietHours | None = QuietHours(start=time(21, 0), end=time(8, 0))
    # One reminder to non-responders this many days after the first e-mail; None: no reminder.
    reminder_after_days: int | None = Field(default=3, ge=1, le=30)
    # A delivery older than this when it reaches us (an import, a replay) is not surveyed.
    max_lateness_days: int = Field(default=14, ge=1, le=365)
    # How long the score links keep working after the e-mail is sent.
    answer_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.days_after_fulfilment < self.days_after_delivery:
            raise ValueError(
                "days_after_fulfilment must be at least days_after_delivery "
                "(the fallback waits for a delivery that was never reported)"
            )
        return self


class SurveyProgramme(BaseModel):
    """Stored per shop; a shop without one is not surveyed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    survey_type: SurveyType = SurveyType.NPS
    question: str | None = Field(default=None, min_length=5, max_length=300)
    follow_up_question: str | None = Field(default=None, min_length=5, max_length=300)
    language: str = "en"
    timezone: str = "UTC"
    brand: Brand
    rules: Rules = Rules()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from e
        return value

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.survey_type]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def question_text(self, survey_type: SurveyType | None = None) -> str:
        """The wording for ``survey_type`` (default: the programme's). An invitation planned before the
        shop changed its type keeps its own type, so it gets that type's standard wording."""
        asked = survey_type or self.survey_type
        if self.question and asked is self.survey_type:
            return self.question
        return DEFAULT_QUESTIONS[self.language][asked].format(brand=self.brand.name)


def validation_message(error: Exception) -> str:
    """A pydantic ValidationError as one line per problem: ``rules.throttle_days: ...``."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    lines = []
    for e in errors():
        where = ".".join(str(p) for p in e.get("loc", ())) or "programme"
        lines.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(lines)
