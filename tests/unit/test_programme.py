"""The survey programme: its defaults, its validation (every error names its field), and the question."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.feedback.domain.surveys.programme import (
    Brand,
    QuietHours,
    Rules,
    SurveyProgramme,
    SurveyType,
    validation_message,
)

pytestmark = pytest.mark.unit

BRAND: dict[str, Any] = {"name": "Acme", "sender": "hello@acme.example"}


def build(**fields: Any) -> SurveyProgramme:
    return SurveyProgramme.model_validate({"brand": BRAND, **fields})


def problems(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        build(**fields)
    return validation_message(caught.value)


# --- defaults -----------------------------------------------------------------------------------------


def test_defaults():
    p = build()
    assert p.enabled is True
    assert p.survey_type is SurveyType.NPS
    assert p.scale == (0, 10)
    assert (p.language, p.timezone) == ("en", "UTC")
    assert p.zone == ZoneInfo("UTC")
    r = p.rules
    assert (r.days_after_delivery, r.days_after_fulfilment, r.throttle_days) == (3, 7, 90)
    assert r.reminder_after_days == 3
    assert r.sample_percent == 100
    assert r.quiet_hours == QuietHours(start=time(21), end=time(8))
    assert p.brand.colour == "#1f6feb"
    assert p.brand.logo_url is None and p.brand.reply_to is None


def test_scales_per_survey_type():
    assert build(survey_type="csat").scale == (1, 5)
    assert build(survey_type="ces").scale == (1, 7)


def test_programme_is_frozen():
    p = build()
    with pytest.raises(ValidationError):
        p.enabled = False  # type: ignore[misc]


# --- validation: each error names its field ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where", "says"),
    [
        ({"rules": {"throttle_days": -1}}, "rules.throttle_days", "greater than or equal to 0"),
        ({"rules": {"sample_percent": 0}}, "rules.sample_percent", "greater than 0"),
        ({"rules": {"reminder_after_days": 0}}, "rules.reminder_after_days", "greater than or equal to 1"),
        ({"brand": {**BRAND, "colour": "red"}}, "brand.colour", "#rrggbb, not 'red'"),
        ({"brand": {**BRAND, "colour": "#12345g"}}, "brand.colour", "#rrggbb"),
        ({"brand": {**BRAND, "sender": "nope"}}, "brand.sender", "not an e-mail address: 'nope'"),
        ({"brand": {**BRAND, "reply_to": "a b@c.d"}}, "brand.reply_to", "not an e-mail address"),
        ({"brand": {**BRAND, "name": ""}}, "brand.name", "at least 1 character"),
        ({"language": "xx"}, "language", "one of en, de, fr, not 'xx'"),
        ({"timezone": "Mars/Base"}, "timezone", "unknown time zone 'Mars/Base'"),
        ({"timezone": "../../etc/passwd"}, "timezone", "unknown time zone"),
        ({"timezone": ""}, "timezone", "unknown time zone"),
        (
            {"rules": {"days_after_delivery": 3, "days_after_fulfilment": 2}},
            "rules",
            "days_after_fulfilment must be at least days_after_delivery",
        ),
        (
            {"rules": {"quiet_hours": {"start": "22:00", "end": "22:00"}}},
            "rules.quiet_hours",
            "start and end must differ",
        ),
        ({"brand": {**BRAND, "logo_url": "http://acme.example/logo.png"}}, "brand.logo_url", "https://"),
        ({"question": "Why?"}, "question", "at least 5 characters"),
        ({"colour": "#ffffff"}, "colour", "Extra inputs are not permitted"),  # belongs in brand
    ],
)
def test_validation_error_names_the_field(fields, where, says):
    message = problems(**fields)
    assert message.startswith(f"{where}: "), message
    assert says in message
    assert ";" not in message  # one problem, one entry


def test_validation_message_lists_one_entry_per_field():
    message = problems(
        language="xx",
        timezone="Mars/Base",
        brand={**BRAND, "colour": "red"},
        rules={"throttle_days": -1, "sample_percent": 0},
    )
    entries = message.split("; ")
    assert sorted(e.partition(":")[0] for e in entries) == [
        "brand.colour",
        "language",
        "rules.sample_percent",
        "rules.throttle_days",
        "timezone",
    ]
    assert all(e.partition(": ")[2] for e in entries)


def test_validation_message_of_another_exception_is_its_text():
    assert validation_message(ValueError("no programme for shop x")) == "no programme for shop x"


def test_equal_delays_are_allowed():
    assert (
        build(rules={"days_after_delivery": 5, "days_after_fulfilment": 5}).rules.days_after_fulfilment == 5
    )


def test_valid_settings_are_accepted_and_normalised():
    p = build(
        language="de",
        timezone="Australia/Lord_Howe",
        brand={**BRAND, "colour": "#ABCDEF", "logo_url": "https://acme.example/l.png"},
        rules={"quiet_hours": {"start": "08:00", "end": "21:00"}, "reminder_after_days": None},
    )
    assert p.brand.colour == "#abcdef"
    assert p.zone == ZoneInfo("Australia/Lord_Howe")
    assert p.rules.reminder_after_days is None
    assert p.rules.quiet_hours == QuietHours(start=time(8), end=time(21))


@settings(max_examples=150, deadline=None)
@given(days=st.one_of(st.integers(max_value=-1), st.integers(min_value=3651)))
def test_out_of_range_throttle_is_rejected_naming_it(days):
    assert problems(rules={"throttle_days": days}).startswith("rules.throttle_days: ")


@settings(max_examples=150, deadline=None)
@given(colour=st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))
def test_any_hex_colour_is_accepted_in_lower_case(colour):
    assert Brand(name="Acme", sender="a@b.co", colour=colour).colour == colour.lower()


@settings(max_examples=150, deadline=None)
@given(colour=st.text(max_size=10))
def test_anything_else_is_not_a_colour(colour):
    if len(colour) == 7 and colour[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in colour[1:]):
        return
    with pytest.raises(ValidationError) as caught:
        Brand(name="Acme", sender="a@b.co", colour=colour)
    assert validation_message(caught.value).startswith("colour: ")


def test_rules_validated_on_their_own_too():
    with pytest.raises(ValidationError) as caught:
        Rules(days_after_delivery=10, days_after_fulfilment=9)
    assert "days_after_fulfilment" in validation_message(caught.value)


# --- the question -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_default_question_per_language_names_the_brand(language, survey_type):
    text = build(
        language=language, survey_type=survey_type, brand={**BRAND, "name": "Zebra & Co"}
    ).question_text()
    assert "Zebra & Co" in text
    assert "{brand}" not in text
    other = build(
        language=language, survey_type=survey_type, brand={**BRAND, "name": "Other"}
    ).question_text()
    assert other == text.replace("Zebra & Co", "Other")


def test_default_questions_differ_by_language_and_type():
    texts = {
        (language, t): build(language=language, survey_type=t).question_text()
        for language in ("en", "de", "fr")
        for t in SurveyType
    }
    assert len(set(texts.values())) == len(texts)
    assert texts["en", SurveyType.NPS] == "How likely are you to recommend Acme to a friend or colleague?"
    assert texts["de", SurveyType.CSAT].startswith("Wie zufrieden")
    assert texts["fr", SurveyType.NPS].startswith("Quelle est la probabilité")


def test_brand_name_with_braces_is_not_a_template():
    assert "{0}{x}" in build(brand={**BRAND, "name": "{0}{x}"}).question_text()


def test_custom_question_wins():
    p = build(language="de", survey_type="csat", question="Wie war's bei uns?")
    assert p.question_text() == "Wie war's bei uns?"
