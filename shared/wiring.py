"""What a function's container builds once: a service's ``bootstrap`` declares one ``Built`` per
composition, its handlers call it, and tests or the local stack install their own with ``use``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Built(Generic[T]):
    """Built on first call (a Lambda cold start), then the same object for every warm invocation."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None

    def __call__(self) -> T:
        if self._built is None:
            self._built = self._build()
        return self._built

    def use(self, built: T | None) -> None:
        """Install an already-built one (None: build from the environment again on the next call)."""
        self._built = built
