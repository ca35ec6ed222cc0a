"""The shop's customer lifetime values, fitted by the daily run (decision 125): BG/NBD and Gamma-Gamma
(``cltv``) on the same order history the churn score reads, in the shop's main currency, and each
customer's value to date and predicted for the next 12 months.

Imports numpy (through ``cltv``): only the daily function has it (the charts layer). The API and the
events functions read the stored values (``ValueRun`` on the risk run, the values on each customer,
the sums in the retention snapshot) and never import this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time

import numpy as np

from services.notifier.domain import cltv, retention
from services.notifier.domain.churn import Order
from services.notifier.domain.ports import Customer, CustomerValue, NotifierStore, ValueRun

HORIZON_DAYS = 365.0
MIN_REPEATERS = 20  # customers with a repeat purchase: fewer, and the fit says more about the start values


@dataclass(frozen=True)
class Fitted:
    """Either ``values`` per customer key (to date, next 12 months) or the ``reason`` there are none."""

    run: ValueRun
    values: dict[str, CustomerValue] = field(default_factory=dict)


def _orders(h: retention.History) -> list[Order]:
    # One order per purchase day (retention's histories already sum a day, in the main currency).
    return [Order(datetime.combine(p.day, time(12), tzinfo=UTC), p.total) for p in h.purchases]


def estimate(customers: Sequence[Customer], now: datetime) -> Fitted:
    """Fit the shop's two models on its customers' kept orders before ``now`` and value everyone; a
    reason instead when the shop has too few repeat buyers or the fit gives no finite answer."""
    currency = retention.main_currency(customers, now)
    people = retention.histories(customers, now, currency)
    repeaters = sum(len(h.purchases) >= 2 for h in people)
    base = ValueRun(computed_at=now, currency=currency, customers=len(people), repeaters=repeaters)
    if repeaters < MIN_REPEATERS:
        return Fitted(
            replace(
                base,
                reason=f"not enough history: {repeaters} customer(s) bought on two days or more, "
                f"at least {MIN_REPEATERS} are needed to predict what customers will spend",
            )
        )
    data = cltv.rfm({h.customer_key: _orders(h) for h in people}, now)
    with np.errstate(all="ignore"):
        buying = cltv.fit_bgnbd(data.x, data.t_x, data.T)
        spending = cltv.fit_gamma_gamma(data.x, data.m)
        found = cltv.values(data, buying, spending, HORIZON_DAYS)
    if not (np.all(np.isfinite(found.predicted)) and np.all(found.predicted >= 0)):
        return Fitted(replace(base, reason="the model could not be fitted to this shop's orders"))
    values = {
        key: CustomerValue(to_date=round(float(spent), 2), next_year=round(float(predicted), 2))
        for key, spent, predicted in zip(found.keys, found.to_date, found.predicted, strict=True)
    }
    return Fitted(
        replace(
            base,
            next_year=round(float(np.sum(found.predicted)), 2),
            to_date=round(float(np.sum(found.to_date)), 2),
            model=(
                f"BG/NBD r={buying.r:.3g} alpha={buying.alpha:.3g} a={buying.a:.3g} b={buying.b:.3g}; "
                f"Gamma-Gamma p={spending.p:.3g} q={spending.q:.3g} v={spending.v:.3g}"
            ),
        ),
        values,
    )


def _moved(old: CustomerValue | None, new: CustomerValue) -> bool:
    """Worth a write: a new value, spend to date changed, or the prediction by a cent and 1 % or more."""
    if old is None or abs(old.to_date - new.to_date) >= 0.005:
        return True
    return abs(old.next_year - new.next_year) >= max(0.01, 0.01 * abs(old.next_year))


def refresh(
    store: NotifierStore, shop_id: str, now: datetime, customers: Sequence[Customer] | None = None
) -> Fitted:
    """The daily run's part: fit, write each customer's values where they moved (a reason run clears
    none: the page shows the reason, not the old numbers), and note the run. ``customers``: the shop's,
    if already read (the retention snapshot reads the same query)."""
    customers = store.customers(shop_id) if customers is None else customers
    fitted = estimate(customers, now)
    for c in customers:
        new = fitted.values.get(c.customer_key)
        if new is not None and _moved(c.value, new):
            store.set_value(shop_id, c.customer_key, new)
    store.put_value_run(shop_id, fitted.run)
    return fitted
