"""``cxloop churn evaluate``: how well the churn score ranks a shop's customers, on its own invoices.

Needs no AWS: it reads an invoices CSV, fits the shop's model at ``--fit-at`` (whose horizon has passed
by ``--at``), scores every customer with a kept order before ``--at`` from what was known then, and
prints one line for the score and one for recency alone (days since the last order):
``name auc=0.000 p5=0.000 p10=0.000`` (ROC AUC; precision among the riskiest 5 % and 10 %). A churner
places no kept order in the ``--horizon-days`` after ``--at``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cxloop import cli_types
from cxloop.cli_errors import CliError
from services.notifier.domain import churn


@dataclass(frozen=True)
class Ranking:
    name: str
    auc: float
    p5: float
    p10: float

    def line(self) -> str:
        return f"{self.name} auc={self.auc:.3f} p5={self.p5:.3f} p10={self.p10:.3f}"


def ranking(name: str, scores: list[float], churned: list[int]) -> Ranking:
    return Ranking(
        name,
        churn.roc_auc(scores, churned),
        churn.precision_at(scores, churned, 0.05),
        churn.precision_at(scores, churned, 0.10),
    )


def check_dates(
    orders: dict[str, list[churn.Order]], at: datetime, fit_at: datetime, horizon: timedelta
) -> None:
    """The cut-offs the file can answer: the fit's horizon over by ``--at``, and ``--at``'s horizon inside
    the file (else every customer after its last invoice would count as a churner)."""
    if fit_at + horizon > at:
        raise CliError(
            f"--fit-at {fit_at:%Y-%m-%d}: its {horizon.days}-day horizon ends {fit_at + horizon:%Y-%m-%d}, "
            f"after --at {at:%Y-%m-%d}; give --fit-at {at - horizon:%Y-%m-%d} or earlier"
        )
    dates = [o.at for own in orders.values() for o in own]
    first, last = min(dates), max(dates)
    if last < at + horizon - timedelta(days=1):
        raise CliError(
            f"--at {at:%Y-%m-%d} with --horizon-days {horizon.days}: the invoices end {last:%Y-%m-%d}, "
            f"before the horizon does ({at + horizon:%Y-%m-%d}); give --at "
            f"{last + timedelta(days=1) - horizon:%Y-%m-%d} or earlier, or a shorter --horizon-days"
        )
    if fit_at <= first:
        raise CliError(f"--fit-at {fit_at:%Y-%m-%d}: no invoice before it (the first is {first:%Y-%m-%d})")


def evaluate(
    orders: dict[str, list[churn.Order]], at: datetime, fit_at: datetime, horizon_days: int
) -> tuple[churn.Labelled, list[Ranking]]:
    """The score fitted at ``fit_at`` and recency, ranked against who churned after ``at``."""
    check_dates(orders, at, fit_at, timedelta(days=horizon_days))
    training = churn.labelled(orders, fit_at, horizon_days)
    if len(set(training.churned)) < 2:
        raise CliError(
            f"--fit-at {fit_at:%Y-%m-%d}: every one of its {len(training.churned)} customers "
            f"{'churned' if training.churned[0] else 'stayed'}; the model needs both to learn from"
        )
    model = churn.fit_at(orders, fit_at, horizon_days)
    data = churn.labelled(orders, at, horizon_days, model.pace)
    if len(set(data.churned)) < 2:
        raise CliError(f"--at {at:%Y-%m-%d}: all {len(data.churned)} customers churned or all stayed")
    return data, [
        ranking("cxloop", [model.logit(x) for x in data.rows], data.churned),
        ranking("recency", [x["recency"] for x in data.rows], data.churned),
    ]


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cxloop.invoices import read

    at: datetime = args.at
    fit_at: datetime = args.fit_at or at - timedelta(days=args.horizon_days)
    orders = read(Path(args.file))
    data, rankings = evaluate(orders, at, fit_at, args.horizon_days)
    print(
        f"{len(data.churned)} customers with an order before {at:%Y-%m-%d}, {sum(data.churned)} churned "
        f"(no order in the next {args.horizon_days} days); model fitted at {fit_at:%Y-%m-%d}",
        file=sys.stderr,
    )
    for r in rankings:
        print(r.line())
    return 0


def add_evaluate(churn_commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = churn_commands.add_parser(
        "evaluate",
        help="rank customers by churn risk at a past date and compare with who left (no AWS)",
        description=__doc__.split("\n\n")[1],
    )
    ev.add_argument(
        "--invoices",
        dest="file",
        metavar="FILE",
        required=True,
        type=cli_types.readable_file,
        help="invoices CSV (.csv or .csv.gz): customer_id, invoice_date, total, cancelled, ...",
    )
    ev.add_argument("--at", required=True, type=cli_types.day, help="the cut-off to evaluate at (YYYY-MM-DD)")
    ev.add_argument(
        "--horizon-days",
        type=cli_types.positive_days,
        default=90,
        help="a churner places no order in this many days after --at (default 90)",
    )
    ev.add_argument(
        "--fit-at",
        type=cli_types.day,
        help="fit the weights at this cut-off; its horizon must end by --at (default: --at less the horizon)",
    )
    ev.set_defaults(func=cmd_evaluate)  # fmt: skip
