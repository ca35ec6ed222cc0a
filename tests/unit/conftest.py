"""Fixtures of the unit tier: the fakes wired into the use cases, and the ../shared sample payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.support import World

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ABSENT = "../shared is absent (a user's clone): fixture-based test skipped"


@pytest.fixture(scope="session")
def webhooks_dir() -> Path:
    folder = SHARED / "fixtures" / "webhooks"
    if not folder.is_dir():
        pytest.skip(ABSENT)
    return folder


@pytest.fixture(scope="session")
def load_fixture(webhooks_dir: Path):
    def load(name: str) -> Any:
        return json.loads((webhooks_dir / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def fixture_bytes(webhooks_dir: Path):
    def read(name: str) -> bytes:
        return (webhooks_dir / name).read_bytes()

    return read


@pytest.fixture
def world() -> World:
    return World()
