"""Churn risk on a real retailer's invoices: the score next to recency alone and the old default.

    .venv/bin/python benchmarks/churn.py [--horizon 90] [--resamples 1000] [--print-weights]

A customer at a cutoff is anyone with a kept order before it; they "churn" when they place no kept
order in the ``horizon`` days after it. At each pair (fit at, evaluate at) the score is fitted at the
first (its horizon ends by the second, so nothing of the evaluation period is seen) and ranked at the
second: ROC AUC and precision among the 5 % and 10 % scored riskiest, with 95 % bootstrap intervals
(customers resampled), next to recency (days since the last order), the committed defaults, and the
score as it was before issue 19 (benchmarks/churn_v1.py: its defaults, and refitted at the same fit
cutoff). The first pairs are the ones the features were chosen on; the last, 2010-09-24 (the last
cutoff whose 90 days the data covers), was held back and measured once (decision 110).
Needs ../shared/data; prints figures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import churn_v1
from cxloop.invoices import read
from services.notifier.domain import churn

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "orders"
    / "online_retail_invoices_2009-12_2010-12.csv.gz"
)
TUNING = [("2010-03-03", "2010-06-01"), ("2010-04-02", "2010-07-01"), ("2010-05-03", "2010-08-01")]
HELD_BACK = ("2010-06-26", "2010-09-24")


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney with average ranks for ties (the same as churn.roc_auc, on numpy for the bootstrap)."""
    order = np.argsort(scores, kind="mergesort")
    ranked = scores[order]
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(ranked, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision(scores: np.ndarray, labels: np.ndarray, share: float) -> float:
    """As churn.precision_at: ties at the cut count in proportion."""
    k = max(1, round(len(scores) * share))
    cut = np.sort(scores)[::-1][k - 1]
    above, tied = scores > cut, scores == cut
    return float((labels[above].sum() + (k - above.sum()) * labels[tied].mean()) / k)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "AUC": auc,
    "p@5%": lambda s, y: precision(s, y, 0.05),
    "p@10%": lambda s, y: precision(s, y, 0.10),
}


def with_interval(scores: np.ndarray, labels: np.ndarray, draws: np.ndarray) -> list[str]:
    cells = []
    for metric in METRICS.values():
        boot = [metric(scores[d], labels[d]) for d in draws]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        cells.append(f"{metric(scores, labels):.3f} [{lo:.3f}-{hi:.3f}]")
    return cells


def old_scores(
    orders: dict[str, list[churn.Order]], keys: list[str], fit_at: datetime, at: datetime, horizon: int
) -> dict[str, np.ndarray]:
    """The pre-issue-19 score: its committed defaults, and refitted at ``fit_at`` (its own fit)."""

    def rows(cutoff: datetime) -> tuple[list[dict[str, float]], list[int]]:
        xs, ys = [], []
        for own in orders.values():
            old = [churn_v1.Order(o.at, o.total, o.cancelled) for o in own]
            x = churn_v1.features(old, cutoff)
            if x:
                xs.append(x)
                ys.append(
                    0
                    if any(not o.cancelled and cutoff <= o.at < cutoff + timedelta(days=horizon) for o in own)
                    else 1
                )
        return xs, ys

    train_x, train_y = rows(fit_at)
    names = [f for f in churn_v1.DEFAULT.weights if f not in ("detractor", "negative_themes", "open_case")]
    refit = churn_v1.fit(train_x, train_y, names=names)
    test = [
        churn_v1.features([churn_v1.Order(o.at, o.total, o.cancelled) for o in orders[k]], at) for k in keys
    ]
    return {
        "old score, refitted at fit-at": np.array([refit.risk(x) for x in test]),
        "old committed default": np.array([churn_v1.DEFAULT.risk(x) for x in test]),
    }


def evaluate(
    orders: dict[str, list[churn.Order]],
    fit_at: datetime,
    at: datetime,
    horizon: int,
    resamples: int,
    seed: int,
) -> None:
    model = churn.fit_at(orders, fit_at, horizon)
    data = churn.labelled(orders, at, horizon, model.pace)
    y = np.array(data.churned)
    scorers = {
        "recency only (baseline)": np.array([x["recency"] for x in data.rows]),
        "cxloop, fitted at fit-at": np.array([model.logit(x) for x in data.rows]),
        "cxloop, committed defaults": np.array(
            [churn.DEFAULT.logit(churn.features(orders[k], at)) for k in data.customers]
        ),
        **old_scores(orders, data.customers, fit_at, at, horizon),
    }
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(resamples, len(y)))
    print(
        f"fit at {fit_at:%Y-%m-%d}, evaluated at {at:%Y-%m-%d}: {len(y)} customers, {y.sum()} churned ({100 * y.mean():.1f} %)"
    )
    print(f"  {'ranker':<32} " + " ".join(f"{m:>21}" for m in METRICS))
    for name, scores in scorers.items():
        print(f"  {name:<32} " + " ".join(f"{c:>21}" for c in with_interval(scores, y, draws)))
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument(
        "--print-weights", action="store_true", help="the weights fitted at the held-back pair's fit cutoff"
    )
    args = parser.parse_args()
    if not Path(args.data).exists():
        print(f"no invoices at {args.data}: this benchmark needs ../shared/data")
        return 0
    orders = read(Path(args.data))
    day = datetime.fromisoformat
    print(
        f"{len(orders)} customers; churn = no kept order in the next {args.horizon} days; 95 % bootstrap intervals over {args.resamples} resamples\n"
    )
    print("== tuning cutoffs (the features and their form were chosen on these) ==")
    for fit_at, at in TUNING:
        evaluate(orders, day(fit_at), day(at), args.horizon, args.resamples, args.seed)
    print("== held-back cutoff (measured once, after the choice) ==")
    evaluate(orders, day(HELD_BACK[0]), day(HELD_BACK[1]), args.horizon, args.resamples, args.seed)
    if args.print_weights:
        model = churn.fit_at(orders, day(HELD_BACK[0]), args.horizon)
        print("pace:", model.pace)
        print("bias", round(model.bias, 3))
        print("weights:", {k: round(v, 3) for k, v in model.weights.items()})
        print("means:", {k: round(v, 3) for k, v in model.means.items()})
        print("scales:", {k: round(v, 3) for k, v in model.scales.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
