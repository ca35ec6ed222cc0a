"""The pure-Python Nelder-Mead the churn and CLTV likelihoods are fitted with."""

from __future__ import annotations

import math

import pytest

from services.notifier.domain.optimize import nelder_mead


def test_finds_the_rosenbrock_minimum() -> None:
    found = nelder_mead(
        lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2, [-1.2, 1.0], tolerance=1e-14
    )
    assert found.converged and found.x == pytest.approx((1.0, 1.0), abs=1e-4)


def test_an_infinite_or_nan_value_is_a_wall() -> None:
    """Bounds written as inf (and a NaN from a log of a negative) steer the simplex back."""

    def bounded(v: tuple[float, ...] | list[float]) -> float:
        return math.inf if v[0] < 2 else (v[0] - 1) ** 2 if v[0] < 10 else math.nan

    found = nelder_mead(bounded, [5.0])
    assert found.x[0] == pytest.approx(2.0, abs=1e-3)


def test_gives_up_after_its_budget_and_says_so() -> None:
    found = nelder_mead(lambda v: sum(x * x for x in v), [3.0] * 6, max_evaluations=20)
    assert not found.converged and found.evaluations >= 20
