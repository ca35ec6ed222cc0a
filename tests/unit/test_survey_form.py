"""The survey editor's form: the programme document it makes, the values it shows, and each error beside
its field in the same words the CLI uses for the same rule."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cxloop import cli, cli_errors
from cxloop.survey_commands import FIELDS as CLI_FIELDS
from services.dashboard.domain import survey_form
from services.feedback.domain.surveys.programme import SurveyProgramme

pytestmark = pytest.mark.unit

GOOD = {
    "enabled": "on",
    "survey_type": "csat",
    "language": "de",
    "question": "",
    "follow_up_question": "Was können wir besser machen?",
    "brand.name": "Acme Socks",
    "brand.colour": "#0A7D33",
    "brand.logo_url": "https://cdn.acme.example/logo.png",
    "brand.sender": "hello@acme.example",
    "brand.reply_to": "",
    "rules.days_after_delivery": "2",
    "rules.days_after_fulfilment": "6",
    "rules.throttle_days": "60",
    "rules.sample_percent": "50",
    "rules.quiet_hours": "on",
    "rules.quiet_hours.start": "22:00",
    "rules.quiet_hours.end": "07:30",
    "timezone": "Europe/Berlin",
    "rules.reminder_after_days": "",
    "rules.answer_days": "14",
}
# One bad value per field, and the option the CLI names for it.
BAD = {
    "brand.colour": ("red", "--colour"),
    "brand.logo_url": ("http://acme.example/logo.png", "--logo-url"),
    "brand.sender": ("not-an-address", "--sender"),
    "brand.reply_to": ("a@b", "--reply-to"),
    "rules.throttle_days": ("5000", "--throttle-days"),
    "rules.sample_percent": ("0", "--sample-percent"),
    "rules.answer_days": ("400", "--answer-days"),
    "rules.days_after_delivery": ("-1", "--days-after-delivery"),
    "rules.reminder_after_days": ("0", "--reminder-days"),
    "timezone": ("Mars/Olympus", "--timezone"),
    "language": ("es", "--language"),
    "question": ("Why", "--question"),
}


def _set_command() -> cli_errors.Options:
    found = dict(cli_errors.commands(cli.parser()))
    return cli_errors.Options.of(found[("survey", "set")])


def test_a_good_form_makes_the_programme_it_shows() -> None:
    programme = SurveyProgramme.model_validate(survey_form.document(GOOD, {}))
    assert programme.survey_type.value == "csat" and programme.language == "de"
    assert programme.question is None  # empty: the type's standard question
    assert programme.brand.colour == "#0a7d33" and programme.brand.reply_to is None
    assert programme.rules.quiet_hours is not None
    assert programme.rules.quiet_hours.start.isoformat() == "22:00:00"
    assert programme.rules.reminder_after_days is None  # empty: no reminder
    assert programme.rules.sample_percent == 50.0
    shown = survey_form.values(programme.model_dump(mode="json"))
    assert shown == {**GOOD, "brand.colour": "#0a7d33"}


def test_what_the_form_does_not_show_is_kept() -> None:
    doc = survey_form.document(GOOD, {"rules": {"max_lateness_days": 9}})
    assert doc["rules"]["max_lateness_days"] == 9


def test_unticked_boxes_turn_surveys_and_quiet_hours_off() -> None:
    form = {k: v for k, v in GOOD.items() if k not in ("enabled", "rules.quiet_hours")}
    programme = SurveyProgramme.model_validate(survey_form.document(form, {}))
    assert not programme.enabled and programme.rules.quiet_hours is None


def _errors(form: dict[str, str]) -> tuple[dict[str, list[str]], ValidationError]:
    with pytest.raises(ValidationError) as caught:
        SurveyProgramme.model_validate(survey_form.document(form, {}))
    return survey_form.field_errors(caught.value.errors()), caught.value


@pytest.mark.parametrize("field", sorted(BAD))
def test_each_bad_field_gets_its_error_in_the_cli_s_words(field: str) -> None:
    value, option = BAD[field]
    errors, error = _errors({**GOOD, field: value})
    assert list(errors) == [field], errors
    (message,) = errors[field]
    cli_line = cli_errors.validation(error, _set_command(), CLI_FIELDS)
    assert cli_line.startswith(option), cli_line
    # The CLI names its options where a rule names a field (--logo-url for logo_url): the rule is the same.
    as_fields = cli_line.replace(option, field.rpartition(".")[2].replace("-", "_"), 2)
    assert message in cli_line or message in as_fields.partition(": ")[2], (message, cli_line)


def test_every_bad_field_at_once_is_each_beside_its_own() -> None:
    errors, _ = _errors({**GOOD, **{f: v for f, (v, _) in BAD.items()}})
    assert set(errors) == set(BAD)


def test_rules_across_fields_go_beside_the_field_that_breaks_them() -> None:
    errors, _ = _errors({**GOOD, "rules.days_after_delivery": "9", "rules.days_after_fulfilment": "3"})
    assert list(errors) == ["rules.days_after_fulfilment"]
    assert "must be at least days_after_delivery" in errors["rules.days_after_fulfilment"][0]
    errors, _ = _errors({**GOOD, "rules.quiet_hours.end": "22:00"})
    assert errors == {"rules.quiet_hours.start": ["quiet hours start and end must differ"]}
    errors, _ = _errors({**GOOD, "rules.quiet_hours.end": "25:00"})
    assert list(errors) == ["rules.quiet_hours.end"]


def test_a_number_that_is_not_one_says_so() -> None:
    errors, _ = _errors({**GOOD, "rules.throttle_days": "ninety"})
    assert errors == {
        "rules.throttle_days": ["Input should be a valid integer, unable to parse string as an integer"]
    }


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("brand", "colour"), "brand.colour"),
        (("rules",), "rules.days_after_fulfilment"),
        (("rules", "quiet_hours"), "rules.quiet_hours.start"),
        (("rules", "quiet_hours", "end"), "rules.quiet_hours.end"),
        (("rules", "reminder_after_days", "int"), "rules.reminder_after_days"),
        ((), survey_form.GENERAL),
        (("nothing",), survey_form.GENERAL),
    ],
)
def test_an_error_s_place_is_found_from_its_location(loc: tuple[Any, ...], field: str) -> None:
    assert survey_form.field_of(loc) == field
