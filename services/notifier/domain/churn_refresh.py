"""The churn-risk refresh of one shop: every customer's risk from their orders and feedback, and an alert
when a valuable customer crosses the shop's threshold (once per crossing, with the reasons).

Run daily, and whenever the customers at risk are read after an order or an answer came (``current``).
Only customers with a reorder habit are judged (two orders or more): one order, however recent, says
nothing about leaving. Valuable is the shop's own top quarter by total spend (and at least the shop's
minimum, if set). Each run notes its time and that bar, which the dashboard, the API and the digest show.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.domain import churn
from services.notifier.domain.housekeeping import RISK_STALE
from services.notifier.domain.intake import IntakeDeps, raise_alert
from services.notifier.domain.model import Alert, Case, CaseStatus, RuleKind, SurveyAnswer
from services.notifier.domain.ports import Customer, OrderLine, RiskRun
from services.notifier.domain.retention import main_currency
from shared.money import money

YEAR = timedelta(days=365)


def unhappy(answer: SurveyAnswer) -> bool:
    """A detractor (NPS 0-6), an unhappy CSAT (1-2), a high-effort CES (5-7)."""
    if answer.survey_type == "ces":
        return answer.score >= 5
    return answer.score <= (6 if answer.survey_type == "nps" else 2)


MIN_ORDERS = 2  # fewer kept orders: no reorder habit to fall behind on, so no risk to judge
VALUABLE_QUANTILE = 0.75  # valuable: total spend in the shop's top quarter of customers
STALE_AFTER = timedelta(hours=24)  # a computation older than this is done again when read


@dataclass(frozen=True)
class RiskRow:
    customer_key: str
    name: str
    risk: float
    spend_year: float
    reasons: tuple[str, ...]
    spend_total: float = 0.0
    currency: str | None = None
    email: str | None = None
    orders: int = 0


def _feedback(answers: list[SurveyAnswer], cases: list[Case]) -> dict[str, churn.Feedback]:
    last: dict[str, SurveyAnswer] = {}
    negative: dict[str, int] = defaultdict(int)
    for answer in sorted(answers, key=lambda a: a.answered_at):
        if answer.customer_key:
            last[answer.customer_key] = answer
            negative[answer.customer_key] += sum(t.sentiment == "negative" for t in answer.themes)
    open_case = {c.customer_key for c in cases if c.customer_key and c.status is not CaseStatus.RESOLVED}
    keys = set(last) | open_case
    return {
        k: churn.Feedback(
            last_detractor=k in last and unhappy(last[k]),
            negative_themes=negative.get(k, 0),
            open_case=k in open_case,
        )
        for k in keys
    }


def kept(customer: Customer, now: datetime) -> list[OrderLine]:
    return [o for o in customer.orders if not o.cancelled and o.at < now]


def valuable_from(spends: list[float], minimum: float) -> float:
    """The spend a customer must reach to count as valuable: the shop's own top quarter (by total spend
    of customers with an order), or the shop's minimum if that is higher."""
    if not spends:
        return minimum
    ranked = sorted(spends)
    bar = ranked[0] if len(ranked) == 1 else statistics.quantiles(ranked, n=4, method="inclusive")[2]
    return max(minimum, bar)


def score(
    customer: Customer, now: datetime, feedback: churn.Feedback | None, model: churn.Model
) -> RiskRow | None:
    """None for a customer with too little history to judge (fewer than ``MIN_ORDERS`` kept orders)."""
    placed = kept(customer, now)
    if len(placed) < MIN_ORDERS:
        return None
    orders = [churn.Order(o.at, o.total, o.cancelled) for o in customer.orders]
    x = churn.features(orders, now, feedback, model.pace)
    if not x:
        return None
    return RiskRow(
        customer.customer_key,
        customer.first_name or "A customer",
        model.risk(x),
        sum(o.total for o in placed if now - YEAR <= o.at),
        tuple(model.reasons(x)),
        spend_total=sum(o.total for o in placed),
        currency=customer.currency,
        email=customer.email,
        orders=len(placed),
    )


def _changed(customer: Customer, risk: float, risky: bool, reasons: tuple[str, ...]) -> bool:
    old = customer.risk
    return old is None or abs(old - risk) >= 0.005 or customer.at_risk != risky or customer.reasons != reasons


def refresh(
    deps: IntakeDeps, shop_id: str, now: datetime, model: churn.Model = churn.DEFAULT
) -> list[RiskRow]:
    """Score every customer; alert on new crossings; note when and against which bar. Returns the
    customers at risk, riskiest first."""
    deps.store.unmark(shop_id, RISK_STALE)  # before reading: a change meanwhile marks it again
    settings = deps.settings.get(shop_id)
    rule = settings.rule(RuleKind.CHURN_RISK)
    feedback = _feedback(deps.store.answers_since(shop_id, now - YEAR), deps.store.cases(shop_id, now - YEAR))
    everyone = deps.store.customers(shop_id)
    customers = [c for c in everyone if kept(c, now)]
    bar = valuable_from([sum(o.total for o in kept(c, now)) for c in customers], settings.churn_min_spend)
    shop, at_risk, judged = deps.shops.get(shop_id), [], 0
    for customer in everyone:
        row = score(customer, now, feedback.get(customer.customer_key), model)
        risk, reasons = (row.risk, row.reasons) if row else (0.0, ())
        risky = row is not None and row.risk >= settings.churn_threshold and row.spend_total >= bar
        judged += row is not None
        crossed = False
        if _changed(customer, risk, risky, reasons):
            crossed = deps.store.set_risk(shop_id, customer.customer_key, risk, risky, reasons)
        if row is None or not risky:
            continue
        at_risk.append(row)
        if crossed and rule is not None:
            alert = Alert(
                shop_id=shop_id,
                key=f"{rule.kind.value}#customer:{row.customer_key}:{now.date().isoformat()}",
                rule=rule.kind,
                delivery=rule.delivery,
                at=now,
                title=f"{row.name} may be drifting away (risk {row.risk:.0%}, "
                f"{money(row.spend_total, row.currency)} spent in {row.orders} orders)",
                text="; ".join(row.reasons),
                customer_key=row.customer_key,
            )
            raise_alert(deps.store, settings, shop, alert, rule.destinations)
    deps.store.put_risk_run(
        shop_id,
        RiskRun(
            computed_at=now,
            valuable_from=bar,
            currency=main_currency(customers, now),  # the lifetime values' and the snapshot's too
            customers=len(customers),
            judged=judged,
        ),
    )
    return sorted(at_risk, key=lambda r: -r.risk)


def current(deps: IntakeDeps, shop_id: str, now: datetime) -> RiskRun:
    """The shop's last computation, done again first when something changed since (an order, an answer)
    or it is older than a day: what an owner reads is never waiting for the daily run."""
    run = deps.store.risk_run(shop_id)
    if run is None or now - run.computed_at >= STALE_AFTER or deps.store.is_marked(shop_id, RISK_STALE):
        refresh(deps, shop_id, now)
        run = deps.store.risk_run(shop_id)
    assert run is not None  # refresh always writes one
    return run
