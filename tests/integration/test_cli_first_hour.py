"""What the CLI tells a new owner (issue 17, item 11): `shop add` says what the shop still lacks before
anything is sent or alerted, and `notify show` reads as a summary (`--json` for the document)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxloop.cli import main
from tests.integration.conftest import Stack


def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--state-dir", str(tmp_path), *argv]) == 0
    return capsys.readouterr().out


def test_shop_add_says_nothing_is_sent_and_no_alert_goes_anywhere_yet(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli(capsys, tmp_path, "shop", "add", "blue-kiln", "--platform", "woocommerce", "--name", "Blue")
    assert "No survey goes out until the shop has a survey programme" in out
    assert "cxloop survey set --shop blue-kiln --type nps --sender " in out
    assert "No alert destination yet" in out and "cxloop notify destination --shop blue-kiln" in out

    cli(capsys, tmp_path, "survey", "set", "--shop", "blue-kiln", "--sender", "hi@blue-kiln.example")
    added = cli(
        capsys, tmp_path, "notify", "destination", "--shop", "blue-kiln", "--name", "me", "--email", "o@x.ex"
    )
    assert added.startswith("Alerts for blue-kiln") and "  me " in added  # a change shows the summary too
    shown = cli(capsys, tmp_path, "notify", "show", "--shop", "blue-kiln")
    assert "  me           email  o@x.ex" in shown and " ok" in shown
    assert "  detractor         hourly    NPS 0-6" in shown
    assert "cxloop notify show --shop blue-kiln --json" in shown
    assert len(shown.splitlines()) < 25 and "{" not in shown
    doc = json.loads(cli(capsys, tmp_path, "notify", "show", "--shop", "blue-kiln", "--json"))
    assert doc["settings"]["destinations"][0]["address"] == "o@x.ex"
    assert doc["destinations"]["me"]["broken"] is False


def test_shop_add_with_an_owner_email_says_alerts_go_there(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = cli(capsys, tmp_path, "shop", "add", "red-kiln", "--platform", "woocommerce", "--name", "Red Kiln",
              "--owner-email", "owner@red-kiln.example")  # fmt: skip
    assert "Alerts go to owner@red-kiln.example (the owner's e-mail) until you add a destination" in out
    assert "No alert destination yet" not in out
    shown = cli(capsys, tmp_path, "notify", "show", "--shop", "red-kiln")
    assert "none: alerts go to the owner's e-mail, owner@red-kiln.example" in shown
