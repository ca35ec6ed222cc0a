"""CLTV: the special functions against exact values, BG/NBD and Gamma-Gamma fitted on customers drawn
from known parameters (recovered within tolerance), and BG/NBD's expected purchases against the
published CDNOW example and against what the simulated customers then did."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from services.notifier.domain.churn import Order
from services.notifier.domain.cltv import (
    BgNbd,
    GammaGamma,
    fit_bgnbd,
    fit_gamma_gamma,
    gammaln,
    hyp2f1,
    rfm,
    values,
)

TRUE = BgNbd(r=0.8, alpha=20.0, a=0.6, b=2.5)


def test_gammaln_matches_the_standard_library() -> None:
    xs = np.array([1e-4, 0.01, 0.3, 0.5, 0.7, 1.0, 2.5, 10.0, 123.4, 1e4])
    assert np.allclose(gammaln(xs), [math.lgamma(x) for x in xs], rtol=1e-12, atol=1e-12)


def test_hyp2f1_matches_closed_forms() -> None:
    z = np.array([0.0, 0.3, 0.9])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_form = np.where(z > 0, -np.log1p(-z) / z, 1.0)
    assert np.allclose(hyp2f1(1.0, 1.0, 2.0, z), log_form)  # 2F1(1,1;2;z) = -log(1-z)/z
    assert np.allclose(hyp2f1(2.5, 0.7, 0.7, z), (1 - z) ** -2.5)  # 2F1(a,b;b;z) = (1-z)^-a


def test_expected_purchases_of_the_published_cdnow_customer() -> None:
    """Fader, Hardie & Lee (2005): with the CDNOW estimates, a customer with 2 repeat purchases, the last
    at week 30.43 of 38.86, is expected to make 1.226 purchases in the next 39 weeks."""
    cdnow = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    one = np.array
    assert cdnow.expected(39, one([2.0]), one([30.43]), one([38.86]))[0] == pytest.approx(1.226, abs=5e-4)


def test_a_new_customer_expects_the_unconditional_count() -> None:
    """At T = 0 the conditional expectation is BG/NBD's E[X(t)] (the paper's eq. 9)."""
    r, alpha, a, b, t = TRUE.r, TRUE.alpha, TRUE.a, TRUE.b, 30.0
    direct = (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    zero = np.zeros(1)
    assert TRUE.expected(t, zero, zero, zero)[0] == pytest.approx(float(direct[()]), rel=1e-9)


def simulate(n: int, seed: int, holdout: float) -> tuple[np.ndarray, ...]:
    """Customers of ``TRUE``, each watched for T in [30, 60] then ``holdout`` more: (x, t_x, T, later)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rate, leave = rng.gamma(TRUE.r, 1 / TRUE.alpha), rng.beta(TRUE.a, TRUE.b)
        age = rng.uniform(30, 60)
        x, last, later, t = 0, 0.0, 0, 0.0
        while True:
            t += rng.exponential(1 / rate)
            if t > age + holdout:
                break
            if t <= age:
                x, last = x + 1, t
            else:
                later += 1
            if rng.random() < leave:
                break
        rows.append((x, last, age, later))
    return tuple(np.array(c, dtype=float) for c in zip(*rows, strict=True))


def test_bgnbd_recovers_known_parameters_and_predicts_the_holdout() -> None:
    x, t_x, T, later = simulate(6000, seed=1, holdout=40.0)
    fitted = fit_bgnbd(x, t_x, T)
    assert fitted.r == pytest.approx(TRUE.r, rel=0.15)
    assert fitted.alpha == pytest.approx(TRUE.alpha, rel=0.2)
    assert fitted.a == pytest.approx(TRUE.a, rel=0.3)
    assert fitted.b == pytest.approx(TRUE.b, rel=0.35)
    expected = fitted.expected(40.0, x, t_x, T)
    assert expected.sum() == pytest.approx(later.sum(), rel=0.08)
    # the customers expected to buy more did (by repeat-count groups)
    for k in (0, 1, 2):
        group = x == k
        assert expected[group].mean() == pytest.approx(later[group].mean(), rel=0.2, abs=0.05)


def test_gamma_gamma_recovers_known_parameters() -> None:
    p, q, v = 6.0, 4.0, 15.0
    rng = np.random.default_rng(2)
    x = rng.integers(1, 8, size=5000).astype(float)
    nu = rng.gamma(q, 1 / v, size=x.size)
    m = np.array([rng.gamma(p, 1 / n, size=int(k)).mean() for n, k in zip(nu, x, strict=True)])
    fitted = fit_gamma_gamma(x, m)
    assert fitted.p == pytest.approx(p, rel=0.15)
    assert fitted.q == pytest.approx(q, rel=0.2)
    assert fitted.v == pytest.approx(v, rel=0.25)
    # the shop's mean spend per purchase: p v / (q - 1) = 30
    assert fitted.p * fitted.v / (fitted.q - 1) == pytest.approx(30.0, rel=0.05)


def test_spend_is_shrunk_toward_the_shop_mean_the_less_it_rests_on() -> None:
    g = GammaGamma(p=6.0, q=4.0, v=15.0)  # shop mean 30
    few, many = g.expected_spend(np.array([1.0, 50.0]), np.array([90.0, 90.0]))
    assert 30.0 < few < many < 90.0
    assert g.expected_spend(np.array([1.0]), np.array([30.0]))[0] == pytest.approx(30.0)


def test_values_from_orders() -> None:
    at = datetime(2026, 1, 1)
    orders = {
        "a": [Order(at - timedelta(days=100), 40.0), Order(at - timedelta(days=100, hours=-3), 10.0),
              Order(at - timedelta(days=50), 30.0), Order(at - timedelta(days=49), -5.0, cancelled=True),
              Order(at - timedelta(days=10), 70.0)],
        "b": [Order(at - timedelta(days=20), 25.0)],
        "later": [Order(at + timedelta(days=1), 99.0)],
    }  # fmt: skip
    data = rfm(orders, at)
    assert data.keys == ["a", "b"]
    assert list(data.x) == [2.0, 0.0] and list(data.m) == [50.0, 0.0]  # days 50 and 10: 30 and 70
    assert data.t_x[0] == pytest.approx(90.0) and data.T[0] == pytest.approx(100.0)
    assert list(data.spent) == [145.0, 25.0]
    v = values(data, TRUE, GammaGamma(6.0, 4.0, 15.0), horizon_days=365)
    assert v.predicted[1] == pytest.approx(v.purchases[1] * 30.0)
    assert np.all(v.predicted > 0) and v.p_alive[1] == 1.0


def test_the_series_in_logs_matches_the_plain_one_and_stays_finite_where_it_overflows() -> None:
    from services.notifier.domain.cltv import scaled_hyp2f1

    a, b, c, z = np.array([3.0, 40.0]), np.array([2.0, 9.0]), np.array([5.0, 45.0]), np.array([0.3, 0.6])
    scale = np.array([-1.5, -4.0])
    assert np.allclose(scaled_hyp2f1(a, b, c, z, scale), np.exp(scale) * hyp2f1(a, b, c, z), rtol=1e-10)
    # A shop whose customers all leave at about the same rate: a and b in the thousands.
    flat = BgNbd(r=0.44, alpha=28.0, a=1900.0, b=7900.0)
    x, t_x, T = np.array([0.0, 2.0, 5.0]), np.array([0.0, 71.0, 200.0]), np.array([22.5, 94.5, 290.5])
    with np.errstate(over="ignore", invalid="ignore"):
        plain = (1 - 0.75) ** 1899 * hyp2f1(9799.56, 1899.0, 9801.0, 0.75)
    assert not np.isfinite(plain)  # what the plain series gives
    expected = flat.expected(365.0, x, t_x, T)
    assert np.all(np.isfinite(expected)) and np.all(expected > 0)
    # p ≈ a / (a + b) = 0.19 is almost fixed: close to a geometric number of purchases at the rate r / alpha,
    # so a year's expectation is below the rate's 365 · (r + x) / (alpha + T) and above a tenth of it
    rate = 365.0 * (0.44 + x) / (28.0 + T)
    assert np.all(expected < rate) and np.all(expected > rate / 10)
