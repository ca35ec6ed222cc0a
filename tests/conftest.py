"""Shared test set-up: fake AWS credentials (never a real account), tiers by folder, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

TIERS = ("unit", "integration", "e2e", "infra")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if len(parts) > 1 and parts[1] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[1]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per core and one more, because the e2e tests mostly wait (a survey's day, an
    alert's minute, the demo's timeline) and the extra worker keeps the cores busy meanwhile."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's clone): fixture-based test skipped")
    return SHARED


@pytest.fixture(scope="session")
def webhook_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "webhooks"
