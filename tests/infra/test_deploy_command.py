"""``cxloop deploy``: its steps, the size report against Lambda's limits, a failing step's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop import cli
from cxloop.deploy import artifacts, layers, steps
from shared import topology
from tests.infra.conftest import stub_layers

pytestmark = pytest.mark.infra
MB = artifacts.MB


def test_dry_run_builds_synthesizes_and_reports_each_function(tmp_path: Path, monkeypatch) -> None:
    """The steps in order, the real synth (stand-in layers), every zip function with its layers."""
    cache = stub_layers(tmp_path / "layers")
    said: list[str] = []
    steps.run(steps.Options(dry_run=True, out=tmp_path / "cdk.out", cache=cache), said.append)
    assert [line.split("]")[0] for line in said if line.startswith("[")] == ["[1/3", "[2/3", "[3/3"]
    assert sum("cached" in line for line in said) == len(layers.all_layers())
    report = "\n".join(said)
    for spec in topology.FUNCTIONS:
        line = next(x for x in said if x.strip().startswith(topology.physical("cxloop", spec.logical) + " "))
        assert "of 250 unzipped" in line
        assert f"{len(layers.layers_of(spec))} of 5 layers" in line
        for layer in layers.layers_of(spec):
            assert f"cxloop-{layer.name}" in line
    assert "dry run: nothing deployed" in report


def test_limits_are_named_with_their_figures() -> None:
    big = artifacts.Artifact("layer cxloop-charts", Path("x.zip"), 200 * MB, 60 * MB)
    code = artifacts.Artifact("code", Path("code"), 60 * MB, 10 * MB)
    package = artifacts.FunctionPackage("cxloop-daily", "h.handler", code, (big,) * 6)
    problems = package.problems()
    assert any("> 250 MB" in p for p in problems)
    assert any("6 layers > 5" in p for p in problems)
    assert any("layer cxloop-charts is 60.0 MB zipped > 50 MB" in p for p in problems)
    small = artifacts.Artifact("layer cxloop-mail", Path("m.zip"), 2 * MB, 1 * MB)
    assert artifacts.FunctionPackage("small", "h.handler", code, (small,)).problems() == []


def test_a_failing_step_says_which_and_what_to_do(monkeypatch, capsys) -> None:
    def no_wheel(*_args, **_kwargs):
        raise layers.BuildError("layer 'charts' ... for manylinux_2_26_aarch64: pin a version that has one")

    monkeypatch.setattr(layers, "build", no_wheel)
    assert cli.main(["deploy", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxloop deploy: error: step 'layers' failed: layer 'charts'")
    assert "pin a version" in err


def test_deploy_without_credentials_says_so_before_building(tmp_path: Path, monkeypatch, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setattr(layers, "build", lambda *a, **k: pytest.fail("built before the credentials"))
    assert cli.main(["deploy", "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert "step 'credentials' failed" in err and "--profile" in err and "--dry-run" in err


def test_a_value_the_stack_refuses_is_named(tmp_path: Path, capsys) -> None:
    cache = stub_layers(tmp_path / "layers")
    options = steps.Options(
        dry_run=True, out=tmp_path / "cdk.out", cache=cache, public_url="http://x.example"
    )
    with pytest.raises(steps.StepFailed) as refused:
        steps.run(options, lambda _: None)
    assert str(refused.value) == (
        "step 'synth' failed: publicUrl 'http://x.example': expected https://host[/path], no trailing '/'"
    )
