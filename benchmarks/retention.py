"""Retention on a real retailer's invoices: the snapshot the daily run writes, how long it takes and how
big its item is (decision 119).

    .venv/bin/python benchmarks/retention.py [--at 2010-12-09]

Every customer's invoices become the notifier's order history (cancellations as cancelled orders, GBP);
`retention_snapshot.build` runs on them as of ``--at``. Prints the reorder horizon, the repeat rate,
the last months' churn, the first cohorts' triangle rows, the segments, the moves of the month, the time
it took and the size of the JSON item. Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.churn import DATA
from cxloop.invoices import read
from services.notifier.domain.ports import Customer, OrderLine
from services.notifier.domain.retention_snapshot import build


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--at", default="2010-12-09", help="the snapshot's moment (UTC day), default 2010-12-09"
    )
    args = parser.parse_args()
    if not DATA.exists():
        print(f"no invoices at {DATA}: this benchmark needs ../shared/data")
        return 0
    at = datetime.fromisoformat(args.at).replace(tzinfo=UTC)
    customers = [
        Customer(
            customer_key=key,
            orders=tuple(
                OrderLine(f"{key}-{i}", o.at.replace(tzinfo=o.at.tzinfo or UTC), o.total, o.cancelled, "GBP")
                for i, o in enumerate(orders)
            ),
        )
        for key, orders in read(DATA).items()
    ]
    started = time.perf_counter()
    snap = build(customers, [], at)
    took = time.perf_counter() - started
    h = snap.horizon
    print(f"{snap.customers:,} customers with an order before {at:%Y-%m-%d}; built in {took:.2f} s; "
          f"item {len(snap.model_dump_json()):,} bytes")  # fmt: skip
    print(f"reorder horizon {h.days} days (90th percentile of {h.gaps:,} gaps; median {h.median_gap} days)")
    r = snap.repeat_rate
    print(f"repeat rate {_pct(r.value)} ({r.successes:,} of {r.n:,}; 95% {_pct(r.low)}-{_pct(r.high)})")
    for m in snap.churn[-6:]:
        c = m.rate
        print(f"  churn {m.month}{' (so far)' if m.partial else ''}: {_pct(c.value)} "
              f"({c.successes} of {c.n} active; 95% {_pct(c.low)}-{_pct(c.high)})")  # fmt: skip
    for row in snap.cohorts[:3]:
        cells = " ".join(_pct(x.rate.value) for x in row.cells[:6])
        print(f"  cohort {row.month} ({row.customers}): {cells}")
    for s in snap.segments:
        print(f"  {s.label:<20} {s.customers:>5}  £{s.revenue:>12,.0f}")
    moved = sum(m.customers for m in snap.moves)
    print(f"moved this month: {moved:,}; entered: {snap.entered:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
