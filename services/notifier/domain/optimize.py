"""Nelder-Mead minimisation in pure Python, for the few-parameter likelihoods of the churn score and
the CLTV models (2 to 4 parameters, fitted on log scales): scipy is in none of the notifier's Lambda
layers, and this is all of it they need."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Vector = list[float]


@dataclass(frozen=True)
class Minimum:
    x: tuple[float, ...]
    value: float
    evaluations: int
    converged: bool


def _finite(f: Callable[[Sequence[float]], float]) -> Callable[[Vector], float]:
    def safe(x: Vector) -> float:
        value = float(f(x))
        return value if math.isfinite(value) else math.inf  # NaN → inf

    return safe


def nelder_mead(
    f: Callable[[Sequence[float]], float],
    start: Sequence[float],
    step: float = 0.5,
    tolerance: float = 1e-8,
    max_evaluations: int = 4000,
) -> Minimum:
    """The minimum of ``f`` near ``start`` (standard coefficients 1, 2, ½, ½; a NaN or infinite value
    counts as worse than any finite one, so bounds can be written as ``inf``)."""
    fn = _finite(f)
    n = len(start)
    simplex = [list(map(float, start))]
    for i in range(n):
        point = list(map(float, start))
        point[i] += step
        simplex.append(point)
    values = [fn(p) for p in simplex]
    evaluations = n + 1
    while evaluations < max_evaluations:
        order = sorted(range(n + 1), key=values.__getitem__)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        if abs(values[-1] - values[0]) <= tolerance * (abs(values[0]) + tolerance):
            return Minimum(tuple(simplex[0]), values[0], evaluations, True)
        centroid = [sum(p[j] for p in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]

        def toward(c: float, worst: Vector = worst, centroid: Vector = centroid) -> Vector:
            return [cj + c * (cj - wj) for cj, wj in zip(centroid, worst, strict=True)]

        reflected = toward(1.0)
        fr = fn(reflected)
        evaluations += 1
        if fr < values[0]:
            expanded = toward(2.0)
            fe = fn(expanded)
            evaluations += 1
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = toward(0.5) if fr < values[-1] else toward(-0.5)
            fc = fn(contracted)
            evaluations += 1
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:  # shrink toward the best point
                best = simplex[0]
                simplex = [best] + [
                    [b + 0.5 * (p - b) for b, p in zip(best, q, strict=True)] for q in simplex[1:]
                ]
                values = [values[0]] + [fn(p) for p in simplex[1:]]
                evaluations += n
    lowest = min(range(n + 1), key=values.__getitem__)
    return Minimum(tuple(simplex[lowest]), values[lowest], evaluations, False)
