"""``cxloop deploy``: build what the functions need and deploy the stack (``--dry-run``: build and
synthesize only, and print the sizes against Lambda's limits)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxloop import cli_types
from cxloop.cli_errors import CliError


def cmd_deploy(args: argparse.Namespace) -> int:
    from cxloop.deploy import steps

    options = steps.Options(
        region=args.region,
        profile=args.profile,
        public_url=args.public_url,
        alarm_email=args.alarm_email,
        dry_run=args.dry_run,
        out=Path(args.out) if args.out else steps.Options.out,
    )
    try:
        steps.run(options)
    except steps.StepFailed as error:
        raise CliError(str(error)) from None
    return 0


def add_commands(sub: Any, admin_factory: Callable[[argparse.Namespace], Any]) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="build the layers, synthesize and deploy the stack to AWS (needs Node.js for the CDK CLI)",
    )
    deploy.add_argument(
        "--region", type=cli_types.aws_region, help="AWS region (default: the profile's or CXLOOP_REGION)"
    )
    deploy.add_argument("--profile", help="AWS credentials profile (default: the usual boto3 chain)")
    deploy.add_argument(
        "--public-url",
        type=cli_types.https_url,
        help="base of survey links, https://host[/path] without a trailing '/' (a custom domain)",
    )
    deploy.add_argument(
        "--alarm-email",
        type=cli_types.email_address,
        metavar="ADDRESS",
        help="subscribe this address to the alarms (dead letters, refusals, Slack, SES); AWS e-mails a "
        "confirmation link first",
    )
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="build and synthesize only, and print the sizes against Lambda's limits",
    )
    deploy.add_argument("--out", help="the cloud assembly's folder (default build/cdk.out)")
    deploy.set_defaults(func=cmd_deploy)
