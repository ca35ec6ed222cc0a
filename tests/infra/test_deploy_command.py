"""``cxloop deploy``: its steps, the size report against Lambda's limits, a failing step's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop import cli
from cxloop.deploy import artifacts, checklist, layers, steps
from shared import topology
from tests.infra.conftest import stub_layers

pytestmark = pytest.mark.infra
MB = artifacts.MB


def test_dry_run_builds_synthesizes_and_reports_each_function(tmp_path: Path, monkeypatch) -> None:
    """The steps in order, the real synth (stand-in layers), every zip function with its layers; the
    alarm e-mail reaches the template; the checklist closes the output."""
    cache = stub_layers(tmp_path / "layers")
    said: list[str] = []
    out = tmp_path / "cdk.out"
    options = steps.Options(dry_run=True, out=out, cache=cache, alarm_email="ops@shop.example")
    steps.run(options, said.append)
    assert [line.split("]")[0] for line in said if line.startswith("[")] == ["[1/3", "[2/3", "[3/3"]
    assert sum("cached" in line for line in said) == len(layers.all_layers())
    report = "\n".join(said)
    for spec in topology.FUNCTIONS:
        line = next(x for x in said if x.strip().startswith(topology.physical("cxloop", spec.logical) + " "))
        if spec.package == "image":
            assert "container image" in line
        else:
            assert "of 250 unzipped" in line
            assert f"{len(layers.layers_of(spec))} of 5 layers" in line
            for layer in layers.layers_of(spec):
                assert f"cxloop-{layer.name}" in line
    assert "dry run: nothing deployed" in report
    assert said[-len(checklist.STEPS) - 1 :] == checklist.lines(deployed=False)
    assert said[-len(checklist.STEPS) - 1] == "After you deploy:"
    template, _ = artifacts.stack_files(tmp_path / "cdk.out")
    subscriptions = [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"]
    assert [s["Properties"]["Endpoint"] for s in subscriptions] == ["ops@shop.example"]


def test_a_real_deploy_ends_with_the_next_steps(tmp_path: Path, monkeypatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(steps, "account_of", lambda _options: "111122223333")
    monkeypatch.setattr(
        steps, "STEPS", (("synth", lambda o, say: ran.append("synth")), ("sizes", lambda o, say: None))
    )
    monkeypatch.setattr(steps, "cdk_deploy", lambda o, say: ran.append("deploy"))
    said: list[str] = []
    steps.run(steps.Options(region="eu-west-1", out=tmp_path / "cdk.out"), said.append)
    assert ran == ["synth", "deploy"]
    assert said[-len(checklist.STEPS) - 1 :] == checklist.lines(deployed=True)
    assert said[-len(checklist.STEPS) - 1] == "Next steps:"


def test_the_readme_holds_the_same_checklist() -> None:
    """infra/README.md's "After you deploy" is checklist.py's, word for word."""
    assert checklist.section(checklist.README.read_text()) == checklist.markdown(), (
        "infra/README.md's checklist is stale: run `python -m cxloop.deploy.checklist`"
    )
    for step in checklist.STEPS:  # each step names what to do, not only a title
        assert step.how and step.title


@pytest.mark.parametrize("bad", ["ops", "ops@example", "a@x.com,b@x.com", "Ops <ops@example.com>"])
def test_a_bad_alarm_email_is_refused_before_anything_runs(bad: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(steps, "run", lambda *_a, **_k: pytest.fail("ran with a bad --alarm-email"))
    with pytest.raises(SystemExit):
        cli.main(["deploy", "--dry-run", "--alarm-email", bad])
    err = capsys.readouterr().err
    assert "--alarm-email" in err and "is not one e-mail address" in err and "ops@example.com" in err


def test_limits_are_named_with_their_figures() -> None:
    big = artifacts.Artifact("layer cxloop-charts", Path("x.zip"), 200 * MB, 60 * MB)
    code = artifacts.Artifact("code", Path("code"), 60 * MB, 10 * MB)
    package = artifacts.FunctionPackage("cxloop-daily", "h.handler", code, (big,) * 6)
    problems = package.problems()
    assert any("> 250 MB" in p for p in problems)
    assert any("6 layers > 5" in p for p in problems)
    assert any("layer cxloop-charts is 60.0 MB zipped > 50 MB" in p for p in problems)
    assert artifacts.FunctionPackage("img", "(image)", None, ()).problems() == []


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
