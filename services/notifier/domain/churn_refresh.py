"""The daily churn-risk refresh of one shop: every customer's risk from their orders and feedback, and an
alert when a valuable customer crosses the shop's threshold (once per crossing, with the reasons)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.domain import churn
from services.notifier.domain.intake import IntakeDeps, raise_alert
from services.notifier.domain.model import Alert, Case, CaseStatus, RuleKind, SurveyAnswer
from services.notifier.domain.ports import Customer

YEAR = timedelta(days=365)


def unhappy(answer: SurveyAnswer) -> bool:
    """A detractor (NPS 0-6), an unhappy CSAT (1-2), a high-effort CES (5-7)."""
    if answer.survey_type == "ces":
        return answer.score >= 5
    return answer.score <= (6 if answer.survey_type == "nps" else 2)


@dataclass(frozen=True)
class RiskRow:
    customer_key: str
    name: str
    risk: float
    spend_year: float
    reasons: tuple[str, ...]


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


def score(
    customer: Customer, now: datetime, feedback: churn.Feedback | None, model: churn.Model
) -> RiskRow | None:
    orders = [churn.Order(o.at, o.total, o.cancelled) for o in customer.orders]
    x = churn.features(orders, now, feedback)
    if not x:
        return None
    spend = sum(o.total for o in customer.orders if not o.cancelled and now - YEAR <= o.at < now)
    return RiskRow(
        customer.customer_key,
        customer.first_name or "A customer",
        model.risk(x),
        spend,
        tuple(model.reasons(x)),
    )


def refresh(
    deps: IntakeDeps, shop_id: str, now: datetime, model: churn.Model = churn.DEFAULT
) -> list[RiskRow]:
    """Score every customer; alert on new crossings. Returns the customers at risk, riskiest first."""
    settings = deps.settings.get(shop_id)
    rule = settings.rule(RuleKind.CHURN_RISK)
    feedback = _feedback(deps.store.answers_since(shop_id, now - YEAR), deps.store.cases(shop_id, now - YEAR))
    shop, at_risk = deps.shops.get(shop_id), []
    for customer in deps.store.customers(shop_id):
        row = score(customer, now, feedback.get(customer.customer_key), model)
        if row is None:
            continue
        risky = row.risk >= settings.churn_threshold and row.spend_year >= settings.churn_min_spend
        crossed = deps.store.set_risk(shop_id, row.customer_key, row.risk, risky, row.reasons)
        if risky:
            at_risk.append(row)
        if crossed and rule is not None:
            alert = Alert(
                shop_id=shop_id,
                key=f"{rule.kind.value}#customer:{row.customer_key}:{now.date().isoformat()}",
                rule=rule.kind,
                delivery=rule.delivery,
                at=now,
                title=f"{row.name} may be drifting away "
                f"(risk {row.risk:.0%}, {row.spend_year:,.0f} spent this year)",
                text="; ".join(row.reasons),
                customer_key=row.customer_key,
            )
            raise_alert(deps.store, settings, shop, alert, rule.destinations)
    return sorted(at_risk, key=lambda r: -r.risk)
