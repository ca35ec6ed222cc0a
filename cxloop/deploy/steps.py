"""``cxloop deploy``: build the layers, synthesize the CDK app, check the sizes, then deploy.

Each step says what it did; a step that fails raises :class:`StepFailed` naming itself and what to
do, and nothing after it runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cxloop.deploy import artifacts, checklist, layers

# The CDK CLI that understands aws-cdk-lib 2.275.0's cloud assembly (the CLI's "latest", v3, does not).
CDK_CLI = "aws-cdk@2.1148.1"
INFRA_APP = layers.ROOT / "infra" / "app.py"


class StepFailed(Exception):
    """``step <name>: <what happened>; <what to do>``."""

    def __init__(self, step: str, said: str) -> None:
        super().__init__(f"step {step!r} failed: {said}")


@dataclass(frozen=True)
class Options:
    account: str | None = None  # set by the credentials step
    region: str | None = None
    profile: str | None = None
    public_url: str | None = None
    alarm_email: str | None = None  # subscribed to the alarms' SNS topic (context alarmEmail)
    dry_run: bool = False
    out: Path = layers.ROOT / "build" / "cdk.out"
    cache: Path = layers.DEFAULT_CACHE


def build_layers(options: Options, say: Callable[[str], None]) -> None:
    for layer in layers.all_layers():
        started = time.monotonic()
        try:
            built = layers.build(layer, layers.LAMBDA, options.cache)
        except layers.BuildError as error:
            raise StepFailed("layers", str(error)) from None
        how = "cached" if built.cached else f"built in {time.monotonic() - started:.1f} s"
        say(f"  layer {layer.name:<8} {how}  ({', '.join(layer.distributions)})")


def synthesize(options: Options, say: Callable[[str], None]) -> None:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(options.out),
        "CXLOOP_LAYERS_DIR": str(options.cache),
        # The deployment's own values, not those of a local stack the shell may have exported.
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
    }
    if options.region:
        env["CXLOOP_REGION"] = options.region
    if options.account:
        env["CXLOOP_ACCOUNT"] = options.account
    if options.public_url:
        env["CXLOOP_INFRA_PUBLIC_URL"] = options.public_url
    if options.alarm_email:
        env["CXLOOP_INFRA_ALARM_EMAIL"] = options.alarm_email
    shutil.rmtree(options.out, ignore_errors=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(INFRA_APP)], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        refused = [line for line in result.stderr.splitlines() if line.startswith("ValueError: ")]
        if refused:  # InfraConfig or the stack refused a value: say which (--region, --public-url...)
            raise StepFailed("synth", refused[-1].removeprefix("ValueError: "))
        tail = "\n".join(result.stderr.strip().splitlines()[-8:])
        raise StepFailed(
            "synth",
            f"`python infra/app.py` exited {result.returncode}:\n{tail}\n"
            "Is the infra extra installed (`pip install -e '.[infra]'`)? "
            "Run `python infra/app.py` to see all of it.",
        )
    say(f"  cloud assembly in {options.out} ({time.monotonic() - started:.1f} s)")


def check_sizes(options: Options, say: Callable[[str], None]) -> None:
    found = artifacts.packages(options.out)
    for line in artifacts.report(found):
        say(line)
    problems = [p for package in found for p in package.problems()]
    if problems:
        raise StepFailed(
            "sizes",
            "; ".join(problems) + ". Move the heavy dependency into its own layer, or the function "
            "into a container image (topology.Function.package).",
        )


def cdk_deploy(options: Options, say: Callable[[str], None]) -> None:
    if shutil.which("npx") is None:
        raise StepFailed("deploy", "npx not found: install Node.js 22 or 24 (it brings npx), then run again")
    command = ["npx", "--yes", CDK_CLI, "deploy", "--app", str(options.out), "--require-approval", "never"]
    if options.profile:
        command += ["--profile", options.profile]
    say(f"  {' '.join(command)}")
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise StepFailed(
            "deploy",
            "the CDK CLI's output above says why. First deploy to an account and region? "
            f"`npx {CDK_CLI} bootstrap aws://<account>/<region>` once, then run again.",
        )


STEPS: tuple[tuple[str, Callable[[Options, Callable[[str], None]], None]], ...] = (
    ("layers: pip for arm64 / Python 3.11 at the pins of constraints.txt", build_layers),
    ("synth: the CDK app (python infra/app.py)", synthesize),
    ("sizes: against Lambda's limits", check_sizes),
)


def account_of(options: Options) -> str:
    """The account the credentials (``--profile``) belong to: the stack is synthesized for it."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
        account: str = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise StepFailed(
            "credentials",
            f"{error}. Configure AWS credentials (`aws configure` or `--profile P`), or use --dry-run.",
        ) from None
    return account


def run(options: Options, say: Callable[[str], None] = print) -> None:
    if not options.dry_run:
        options = replace(options, account=account_of(options))
        say(f"account {options.account}, region {options.region or '(the profile default)'}")
    steps = STEPS if options.dry_run else (*STEPS, ("deploy: the CDK CLI", cdk_deploy))
    for number, (title, step) in enumerate(steps, 1):
        say(f"[{number}/{len(steps)}] {title}")
        step(options, say)
    if options.dry_run:
        say("dry run: nothing deployed. Without --dry-run the assembly above is deployed with the CDK CLI.")
    for line in checklist.lines(deployed=not options.dry_run):
        say(line)
