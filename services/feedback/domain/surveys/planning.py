"""Planning use case: an order changed, so (re)decide its invitation and store the decision.

Called by the event consumer after each order webhook is applied. Every write is conditional on the
invitation's version, so concurrent consumers (or a dispatcher claiming the invitation at the same
moment) never overwrite each other: the loser reads again and re-decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.feedback.domain.orders.normalise import email_key
from services.feedback.domain.orders.records import Order, order_from_items
from services.feedback.domain.ports import ProgrammeStore, RecordStore, SurveyStore, Written
from services.feedback.domain.surveys.changes import RETRIES, bump, log_entry
from services.feedback.domain.surveys.invitations import (
    Invitation,
    Reason,
    Status,
    SuppressionEntry,
    invite_id,
)
from services.feedback.domain.surveys.programme import SurveyProgramme
from services.feedback.domain.surveys.rules import DAY, Action, Plan, plan


@dataclass(frozen=True)
class PlanningDeps:
    records: RecordStore
    surveys: SurveyStore
    programmes: ProgrammeStore
    day: timedelta = DAY


def _order(records: RecordStore, shop_id: str, order_sk: str) -> Order | None:
    return order_from_items(records.items(shop_id, order_sk))


def _fresh(
    shop_id: str, iid: str, order_sk: str, order: Order, programme: SurveyProgramme, now: datetime
) -> Invitation:
    return Invitation(
        shop_id=shop_id,
        invite_id=iid,
        order_sk=order_sk,
        order_name=order.name or f"#{order.order_id}",
        email=order.email,
        first_name=order.first_name,
        customer_key=order.customer_key,
        contact_key=email_key(order.email) if order.email else None,
        survey_type=programme.survey_type,
        status=Status.PLANNED,
        planned_at=now,
    )


def _apply_new(
    decision: Plan, fresh: Invitation, now: datetime
) -> tuple[Invitation, SuppressionEntry | None] | None:
    if decision.action is Action.PLAN:
        return fresh.model_copy(update={"due_at": decision.due_at, "version": 1}), None
    if decision.action is Action.SUPPRESS and decision.reason:
        new = fresh.model_copy(update={"status": Status.SUPPRESSED, "reason": decision.reason, "version": 1})
        return new, log_entry(new, decision.reason, now)
    return None


def _apply(
    decision: Plan, existing: Invitation | None, fresh: Invitation, now: datetime
) -> tuple[Invitation, SuppressionEntry | None] | None:
    if existing is None:
        return _apply_new(decision, fresh, now)
    reason = decision.reason or Reason.CANCELLED
    if decision.action is Action.PLAN:
        personal = {"email": fresh.email, "first_name": fresh.first_name, "contact_key": fresh.contact_key}
        return bump(existing, due_at=decision.due_at, **personal), None
    if decision.action is Action.CANCEL:
        new = bump(existing, status=Status.CANCELLED, reason=reason, due_at=None)
        return new, log_entry(new, reason, now)
    if decision.action is not Action.DROP_REMINDER:
        return None
    return bump(existing, due_at=None), log_entry(existing, reason, now, "reminder not sent")


def plan_order(deps: PlanningDeps, shop_id: str, order_sk: str, now: datetime) -> Plan:
    """Decide and store the invitation of one order; returns the decision that was stored."""
    programme = deps.programmes.get(shop_id)
    if programme is None or not programme.enabled:
        return Plan(Action.NONE)
    order = _order(deps.records, shop_id, order_sk)
    if order is None:
        return Plan(Action.NONE)
    iid = invite_id(shop_id, order_sk)
    fresh = _fresh(shop_id, iid, order_sk, order, programme, now)
    for _ in range(RETRIES):
        existing = deps.surveys.invitation(shop_id, iid)
        decision = plan(order, programme, existing, shop_id=shop_id, iid=iid, now=now, day=deps.day)
        decided = _apply(decision, existing, fresh, now)
        if decided is None:
            return decision
        new, log = decided
        expected = existing.version if existing else None
        if deps.surveys.write(new, expected, log=log) is Written.OK:
            return decision
    raise RuntimeError(f"invitation {iid} kept changing under {RETRIES} attempts")
