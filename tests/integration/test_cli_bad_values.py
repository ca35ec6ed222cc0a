"""Every CLI command, given a bad value, exits non-zero with a message that names the option or argument
and no traceback (issue 17, item 10). The commands are found by walking `cxloop.cli`'s parser, so a new
command is covered, or fails here until it has a value to spoil."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxloop.cli import main, parser
from cxloop.cli_errors import commands
from tests.integration.conftest import Stack
from tests.unit.test_cli_errors import command_argv

MISSING_FILE = "/nonexistent/cxloop-input.csv"


def shown(action: argparse.Action) -> str:
    """How argparse and our messages name it: ``--since``, or the argument's ``file``."""
    return action.option_strings[0] if action.option_strings else str(action.metavar or action.dest)


def bad_values(command: argparse.ArgumentParser) -> Iterator[tuple[argparse.Action, str]]:
    """The values that must be refused: an unknown shop, a word for a number or a date, a choice that
    is not one, a file that is not there, an id that names nothing."""
    for action in command._actions:
        if action.dest == "help" or action.nargs == 0:
            continue
        if action.dest == "shop":
            yield action, "nope"
        elif action.choices:
            yield action, "bogus"
        elif action.type is not None:
            yield action, "x!"
        elif not action.option_strings:
            yield action, MISSING_FILE if action.dest in ("file", "input") else "nope"


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own refusal
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def test_every_command_refuses_a_bad_value_by_name(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "in.csv"
    file.write_text("text\nhello\n")
    cases = 0
    for words, command in commands(parser()):
        spoilable = list(bad_values(command))
        # `shop list` takes no value: its refusal (no stack) is tests/unit/test_cli_errors.py's.
        assert spoilable or words == ("shop", "list"), f"{' '.join(words)}: no bad value to try"
        for action, bad in spoilable:
            argv = command_argv(words, command, file, action, bad)
            code, said = run(capsys, ["--state-dir", str(tmp_path), *argv])
            case = f"cxloop {' '.join(argv)}"
            assert code != 0, f"{case}: exit 0\n{said}"
            assert "Traceback" not in said, f"{case}\n{said}"
            assert shown(action) in said, f"{case}: the message does not name {shown(action)}\n{said}"
            cases += 1
    assert cases > 60


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["dlq", "list", "--queue", "bogus"], "argument --queue: invalid choice: 'bogus'"),
        (["shop", "add", "shop-a", "--platform", "woocommerce"], "shop_id 'shop-a': that shop exists"),
        (["shop", "add", "bad_shop!", "--platform", "woocommerce"], "argument shop_id: 'bad_shop!' is not a"),
        (["report", "--shop", "shop-a", "--since", "1week"], "argument --since: '1week' is neither a date"),
        (["report", "--shop", "nope", "--since", "7d"], "--shop 'nope': no such shop (the shops: shop-a"),
        (["survey", "set", "--shop", "shop-a", "--quiet-hours", "25:00-08:00"],
         "argument --quiet-hours: '25:00' is not a time of day (hours 00-23"),
        (["survey", "set", "--shop", "shop-a", "--type", "csat"],
         "--sender is required here: give the From address"),
        (["survey", "set", "--shop", "shop-a", "--sender", "a@b.example", "--days-after-delivery", "9",
          "--days-after-fulfilment", "2"], "--days-after-fulfilment must be at least --days-after-delivery"),
        (["notify", "loop", "--shop", "shop-a", "--churn-threshold", "5"], "--churn-threshold 5"),
        (["survey", "set", "--shop", "shop-a", "--sender", "not-an-address"],
         "--sender 'not-an-address': address is not an e-mail address"),
    ],
)  # fmt: skip
def test_the_owners_first_hour_errors(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    code, out = run(capsys, ["--state-dir", str(tmp_path), *argv])
    assert code != 0 and said in out and "Traceback" not in out, out
