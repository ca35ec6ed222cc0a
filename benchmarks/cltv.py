"""Customer lifetime value on a real retailer's invoices: BG/NBD + Gamma-Gamma next to naive baselines.

    .venv/bin/python benchmarks/cltv.py

For each (cutoff, period) the models are fitted on the orders before the cutoff only
(services/notifier/domain/cltv.py) and predict each customer's spend in the period after it; the
customers are everyone with a kept order before the cutoff, the actual value their net spend (orders
less cancellations) in the period. Printed in the same run next to two baselines: each customer's
spend in the period of the same length before the cutoff ("last period"), and the cohort's mean of
that for everyone ("cohort mean"). Metrics: mean absolute error, Spearman's rank correlation of
predicted and actual spend, and the share of the period's revenue that came from the 10 % of customers
predicted highest. Needs ../shared/data; prints figures.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.churn import DATA
from cxloop.invoices import read
from services.notifier.domain import cltv
from services.notifier.domain.churn import Order

# The data ends 2010-12-23: each period ends by then.
PERIODS = [("2010-03-26", 90), ("2010-06-24", 182), ("2010-09-24", 90)]


def ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    _, first, counts = np.unique(v[order], return_index=True, return_counts=True)
    out = np.empty(len(v))
    out[order] = np.repeat(first + (counts + 1) / 2, counts)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.all(a == a[0]):
        return float("nan")  # a constant prediction ranks nobody
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def top_share(predicted: np.ndarray, actual: np.ndarray, share: float = 0.1) -> float:
    """The period's revenue from the ``share`` predicted highest (a tie at the cut shared in proportion)."""
    k = max(1, round(len(predicted) * share))
    cut = np.sort(predicted)[::-1][k - 1]
    above, tied = predicted > cut, predicted == cut
    captured = actual[above].sum() + (k - above.sum()) * actual[tied].mean()
    return float(captured / actual.sum())


def spend(orders: dict[str, list[Order]], keys: list[str], start: datetime, end: datetime) -> np.ndarray:
    return np.array([sum(o.total for o in orders[k] if start <= o.at < end) for k in keys])


def main() -> int:
    if not DATA.exists():
        print(f"no invoices at {DATA}: this benchmark needs ../shared/data")
        return 0
    orders = read(DATA)
    for cutoff, days in PERIODS:
        at, period = datetime.fromisoformat(cutoff), timedelta(days=days)
        data = cltv.rfm(orders, at)
        buying = cltv.fit_bgnbd(data.x, data.t_x, data.T)
        spending = cltv.fit_gamma_gamma(data.x, data.m)
        value = cltv.values(data, buying, spending, horizon_days=days)
        actual = spend(orders, data.keys, at, at + period)
        last = spend(orders, data.keys, at - period, at)
        print(
            f"fitted on orders before {at:%Y-%m-%d}, predicting the next {days} days: {len(data.keys)} customers, "
            f"{data.spent.sum():,.0f} spent to date, {actual.sum():,.0f} in the period"
        )
        print(f"  BG/NBD r={buying.r:.3f} alpha={buying.alpha:.2f} a={buying.a:.4f} b={buying.b:.3f}; "
              f"Gamma-Gamma p={spending.p:.3f} q={spending.q:.3f} v={spending.v:.1f}; "
              f"predicted total {value.predicted.sum():,.0f}")  # fmt: skip
        print(f"  {'predictor':<26} {'MAE':>10} {'Spearman':>9} {'top-10% share':>14}")
        for name, predicted in (
            ("BG/NBD + Gamma-Gamma", value.predicted),
            ("last period's spend", last),
            ("cohort mean", np.full(len(last), last.mean())),
        ):
            mae = float(np.mean(np.abs(predicted - actual)))
            print(
                f"  {name:<26} {mae:>10.1f} {spearman(predicted, actual):>9.3f} {top_share(predicted, actual):>14.3f}"
            )
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
