"""Customer lifetime value: what each customer has spent to date, and what they will likely spend in
the next year, from BG/NBD (how often they buy, and the chance they have quietly left) and Gamma-Gamma
(how much they spend when they do): Fader, Hardie & Lee, "Counting your customers the easy way"
(Marketing Science, 2005) and "RFM and CLV" (Journal of Marketing Research, 2005).

The likelihoods are written on numpy (log-gamma by Lanczos' approximation, the Gaussian hypergeometric
function by its series) and fitted with the pure-Python Nelder-Mead of ``optimize``: no scipy, which
is in none of the Lambda layers, and no lifetimes / pymc-marketing (decision 111). numpy is in the
daily function's layer only, so this module is for the daily run and the command line, never the
API's Lambdas (tests/infra/test_layers.py checks what each handler imports).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from services.notifier.domain.churn import DAY, Order
from services.notifier.domain.optimize import nelder_mead

Array = npt.NDArray[np.float64]
BOUND = 9.0  # parameters are fitted as logs within ±9 (1e-4 .. 8e3): a flat likelihood stays finite
_LANCZOS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)


def gammaln(x: npt.ArrayLike) -> Array:
    """log Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits)."""
    x = np.asarray(x, dtype=float)
    small = x < 0.5
    z = np.where(small, 1.0 - x, x) - 1.0
    series = np.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        series = series + c / (z + i)
    t = z + 7.5
    large = 0.5 * math.log(2 * math.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
    # reflection for x < 1/2: Γ(x) Γ(1 - x) = π / sin(πx)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflected = math.log(math.pi) - np.log(np.abs(np.sin(math.pi * x))) - large
    return np.where(small, reflected, large)


def hyp2f1(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike) -> Array:
    """The Gaussian hypergeometric ₂F₁(a, b; c; z) by its series, for 0 ≤ z < 1 (callers transform it
    so that the terms shrink from the start)."""
    a, b, c, z = (np.asarray(v, dtype=float) for v in (a, b, c, z))
    term = np.ones(np.broadcast(a, b, c, z).shape)
    total = term.copy()
    for k in range(10_000):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total = total + term
        if np.all((np.abs(term) <= 1e-14 * np.abs(total)) | ~np.isfinite(total)):
            break  # converged, or overflowed (``scaled_hyp2f1`` sums those in logs)
    return total


def scaled_hyp2f1(
    a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike, log_scale: npt.ArrayLike
) -> Array:
    """exp(log_scale) · ₂F₁(a, b; c; z) summed in logs, for positive a, b, c and 0 < z < 1 (NaN
    elsewhere). For large parameters (a shop whose customers all leave at about the same rate fits a
    and b in the thousands) the series' terms rise past a float's range before they fall, while the
    scale that multiplies them falls below it; in logs the product stays finite."""
    a, b, c, z, log_scale = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (a, b, c, z, log_scale))
    )
    ok = (a > 0) & (b > 0) & (c > 0) & (z > 0) & (z < 1)
    a, b, c = (np.where(ok, v, 1.0) for v in (a, b, c))
    log_z = np.log(np.where(ok, z, 0.5))
    term = log_scale.copy()
    total = term.copy()
    for k in range(200_000):
        term = term + np.log(a + k) + np.log(b + k) - np.log(c + k) - math.log(k + 1) + log_z
        total = np.logaddexp(total, term)
        if np.all(term < total - 35):  # past the peak: the rest adds less than 1e-15 of it
            break
    return np.where(ok, np.exp(total), np.nan)


@dataclass(frozen=True)
class Rfm:
    """Customers in BG/NBD's terms: repeat buying days ``x``, the last ``t_x`` days after the first,
    observed ``T`` days; ``m`` the mean spend of the repeat days (0 without one); ``spent`` to date."""

    keys: list[str]
    x: Array
    t_x: Array
    T: Array
    m: Array
    spent: Array


def rfm(orders: Mapping[str, Sequence[Order]], as_of: datetime) -> Rfm:
    """Every customer with a kept order before ``as_of``; a day's orders are one purchase (their sum,
    less that day's cancellations, is its spend). ``spent`` is every order's total, net of cancellations."""
    keys, rows = [], []
    for key, own in orders.items():
        before = [o for o in own if o.at < as_of]
        days: dict[object, float] = {}
        for o in sorted(before, key=lambda o: o.at):
            if not o.cancelled:
                days.setdefault(o.at.date(), 0.0)
        if not days:
            continue
        for o in before:
            if o.at.date() in days:
                days[o.at.date()] += o.total
        kept = sorted(o.at for o in before if not o.cancelled)
        repeats = list(days.values())[1:]
        keys.append(key)
        rows.append(
            (
                len(repeats),
                (kept[-1] - kept[0]).total_seconds() / DAY,
                (as_of - kept[0]).total_seconds() / DAY,
                sum(repeats) / len(repeats) if repeats else 0.0,
                sum(o.total for o in before),
            )
        )
    columns = np.array(rows, dtype=float).reshape(-1, 5).T
    return Rfm(keys, *columns)


@dataclass(frozen=True)
class BgNbd:
    """Buying at rate lambda ~ gamma(shape r, rate alpha) while alive; after each purchase leaving
    with probability p ~ beta(a, b). Time in days."""

    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        head = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
        beta = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        alive = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore"):
            left = np.where(
                x > 0,
                math.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return np.asarray(head + beta + np.logaddexp(alive, left))

    def p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        """The chance the customer has not left (1 for one without a repeat purchase, as in BG/NBD)."""
        log_odds = np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-300))
        log_odds = log_odds + (self.r + x) * np.log((self.alpha + T) / (self.alpha + t_x))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700.0))), 1.0)

    def expected(self, t: float, x: Array, t_x: Array, T: Array) -> Array:
        """Expected purchases in the next ``t`` days (Fader, Hardie & Lee 2005, eq. 10), with ₂F₁ in its
        Euler form so that the series converges from its first term."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        c = a + b + x - 1
        with np.errstate(over="ignore", invalid="ignore"):
            tail = np.asarray((1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z))
        lost = ~np.isfinite(tail)
        if np.any(lost):  # the series overflowed: the same sum in logs
            sub = np.broadcast_to(c, tail.shape)[lost], np.broadcast_to(z, tail.shape)[lost]
            tail = tail.copy()
            # customers share (x, T) often (whole days): each distinct pair is summed once
            pairs, back = np.unique(np.stack(sub), axis=1, return_inverse=True)
            summed = scaled_hyp2f1(a + b - 1 - r, a - 1, pairs[0], pairs[1], (a - 1) * np.log1p(-pairs[1]))
            tail[lost] = summed[back.reshape(-1)]
        bought = c / (a - 1) * (1 - tail)
        odds = np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
        )
        return np.asarray(bought / (1 + odds))


def fit_bgnbd(x: Array, t_x: Array, T: Array) -> BgNbd:
    """Maximum likelihood (in log parameters, within ±``BOUND``)."""

    def nll(q: Sequence[float]) -> float:
        if max(abs(v) for v in q) > BOUND:
            return math.inf
        return -float(np.sum(BgNbd(*(math.exp(v) for v in q)).log_likelihood(x, t_x, T)))

    start = [math.log(0.5), math.log(max(1.0, float(np.mean(T)) / 4)), math.log(0.5), math.log(2.0)]
    best = nelder_mead(nll, start, max_evaluations=6000)
    best = nelder_mead(nll, best.x, step=0.1, max_evaluations=3000)  # a restart, against a stalled simplex
    return BgNbd(*(math.exp(v) for v in best.x))


@dataclass(frozen=True)
class GammaGamma:
    """Spend per purchase ~ gamma(shape p, rate nu) around each customer's own mean p / nu, and
    nu ~ gamma(shape q, rate v) across customers."""

    p: float
    q: float
    v: float

    def log_likelihood(self, x: Array, m: Array) -> Array:
        p, q, v = self.p, self.q, self.v
        px = p * x
        return np.asarray(
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * math.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + m * x)
        )  # fmt: skip

    def expected_spend(self, x: Array, m: Array) -> Array:
        """The mean spend of a customer's future purchases: their own mean shrunk toward the shop's
        (p v / (q - 1)) the fewer purchases it rests on."""
        return np.asarray(self.p * (self.v + m * x) / (self.p * x + self.q - 1))


def fit_gamma_gamma(x: Array, m: Array) -> GammaGamma:
    """Maximum likelihood on customers with a repeat purchase and a positive mean spend."""
    use = (x > 0) & (m > 0)
    xs, ms = x[use], m[use]

    def nll(q: Sequence[float]) -> float:
        if max(abs(v) for v in q) > BOUND or math.exp(q[1]) <= 1.0:
            return math.inf
        return -float(np.sum(GammaGamma(*(math.exp(v) for v in q)).log_likelihood(xs, ms)))

    start = [math.log(2.0), math.log(3.0), math.log(max(1.0, float(np.mean(ms))))]
    best = nelder_mead(nll, start, max_evaluations=4000)
    best = nelder_mead(nll, best.x, step=0.1, max_evaluations=2000)
    return GammaGamma(*(math.exp(v) for v in best.x))


@dataclass(frozen=True)
class Values:
    keys: list[str]
    to_date: Array  # spent so far, net of cancellations
    purchases: Array  # expected purchase days in the horizon
    spend_per_purchase: Array
    predicted: Array  # expected spend in the horizon (undiscounted)
    p_alive: Array


def values(data: Rfm, buying: BgNbd, spending: GammaGamma, horizon_days: float = 365.0) -> Values:
    """Each customer's value to date and over the next ``horizon_days``. A customer without a repeat
    purchase is expected to spend the shop's mean per purchase."""
    purchases = buying.expected(horizon_days, data.x, data.t_x, data.T)
    mean_spend = np.full_like(data.x, spending.p * spending.v / (spending.q - 1))
    has = (data.x > 0) & (data.m > 0)
    mean_spend[has] = spending.expected_spend(data.x[has], data.m[has])
    return Values(
        data.keys,
        data.spent,
        purchases,
        mean_spend,
        purchases * mean_spend,
        buying.p_alive(data.x, data.t_x, data.T),
    )
