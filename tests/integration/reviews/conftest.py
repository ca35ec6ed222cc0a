"""Fixtures of the connector tests: a fresh fake source, a Caller that never sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cxloop.local.fake_source import FakeSource
from services.reviews.adapters.http_client import Urllib3Http
from services.reviews.connectors.limits import Caller


@pytest.fixture
def fake() -> Iterator[FakeSource]:
    with FakeSource() as source:
        yield source


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def caller(sleeps: Sleeps) -> Caller:
    """Real HTTP to the fake, backoff recorded instead of slept, the clock fixed."""
    return Caller(
        Urllib3Http(timeout_s=5), sleep=sleeps, clock=lambda: datetime(2026, 11, 22, 12, tzinfo=UTC)
    )
