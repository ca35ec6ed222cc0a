"""``cxloop doctor``: check the local stack (when one runs) or a deployed one (``--stack``, ``--region``,
``--profile``), one line per check, exit status 1 when any check fails. The composition root of
``cxloop.doctor``: it picks the target, builds the boto3 and urllib adapters and the subscription
check, and runs the checks."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cxloop import cli_types
from cxloop.cli_errors import CliError
from cxloop.doctor import checks, render
from cxloop.doctor.model import CheckResult, ShopFacts, Status, Target
from cxloop.doctor.ports import SubscriptionCheck

DEFAULT_STACK = "cxloop"  # infra's stackName default (CXLOOP_STACK_NAME)
AWS_SERVICES = ("sesv2", "sqs", "cloudwatch", "secretsmanager", "dynamodb", "cloudformation", "lambda")


def subscription_check(admin: Callable[[], Any], env: dict[str, str] | None = None) -> SubscriptionCheck:
    """Each shop's webhook subscriptions as `cxloop shop connect S --check` sees them at its platform
    (``cxloop.connect.verify``: reads only, changes nothing); the admin is built on first use."""
    from cxloop import connect

    built: list[Any] = []

    def check(target: Target, shop: ShopFacts) -> list[CheckResult]:
        if not built:
            built.append(admin())
        return as_results(
            shop, connect.verify(built[0], shop.shop_id, env=env if env is not None else dict(os.environ))
        )

    return check


def as_results(shop: ShopFacts, found: Iterable[Any]) -> list[CheckResult]:
    """``cxloop.connect``'s results (each with ``status`` ok/warn/fail, ``detail``, ``fix``; ``subject``
    or ``platform`` when it has them) as the doctor's lines."""
    lines = []
    for result in found:
        subject = getattr(result, "subject", None) or getattr(result, "platform", None) or shop.shop_id
        lines.append(
            CheckResult(
                check="subscriptions",
                subject=f"{shop.shop_id} {subject}" if subject != shop.shop_id else subject,
                status=Status(str(getattr(result.status, "value", result.status))),
                detail=str(result.detail),
                fix=str(getattr(result, "fix", "") or ""),
                shop=shop.shop_id,
            )
        )
    return lines


def cmd_doctor(args: argparse.Namespace, subscriptions: SubscriptionCheck | None = None) -> int:
    from cxloop.doctor.adapters import Boto3StackReader, SmtpSink, UrllibProbe

    discovery, clients = _discover(args)
    target = _narrowed(discovery.target, args.shop)
    reader = Boto3StackReader(
        clients["sesv2"], clients["sqs"], clients["cloudwatch"], clients["secretsmanager"]
    )
    results = [
        *discovery.findings,
        *checks.run_all(
            target,
            reader,
            UrllibProbe(),
            SmtpSink(),
            subscriptions or subscription_check(lambda: _admin_for(args)),
            args.timeout,
        ),
    ]
    print(render.as_json(target, results) if args.json else render.text(target, results))
    return 1 if checks.failed(results) else 0


def _narrowed(target: Target, shop_id: str | None) -> Target:
    """``--shop S``: the per-shop checks for that shop only; an unknown shop is an error naming them."""
    if shop_id is None:
        return target
    kept = tuple(s for s in target.shops if s.shop_id == shop_id)
    if not kept:
        known = ", ".join(s.shop_id for s in target.shops) or "none yet"
        raise CliError(
            f"--shop {shop_id!r}: no such shop in this stack (the shops: {known}; add one with "
            "`cxloop shop add`)"
        )
    return target.model_copy(update={"shops": kept})


def _discover(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from cxloop.cli import _local_state
    from cxloop.doctor import discover

    aws_asked = [
        o for o, v in (("--stack", args.stack), ("--region", args.region), ("--profile", args.profile)) if v
    ]
    if args.local and aws_asked:
        raise CliError(
            f"--local and {', '.join(aws_asked)}: give --local for the local stack, or those for AWS"
        )
    state = None if aws_asked else _local_state(Path(args.state_dir))
    if args.local and state is None:
        raise CliError(
            f"--local: no local stack is running ({args.state_dir}/stack.json): start it with `cxloop run`"
        )
    if state is not None:
        clients = _clients(_local_session(state), state.get("moto_url"))
        return discover.local(state, clients, args.state_dir), clients
    session = _aws_session(args)
    clients = _clients(session, None)
    name = args.stack or os.environ.get("CXLOOP_STACK_NAME") or DEFAULT_STACK
    where = discover.Where(
        stack_name=name,
        region=session.region_name,
        profile=args.profile,
        prefix=args.prefix,
        api_url=args.api_url,
    )
    try:
        return discover.deployed(where, clients), clients
    except discover.StackMissing:
        raise CliError(
            f"--stack {name!r}: no CloudFormation stack of that name in {session.region_name} where these "
            f"credentials point, nor resources named by --prefix {args.prefix!r} (accepted: the "
            "stackName it was deployed with, default cxloop; give --region and --profile for another account "
            "or region, or start `cxloop run` for the local stack)"
        ) from None


def _local_session(state: dict[str, Any]) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local stack's moto takes any
        region_name=state.get("region") or "us-east-1",
    )


def _aws_session(args: argparse.Namespace) -> Any:
    import boto3
    import botocore.exceptions

    try:
        session = boto3.session.Session(
            profile_name=args.profile, region_name=args.region or os.environ.get("CXLOOP_REGION")
        )
    except botocore.exceptions.ProfileNotFound:
        known = ", ".join(boto3.session.Session().available_profiles) or "none configured"
        raise CliError(f"--profile {args.profile!r}: no such AWS profile (the profiles: {known})") from None
    if not session.region_name:
        raise CliError("--region: none given and the profile names none: give --region (e.g. eu-west-1)")
    return session


def _clients(session: Any, endpoint: str | None) -> dict[str, Any]:
    return {name: session.client(name, endpoint_url=endpoint) for name in AWS_SERVICES}


def add_commands(sub: Any, admin_factory: Callable[[argparse.Namespace], Any]) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check the stack as an operator would: SES, the public URL, webhooks, dead letters, link keys",
        description=__doc__,
    )
    doctor.add_argument("--shop", type=cli_types.shop_id, help="only this shop's per-shop checks (a shop id)")
    doctor.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    doctor.add_argument(
        "--stack",
        help=f"the deployed CloudFormation stack's name (default CXLOOP_STACK_NAME or {DEFAULT_STACK})",
    )
    doctor.add_argument(
        "--region", type=cli_types.aws_region, help="AWS region (default: the profile's or CXLOOP_REGION)"
    )
    doctor.add_argument("--profile", help="AWS credentials profile (default: the usual boto3 chain)")
    doctor.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds to wait for each URL or server (default 10)"
    )
    doctor.set_defaults(func=cmd_doctor)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 120:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of seconds above 0, at most 120")
    return seconds


def _admin_for(args: argparse.Namespace) -> Any:
    from cxloop.cli import _admin

    return _admin(args)
