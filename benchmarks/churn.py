"""Churn risk on a real retailer's invoices: our score next to a recency-only baseline.

    .venv/bin/python benchmarks/churn.py [--fit-at 2010-05-01] [--eval-at 2010-09-01] [--horizon 90] [--print-weights]

A customer at a cutoff is anyone with an order before it; they "churn" when they place no order in
the ``horizon`` days after it. Features come from orders before the cutoff only
(services/notifier/domain/churn.py). The model is fitted at ``--fit-at`` (its horizon ends before
``--eval-at``, so nothing of the evaluation period is seen) and evaluated at ``--eval-at``:
ROC AUC and precision among the 10 % scored riskiest, next to the baseline that ranks by days since
the last order, and next to the committed default weights. Needs ../shared/data; prints figures.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.notifier.domain.churn import DEFAULT, Order, features, fit, precision_at, roc_auc

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "orders"
    / "online_retail_invoices_2009-12_2010-12.csv.gz"
)


def load(path: Path) -> dict[str, list[Order]]:
    by_customer: dict[str, list[Order]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_customer[row["customer_id"]].append(
                Order(
                    datetime.fromisoformat(row["invoice_date"]),
                    float(row["total"]),
                    row["cancelled"] == "true",
                )
            )
    return by_customer


def dataset(
    customers: dict[str, list[Order]], cutoff: datetime, horizon: timedelta
) -> tuple[list[dict[str, float]], list[int]]:
    rows, labels = [], []
    for orders in customers.values():
        x = features(orders, cutoff)
        if not x:
            continue
        bought = any(not o.cancelled and cutoff <= o.at < cutoff + horizon for o in orders)
        rows.append(x)
        labels.append(0 if bought else 1)
    return rows, labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-at", default="2010-05-01")
    parser.add_argument("--eval-at", default="2010-09-01")
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--print-weights", action="store_true")
    args = parser.parse_args()
    if not Path(args.data).exists():
        print(f"no invoices at {args.data}: this benchmark needs ../shared/data")
        return 0
    customers = load(Path(args.data))
    horizon = timedelta(days=args.horizon)
    fit_at, eval_at = datetime.fromisoformat(args.fit_at), datetime.fromisoformat(args.eval_at)
    if fit_at + horizon > eval_at:
        raise SystemExit("--fit-at plus the horizon must end before --eval-at")
    train_x, train_y = dataset(customers, fit_at, horizon)
    test_x, test_y = dataset(customers, eval_at, horizon)
    order_features = [f for f in DEFAULT.weights if f not in ("detractor", "negative_themes", "open_case")]
    model = fit(train_x, train_y, names=order_features)
    print(
        f"{len(customers)} customers; fitted at {fit_at:%Y-%m-%d} on {len(train_x)} ({sum(train_y)} churned), "
        f"evaluated at {eval_at:%Y-%m-%d} on {len(test_x)} ({sum(test_y)} churned, {100 * sum(test_y) / len(test_y):.1f} %), "
        f"churn = no order in the next {args.horizon} days\n"
    )
    scorers = {
        "recency only (baseline)": [x["recency"] for x in test_x],
        "our score, fitted weights": [model.risk(x) for x in test_x],
        "our score, committed defaults": [DEFAULT.risk(x) for x in test_x],
    }
    print(f"{'ranker':<32} {'ROC AUC':>8} {'precision@10%':>14}")
    for name, scores in scorers.items():
        print(f"{name:<32} {roc_auc(scores, test_y):>8.3f} {precision_at(scores, test_y):>14.3f}")
    if args.print_weights:
        print(
            "\nfitted (standardised) weights:",
            {k: round(v, 3) for k, v in model.weights.items()},
            "bias",
            round(model.bias, 3),
        )
        print("means:", {k: round(v, 3) for k, v in model.means.items()})
        print("scales:", {k: round(v, 3) for k, v in model.scales.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
