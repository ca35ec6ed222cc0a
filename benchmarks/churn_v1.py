"""The churn score as it was before issue 19 (features with "last year" windows, weights fitted at
2010-05-01), kept only so that benchmarks/churn.py can print it next to the new one.

Churn risk: a transparent score per customer from order history and feedback.

Each customer is described by a handful of named features at a point in time; the risk is a logistic
function of their weighted sum, so every score comes with its reasons (the features that pushed it
up most). The weights are fitted on a shop's own history where it has enough (``fit``), starting
from defaults fitted on a real retailer's invoices (benchmarks/churn.py shows how well they rank).
Pure Python: no numpy in the notifier's Lambda.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

YEAR = timedelta(days=365)
FEATURES = (
    "recency",  # log(1 + days since the last order)
    "overdue",  # days since the last order over the customer's usual gap between orders (capped)
    "orders_year",  # log(1 + orders in the last year)
    "spend_year",  # log(1 + spend in the last year)
    "tenure",  # log(1 + days since the first order)
    "cancelled_share",  # share of the last year's orders that were cancelled
    "detractor",  # the last survey score was a detractor (NPS 0-6, CSAT 1-2, CES 5-7)
    "negative_themes",  # negative themes in the customer's feedback of the last year (capped at 3)
    "open_case",  # an unresolved case
)
OVERDUE_CAP = 10.0


@dataclass(frozen=True)
class Order:
    at: datetime
    total: float
    cancelled: bool = False


@dataclass(frozen=True)
class Feedback:
    last_detractor: bool = False
    negative_themes: int = 0
    open_case: bool = False


def features(orders: Sequence[Order], as_of: datetime, feedback: Feedback | None = None) -> dict[str, float]:
    """The customer at ``as_of`` (only orders before it count). A customer with no order yet: {}."""
    placed = sorted(o.at for o in orders if not o.cancelled and o.at < as_of)
    if not placed:
        return {}
    last_year = [o for o in orders if as_of - YEAR <= o.at < as_of]
    kept = [o for o in last_year if not o.cancelled]
    days_since = (as_of - placed[-1]).total_seconds() / 86400
    gaps = [(b - a).total_seconds() / 86400 for a, b in itertools.pairwise(placed)]
    usual = statistics.median(gaps) if gaps else 90.0  # one order: assume a quarter
    fb = feedback or Feedback()
    return {
        "recency": math.log1p(days_since),
        "overdue": min(OVERDUE_CAP, days_since / max(usual, 1.0)),
        "orders_year": math.log1p(len(kept)),
        "spend_year": math.log1p(max(0.0, sum(o.total for o in kept))),
        "tenure": math.log1p((as_of - placed[0]).total_seconds() / 86400),
        "cancelled_share": (len(last_year) - len(kept)) / len(last_year) if last_year else 0.0,
        "detractor": float(fb.last_detractor),
        "negative_themes": float(min(3, fb.negative_themes)),
        "open_case": float(fb.open_case),
    }


@dataclass(frozen=True)
class Model:
    """risk = sigmoid(bias + Σ weight·(x - mean)/scale): standardised so weights compare."""

    bias: float
    weights: Mapping[str, float]
    means: Mapping[str, float] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=dict)

    def _z(self, name: str, value: float) -> float:
        return (value - self.means.get(name, 0.0)) / (self.scales.get(name, 1.0) or 1.0)

    def risk(self, x: Mapping[str, float]) -> float:
        total = self.bias + sum(w * self._z(n, x.get(n, 0.0)) for n, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))

    def reasons(self, x: Mapping[str, float], top: int = 3) -> list[str]:
        """The features that raise this customer's risk most, as an owner reads them."""
        pushes = sorted(((w * self._z(n, x.get(n, 0.0)), n) for n, w in self.weights.items()), reverse=True)
        return [REASONS[n][0 if self._z(n, x.get(n, 0.0)) > 0 else 1] for push, n in pushes[:top] if push > 0]


# (when the value is above most customers', when below): the reason a feature raises the risk.
REASONS = {
    "recency": ("a long time since the last order", "an order only days ago"),
    "overdue": ("later than their usual reorder interval", "ordering sooner than usual"),
    "orders_year": ("many orders in the last year", "few orders in the last year"),
    "spend_year": ("high spend in the last year", "low spend in the last year"),
    "tenure": ("a customer for a long time", "a new customer"),
    "cancelled_share": ("cancelled orders", "no cancelled orders"),
    "detractor": ("their last survey score was low", "no low survey score"),
    "negative_themes": ("complaints in their feedback", "no complaints"),
    "open_case": ("an unresolved case", "no open case"),
}

# Fitted on the shared invoices (features at 2010-05-01, churn = no order in the next 90 days) by
# `benchmarks/churn.py --print-weights`. The feedback features have no labelled data here: their
# weights are set by hand, on 0/1 (or 0-3) values, and a shop's own history refits them (``fit``).
DEFAULT = Model(
    bias=-0.238,
    weights={
        "recency": -0.056,
        "overdue": 0.266,
        "orders_year": -0.844,
        "spend_year": -0.417,
        "tenure": 0.044,
        "cancelled_share": -0.161,
        "detractor": 0.5,
        "negative_themes": 0.3,
        "open_case": 0.4,
    },
    means={
        "recency": 3.476,
        "overdue": 1.422,
        "orders_year": 1.094,
        "spend_year": 6.244,
        "tenure": 4.302,
        "cancelled_share": 0.121,
    },
    scales={
        "recency": 1.159,
        "overdue": 2.311,
        "orders_year": 0.525,
        "spend_year": 1.164,
        "tenure": 0.873,
        "cancelled_share": 0.193,
    },
)


def fit(rows: Sequence[Mapping[str, float]], labels: Sequence[int], epochs: int = 300, rate: float = 0.5,
        l2: float = 1e-3, names: Iterable[str] = FEATURES) -> Model:  # fmt: skip
    """Logistic regression by full-batch gradient descent on standardised features."""
    cols = list(names)
    means = {c: statistics.fmean(r.get(c, 0.0) for r in rows) for c in cols}
    scales = {c: statistics.pstdev([r.get(c, 0.0) for r in rows]) or 1.0 for c in cols}
    z = [[(r.get(c, 0.0) - means[c]) / scales[c] for c in cols] for r in rows]
    w, b, n = [0.0] * len(cols), 0.0, len(rows)
    for _ in range(epochs):
        grad_w, grad_b = [0.0] * len(cols), 0.0
        for xi, yi in zip(z, labels, strict=True):
            p = 1.0 / (
                1.0 + math.exp(-max(-30.0, min(30.0, b + sum(wj * xj for wj, xj in zip(w, xi, strict=True)))))
            )
            err = p - yi
            grad_b += err
            for j, xj in enumerate(xi):
                grad_w[j] += err * xj
        b -= rate * grad_b / n
        w = [wj - rate * (gj / n + l2 * wj) for wj, gj in zip(w, grad_w, strict=True)]
    return Model(bias=b, weights=dict(zip(cols, w, strict=True)), means=means, scales=scales)
