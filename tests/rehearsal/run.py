"""The rehearsal: deploy the real template into MiniStack, then play the demo's story against it.

``python -m tests.rehearsal`` (``make rehearse``) prints each step with pass/fail and its wall time and
exits 1 at the first failure (later steps need what it made); ``tests/rehearsal/test_rehearsal.py``
runs the same under pytest. Everything it builds is under build/rehearsal (gitignored).
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxloop.deploy import layers as layers_module
from tests.rehearsal import deploy, emulator, story


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    said: str


@dataclass
class Rehearsal:
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def _step(rehearsal: Rehearsal, name: str, action: Callable[[], str], say: Callable[[str], None]) -> bool:
    started = time.monotonic()
    try:
        said = action()
        ok = True
    except Exception as error:  # any failure is the step's, reported with its type
        said, ok = f"{type(error).__name__}: {error}", False
    step = Step(name, ok, time.monotonic() - started, said)
    rehearsal.steps.append(step)
    say(f"{'PASS' if ok else 'FAIL'} {step.seconds:6.1f} s  {name}: {said}")
    return ok


def deployment(box: dict[str, Any], run_dir: Path) -> tuple[tuple[str, Callable[[], str]], ...]:
    """The deployment's steps; each leaves what the next needs in ``box``."""

    def layers() -> str:
        box["layers"] = deploy.host_layers(lambda _: None)
        return f"host builds of the {len(layers_module.all_layers())} layers in {box['layers']}"

    def synth() -> str:
        box["assembly"] = deploy.synthesize(box["layers"])
        return f"template {deploy.template_size(box['assembly']) / 1024:.0f} KB (TemplateBody max 50 KB)"

    def start() -> str:
        box["aws"] = emulator.start(run_dir)
        return f"MiniStack {box['aws'].endpoint} (log {box['aws'].log})"

    def upload() -> str:
        box["bucket"] = deploy.bootstrap(box["aws"])
        box["template"], sent = deploy.upload_assets(box["aws"], box["assembly"])
        return f"bootstrap parameter and bucket; {sent / 2**20:.0f} MB of assets uploaded"

    def create() -> str:
        box["outputs"] = deploy.create_stack(box["aws"], box["bucket"], box["template"])
        return f"CREATE_COMPLETE, ApiUrl {box['outputs']['ApiUrl']}"

    return (
        ("layers for this machine (cached by their pins)", layers),
        ("synth (python infra/app.py)", synth),
        ("MiniStack on 127.0.0.1", start),
        ("what cdk bootstrap makes, and the assets", upload),
        ("CreateStack from the template's URL", create),
    )


def run(say: Callable[[str], None] = print) -> Rehearsal:
    rehearsal = Rehearsal()
    box: dict[str, Any] = {}
    run_dir = deploy.BUILD / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        for name, action in deployment(box, run_dir):
            if not _step(rehearsal, name, action, say):
                return rehearsal
        aws = box["aws"]
        world = story.World(aws, story.Api(box["outputs"]["ApiUrl"], aws.port), run_dir / "cli-state")
        world.state_dir.mkdir(parents=True, exist_ok=True)
        for name, play in story.STORY:
            if not _step(rehearsal, name, lambda play=play: play(world), say):  # type: ignore[misc]
                say(f"MiniStack's log: {aws.log}")
                return rehearsal
        return rehearsal
    finally:
        if "aws" in box:
            box["aws"].stop()
        verdict = "passed" if rehearsal.ok else "FAILED"
        say(f"rehearsal {verdict}: {len(rehearsal.steps)} steps in {rehearsal.seconds:.1f} s")


def main() -> int:
    return 0 if run(functools.partial(print, flush=True)).ok else 1
