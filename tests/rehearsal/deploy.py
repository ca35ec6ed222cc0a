"""Deploy the synthesized stack into MiniStack the way `cdk deploy` would into an account.

What `cdk bootstrap` leaves in an account is made by hand (the SSM version parameter the template's
rule checks, the assets bucket); every file asset of the cloud assembly (code, layers, and the
template itself) is uploaded to its key; the stack is created from the template's S3 URL (a
TemplateBody is capped at 51,200 bytes). The layers are this machine's builds of the same pins,
under the names synth looks for: MiniStack runs the functions as host processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cxloop.deploy import layers
from cxloop.deploy.artifacts import stack_files
from tests.rehearsal.emulator import ACCOUNT, REGION, ROOT, MiniStack
from tests.rehearsal.story import ALERTS_FROM, PUBLIC_URL

BUILD = ROOT / "build" / "rehearsal"
INFRA_APP = ROOT / "infra" / "app.py"
QUALIFIER = "hnb659fds"  # CDK's default bootstrap qualifier
BOOTSTRAP_VERSION = "30"
STACK = "cxloop"


class DeployError(Exception):
    """A deployment step failed: the message names it and carries what the emulator said."""


def host_layers(say: Callable[[str], None]) -> Path:
    """A layers folder holding this machine's build of each layer under the name synth reads."""
    folder = BUILD / "layers"
    for layer in layers.all_layers():
        built = layers.build(layer, layers.host())
        target = layers.build_path(layer, layers.LAMBDA, folder)
        target.mkdir(parents=True, exist_ok=True)
        link = target / "layer.zip"
        if not link.is_symlink() or link.resolve() != built.zip.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(built.zip)
        say(f"    layer {layer.name:<8} {'cached' if built.cached else 'built'} for {layers.host().name}")
    return folder


def synthesize(layers_dir: Path) -> Path:
    out = BUILD / "cdk.out"
    env = {
        **os.environ,
        "CDK_OUTDIR": str(out),
        "CXLOOP_LAYERS_DIR": str(layers_dir),
        "CXLOOP_ACCOUNT": ACCOUNT,
        "CXLOOP_REGION": REGION,
        "CXLOOP_INFRA_PUBLIC_URL": PUBLIC_URL,
        "CXLOOP_INFRA_NOTIFIER_SENDER": ALERTS_FROM,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
    }
    done = subprocess.run(
        [sys.executable, str(INFRA_APP)], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise DeployError(f"synth failed: {done.stderr.strip()[-1500:]}")
    return out


def bootstrap(aws: MiniStack) -> str:
    """What `cdk bootstrap` would have created that the template reads: the version parameter, the bucket."""
    aws.client("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{QUALIFIER}/version", Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    bucket = f"cdk-{QUALIFIER}-assets-{ACCOUNT}-{REGION}"
    aws.client("s3").create_bucket(Bucket=bucket)
    return bucket


def _resolve(text: str) -> str:
    return (
        text.replace("${AWS::AccountId}", ACCOUNT)
        .replace("${AWS::Region}", REGION)
        .replace("${AWS::Partition}", "aws")
    )


def upload_assets(aws: MiniStack, assembly: Path) -> tuple[str, int]:
    """Every file asset to its bucket and key; returns the template's key and the bytes uploaded."""
    _, manifest = stack_files(assembly)
    s3 = aws.client("s3")
    template_key = ""
    sent = 0
    for asset in manifest["files"].values():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip" and source.is_dir():
            archive = BUILD / "assets" / f"{source.name}.zip"
            if not archive.is_file():
                archive.parent.mkdir(parents=True, exist_ok=True)
                layers.write_zip(source, archive)
            source = archive
        for destination in asset["destinations"].values():
            bucket, key = _resolve(destination["bucketName"]), _resolve(destination["objectKey"])
            s3.upload_file(str(source), bucket, key)
            sent += source.stat().st_size
            if source.name.endswith(".template.json"):
                template_key = key
    if not template_key:
        raise DeployError("the asset manifest lists no template")
    return template_key, sent


def create_stack(aws: MiniStack, bucket: str, template_key: str, timeout_s: float = 600) -> dict[str, str]:
    """CreateStack from the template's S3 URL, wait for CREATE_COMPLETE; the stack's outputs."""
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateURL=f"{aws.endpoint}/{bucket}/{template_key}",
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if status.endswith(("FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_IN_PROGRESS")):
            raise DeployError(f"stack {status}: {failures(cfn)}")
        time.sleep(0.5)
    raise DeployError(f"stack not created within {timeout_s:.0f} s: {failures(cfn)}")


def failures(cfn: Any) -> str:
    events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
    failed = [
        f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    ]
    return "; ".join(failed[:5]) or "no resource failed"


def template_size(assembly: Path) -> int:
    template, _ = stack_files(assembly)
    return len(json.dumps(template))
