"""The CLI's one error-translation point: whatever a command raises becomes a message that names the
option or argument, says what was wrong and what is accepted, and an exit status; no traceback reaches
the owner (``cxloop --debug ...`` shows it).

Parsing errors never get here: argparse reports them under the option's name, with the types of
``cli_types``. A pydantic ``ValidationError`` is named by the option that set the field: a command's
``fields`` default maps a field's path to its option where the names differ (``brand.sender`` →
``--sender``), else a field is matched to the option of the same name.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared import rules_text

NO_STACK = (
    "no local stack running at {state} and no AWS credentials: start `cxloop run` or configure AWS "
    "credentials"
)
# A deployment that is not there (no such table or queue under the prefix).
MISSING = {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class CliError(Exception):
    """A message already worded for the owner (exit status 2, like a usage error)."""


def commands(root: argparse.ArgumentParser) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf command of the tree: its words (``("shop", "add")``) and its parser."""
    subs = _subparsers(root)
    if subs is None:
        yield (), root
        return
    for name, child in subs.choices.items():
        for words, leaf in commands(child):
            yield (name, *words), leaf


def leaf(root: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command ``args`` came from."""
    parser = root
    while (subs := _subparsers(parser)) is not None:
        parser = subs.choices[getattr(args, subs.dest)]
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> Any:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return found[0] if found else None


def explain(error: Exception, parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, int]:
    """The message and exit status for what a command raised."""
    options = Options.of(parser)
    if isinstance(error, ValidationError):
        return validation(error, options, getattr(args, "fields", {})), 2
    if isinstance(error, CliError | ValueError):
        return str(error), 2
    if (said := _aws(error, args)) is not None:
        return said, 1
    if isinstance(error, OSError) and error.filename is not None:
        where = _named_by_value(str(error.filename), options.names, args)
        return f"{where}{error.filename!r}: {error.strerror or error}", 2
    return f"unexpected {type(error).__name__}: {error} (run again with --debug to see where)", 1


@dataclass(frozen=True)
class Options:
    """A command's options as the owner types them, and what each accepts (its help)."""

    names: dict[str, str]  # destination → ``--sender``, or the argument's ``shop_id``
    helps: dict[str, str]  # ``--sender`` → its help

    @classmethod
    def of(cls, parser: argparse.ArgumentParser) -> Options:
        names, helps = {}, {}
        for action in parser._actions:
            if action.dest in ("help", argparse.SUPPRESS):
                continue
            longs = [o for o in action.option_strings if o.startswith("--")]
            name = longs[0] if longs else str(action.metavar or action.dest)
            names[action.dest] = name
            if action.help and action.help != argparse.SUPPRESS:
                helps[name] = action.help.replace("%%", "%")
        return cls(names, helps)


def validation(error: ValidationError, options: Options, fields: Mapping[str, str]) -> str:
    """One line per problem, each naming the option that set the field."""
    return "; ".join(_problem(e, options, fields) for e in error.errors())


def _problem(err: Any, options: Options, fields: Mapping[str, str]) -> str:
    loc = tuple(str(p) for p in err.get("loc", ()))
    option = _option(loc, options.names, fields)
    message = _bound(err) or _mention_options(
        str(err.get("msg", "invalid")).removeprefix("Value error, "), options.names
    )
    where = option or ".".join(loc) or "the values given"
    accepted = options.helps.get(option or "", "")
    if err.get("type") == "missing":
        return f"{where} is required here" + (f": give {accepted}" if accepted else "")
    given = err.get("input")
    if isinstance(given, float) and given.is_integer():
        given = int(given)  # argparse read "150" as 150.0: show what the owner typed
    shown = f" {given!r}" if isinstance(given, str | int | float) and option else ""
    if str(err.get("type", "")).startswith("value_error"):
        accepted = ""  # our validators say what they accept
    return f"{where}{shown}: {message}" + (f" (accepted: {accepted})" if accepted else "")


def _bound(err: Any) -> str | None:
    return rules_text.bound(err)


def _option(loc: tuple[str, ...], names: Mapping[str, str], fields: Mapping[str, str]) -> str | None:
    for end in range(len(loc), 0, -1):  # the deepest path a command maps, then a field of the same name
        if (path := ".".join(loc[:end])) in fields:
            return fields[path]
    return next((names[part] for part in reversed(loc) if part in names), None)


def _mention_options(message: str, names: Mapping[str, str]) -> str:
    """A rule's message names fields (``days_after_fulfilment must be ...``): say the options instead."""
    for dest, option in names.items():
        if "_" in dest and option.startswith("--"):
            message = re.sub(rf"\b{re.escape(dest)}\b", option, message)
    return message


def _named_by_value(value: str, names: Mapping[str, str], args: argparse.Namespace) -> str:
    for dest, given in vars(args).items():
        if isinstance(given, str) and given == value and dest in names:
            return f"{names[dest]} "
    return ""


def _aws(error: Exception, args: argparse.Namespace) -> str | None:
    """What botocore's errors mean to the owner; None for anything else."""
    import botocore.exceptions as aws

    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError | aws.EndpointConnectionError):
        return NO_STACK.format(state=f"{args.state_dir}/stack.json")
    if isinstance(error, aws.NoRegionError):
        return "no AWS region: set AWS_REGION (or start `cxloop run` for the local stack)"
    if not isinstance(error, aws.ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    said = error.response.get("Error", {}).get("Message", "")
    if code in MISSING:
        return (
            f"no cxloop deployment with --prefix {args.prefix!r} where these credentials point ({code}: "
            f"{said}): deploy it, start `cxloop run`, or give the right --prefix"
        )
    return f"AWS refused the request ({code}: {said}); check the credentials and region"
