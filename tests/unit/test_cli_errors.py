"""The CLI's argument types and its one error-translation point (issue 17, item 10): a bad value is
reported under the option's name with what is accepted, never as a traceback."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from cxloop import cli_types
from cxloop.cli import main, parser
from cxloop.cli_errors import NO_STACK, Options, commands, explain, validation
from cxloop.survey_commands import FIELDS
from services.feedback.domain.surveys.programme import SurveyProgramme

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:30+01:00", datetime(2026, 11, 1, 7, 30, tzinfo=UTC)),
    ],
)
def test_moment_reads_dates_and_spans(value: str, expected: datetime) -> None:
    assert cli_types.moment(value, NOW) == expected


@pytest.mark.parametrize("value", ["1week", "7 days", "yesterday", "2026-13-01", "d", ""])
def test_moment_refuses_anything_else_saying_what_it_takes(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="7d, 24h or 2w"):
        cli_types.moment(value, NOW)


def test_quiet_hours() -> None:
    assert cli_types.quiet_hours("21:00-08:00") == {"start": "21:00:00", "end": "08:00:00"}
    assert cli_types.quiet_hours("off") is None and cli_types.quiet_hours("None") is None
    for bad, said in [("25:00-08:00", "hours 00-23"), ("21-08", "HH:MM"), ("21:00", "no '-'"),
                      ("21:60-08:00", "minutes 00-59"), ("08:00-08:00", "must differ")]:  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            cli_types.quiet_hours(bad)
    assert cli_types.clock("7:05") == time(7, 5)


def test_shop_id_and_days_or_off() -> None:
    assert cli_types.shop_id("blue-kiln") == "blue-kiln"
    for bad in ("bad_shop!", "ab", "-x-shop", "Blue"):
        with pytest.raises(argparse.ArgumentTypeError, match="a-z, 0-9 and '-'"):
            cli_types.shop_id(bad)
    assert cli_types.days_or_off("3") == 3 and cli_types.days_or_off("off") is None
    with pytest.raises(argparse.ArgumentTypeError, match="whole number of days"):
        cli_types.days_or_off("three")


def survey_set() -> argparse.ArgumentParser:
    return dict(commands(parser()))[("survey", "set")]


def test_a_missing_sender_names_the_option_and_what_it_takes() -> None:
    with pytest.raises(ValidationError) as caught:
        SurveyProgramme.model_validate({"survey_type": "csat", "brand": {"name": "Blue Kiln"}})
    said = validation(caught.value, Options.of(survey_set()), FIELDS)
    assert said.startswith("--sender is required here: give the From address"), said
    assert "brand.sender" not in said


def test_field_names_in_a_rule_message_become_options() -> None:
    doc = {"brand": {"name": "B", "sender": "a@b.example", "colour": "red"},
           "rules": {"days_after_delivery": 9, "days_after_fulfilment": 2}}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        SurveyProgramme.model_validate(doc)
    said = validation(caught.value, Options.of(survey_set()), FIELDS)
    assert "--colour 'red': colour must be #rrggbb" in said
    assert "--days-after-fulfilment must be at least --days-after-delivery" in said


def test_a_field_with_the_options_name_is_found_without_a_map() -> None:
    class Loop(BaseModel):
        churn_threshold: float = Field(le=1)

    command = dict(commands(parser()))[("notify", "loop")]
    with pytest.raises(ValidationError) as caught:
        Loop(churn_threshold=5)
    assert validation(caught.value, Options.of(command), {}).startswith("--churn-threshold 5: ")


def test_translation_of_aws_files_and_the_unexpected() -> None:
    import botocore.exceptions as aws

    command = dict(commands(parser()))[("reviews", "import")]
    args = parser().parse_args(["reviews", "import", "/nope.csv", "--shop", "s-1", "--source", "x"])
    for unreachable in (aws.NoCredentialsError(), aws.EndpointConnectionError(endpoint_url="http://x:5055")):
        said, status = explain(unreachable, command, args)
        assert said == NO_STACK.format(state=".cxloop/stack.json") and status == 1
    refused = aws.ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "none"}}, "Query")
    said, status = explain(refused, command, args)
    assert status == 1 and "--prefix 'cxloop'" in said and "ResourceNotFoundException" in said
    said, status = explain(FileNotFoundError(2, "No such file or directory", "/nope.csv"), command, args)
    assert said == "file '/nope.csv': No such file or directory" and status == 2
    said, status = explain(KeyError("bogus"), command, args)
    assert status == 1 and "KeyError" in said and "--debug" in said


def test_the_walk_finds_every_command() -> None:
    found = {" ".join(words) for words, _ in commands(parser())}
    assert {"run", "shop add", "shop list", "dlq list", "report", "survey set", "reviews import"} <= found
    assert all(words for words in found)


# Commands that never talk to AWS (they read files or start the stack), and `deploy`, which never talks
# to a stack: without credentials it says so in its own words (tests/infra/test_deploy_command.py).
LOCAL = {("run",), ("score",), ("model", "train"), ("deploy",), ("churn", "evaluate")}
FILLER = {"shop": "shop-a", "shop_id": "shop-a", "topic": "orders/create", "source": "judgeme",
          "order_id": "1", "key_id": "k", "case": "c", "name": "ops", "taxonomy": "ecommerce",
          "review": "csv:x", "text": "hello", "since": "7d", "at": "2010-09-24"}  # fmt: skip


def command_argv(
    words: tuple[str, ...],
    command: argparse.ArgumentParser,
    file: Path,
    spoiled: argparse.Action | None = None,
    bad: str = "",
) -> list[str]:
    """The command with a plausible value for each required argument, and ``bad`` for ``spoiled``."""
    argv = list(words)
    grouped = [g._group_actions[0] for g in command._mutually_exclusive_groups if g.required]
    for action in command._actions:
        if action.dest == "help" or not (action is spoiled or action.required or action in grouped):
            continue
        value = (
            bad if action is spoiled
            else str(file) if action.dest in ("file", "input")
            else str(next(iter(action.choices))) if action.choices else FILLER[action.dest]
        )  # fmt: skip
        argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def test_every_command_without_a_stack_or_credentials_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner's `cxloop shop list` before `make run`: one line, not botocore's traceback."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup (no socket)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    file = tmp_path / "in.csv"
    file.write_text("text\nhello\n")
    expected = NO_STACK.format(state=f"{tmp_path}/stack.json")
    checked = 0
    for words, command in commands(parser()):
        if words in LOCAL:
            continue
        capsys.readouterr()
        code = main(["--state-dir", str(tmp_path), *command_argv(words, command, file)])
        err = capsys.readouterr().err
        assert code != 0 and expected in err and "Traceback" not in err, (words, err)
        checked += 1
    assert checked >= 30


def test_the_stack_says_how_to_call_the_cli() -> None:
    """`cxloop` is not on the PATH after `make run` (issue 17, item 11): the stack's banner says how."""
    from cxloop.local.stack import cli_hint

    hint = cli_hint(Path("/work/clone/.venv"), Path("/work/clone"))
    assert "`source .venv/bin/activate`" in hint and ".venv/bin/cxloop" in hint and "cxloop --help" in hint
    assert "/opt/venv/bin/activate" in cli_hint(Path("/opt/venv"), Path("/work/clone"))
    # A stack with its own state folder is found only by commands that name it.
    assert "`cxloop --state-dir /tmp/walk/state --help`" in cli_hint(
        Path("/work/clone/.venv"), Path("/work/clone"), Path("/tmp/walk/state")
    )


def test_a_number_out_of_range_says_the_bound_as_the_owner_typed_it() -> None:
    doc = {
        "brand": {"name": "B", "sender": "a@b.example"},
        "rules": {"sample_percent": 150.0, "throttle_days": -3},
    }
    with pytest.raises(ValidationError) as caught:
        SurveyProgramme.model_validate(doc)
    said = validation(caught.value, Options.of(survey_set()), FIELDS)
    assert "--sample-percent 150: must be at most 100" in said, said
    assert "--throttle-days -3: must be at least 0" in said, said
    assert "Input should" not in said and "100.0" not in said


def test_platform_secret_names_the_platform() -> None:
    assert cli_types.platform_secret("Shopify= abc ") == ("shopify", "abc")
    for bad, said in [("foo", "PLATFORM one of shopify, woocommerce, bigcommerce"),
                      ("etsy=abc", "PLATFORM=SECRET"), ("woocommerce=", "has no secret")]:  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            cli_types.platform_secret(bad)


def test_a_secret_for_a_platform_the_shop_is_not_on_is_refused_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--state-dir", str(tmp_path), "shop", "add", "blue-kiln", "--platform", "shopify"]
    assert main([*argv, "--secret", "woocommerce=abc"]) == 2
    err = capsys.readouterr().err
    assert "--secret: the shop is on shopify, not woocommerce" in err and "no local stack" not in err, err
