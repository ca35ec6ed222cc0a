"""When an order's survey goes out, if ever: pure rules, re-evaluated on every change to the order.

The rules run again each time a webhook changes the order (shipped, delivered, cancelled, refunded),
so the plan follows the order: a delivery after the fulfilment fallback moves the send earlier, a
cancellation before the send cancels it. Once a survey is out, only its reminder can still be dropped.

``day`` is the length of a rule's day: 24 hours, except in the local demo, which compresses days to
seconds so a whole loop fits in a minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.feedback.domain.orders.records import Order
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status
from services.feedback.domain.surveys.programme import QuietHours, SurveyProgramme

DAY = timedelta(days=1)


class Action(StrEnum):
    NONE = "none"
    PLAN = "plan"  # create the invitation, or move its send time
    SUPPRESS = "suppress"  # record that this order will not be surveyed, and why
    CANCEL = "cancel"  # a planned invitation is cancelled
    DROP_REMINDER = "drop_reminder"  # already sent; the reminder is no longer wanted


@dataclass(frozen=True)
class Plan:
    action: Action
    due_at: datetime | None = None
    reason: Reason | None = None


NOTHING = Plan(Action.NONE)


def in_quiet_hours(local: time, quiet: QuietHours) -> bool:
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # spans midnight


def outside_quiet_hours(at: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """``at`` if it is outside the quiet hours, else the end of the quiet period (in UTC)."""
    if quiet is None:
        return at
    local = at.astimezone(zone)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), quiet):
        return at
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)
    # Wall-clock construction, so the end of the quiet hours is local time on DST days too. On the
    # night clocks go back the end may exist twice: take the first one not before ``at``.
    for fold in (0, 1):
        end = datetime.combine(day, quiet.end, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        if end >= at:
            return end
    return at


def sampled_in(shop_id: str, iid: str, percent: float) -> bool:
    """Deterministic, so replays decide the same way; uniform over invitations."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha256(f"sample|{shop_id}|{iid}".encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


def send_basis(order: Order, programme: SurveyProgramme, day: timedelta) -> tuple[datetime, datetime] | None:
    """(when the triggering event happened, when the survey is due before quiet hours)."""
    rules = programme.rules
    if order.delivered_at:
        return order.delivered_at, order.delivered_at + rules.days_after_delivery * day
    if order.shipped_at:
        return order.shipped_at, order.shipped_at + rules.days_after_fulfilment * day
    return None


def cancel_reason(order: Order) -> Reason | None:
    if order.deleted or order.cancelled_at is not None:
        return Reason.CANCELLED
    if order.financial_state == "refunded":
        return Reason.REFUNDED
    return None


def _new(
    order: Order, programme: SurveyProgramme, iid: str, shop_id: str, now: datetime, day: timedelta
) -> Plan:
    basis = send_basis(order, programme, day)
    if basis is None or cancel_reason(order):
        return NOTHING  # not shipped yet, or cancelled before it ever was
    happened, due = basis
    if order.test:
        return Plan(Action.SUPPRESS, reason=Reason.TEST_ORDER)
    if not order.email:
        return Plan(Action.SUPPRESS, reason=Reason.NO_EMAIL)
    if now - happened > programme.rules.max_lateness_days * day:
        return Plan(Action.SUPPRESS, reason=Reason.TOO_LATE)
    if not sampled_in(shop_id, iid, programme.rules.sample_percent):
        return Plan(Action.SUPPRESS, reason=Reason.SAMPLED_OUT)
    return Plan(Action.PLAN, due_at=outside_quiet_hours(due, programme.rules.quiet_hours, programme.zone))


def plan(
    order: Order,
    programme: SurveyProgramme | None,
    existing: Invitation | None,
    *,
    shop_id: str,
    iid: str,
    now: datetime,
    day: timedelta = DAY,
) -> Plan:
    """What to do with the order's invitation now."""
    if programme is None or not programme.enabled:
        return NOTHING  # a planned invitation is suppressed by the dispatcher, which sees the switch
    if existing is None:
        return _new(order, programme, iid, shop_id, now, day)
    return _replan(order, programme, existing, day)


def _replan(order: Order, programme: SurveyProgramme, existing: Invitation, day: timedelta) -> Plan:
    reason = cancel_reason(order)
    if existing.status is Status.SENT:
        return Plan(Action.DROP_REMINDER, reason=reason) if reason and existing.due else NOTHING
    if existing.status is not Status.PLANNED:
        return NOTHING  # in flight, or decided for good
    if reason:
        return Plan(Action.CANCEL, reason=reason)
    basis = send_basis(order, programme, day)
    if basis is None:
        return NOTHING
    due = outside_quiet_hours(basis[1], programme.rules.quiet_hours, programme.zone)
    if due == existing.due_at and order.email == existing.email:
        return NOTHING
    return Plan(Action.PLAN, due_at=due)


def reminder_due(sent_at: datetime, programme: SurveyProgramme, day: timedelta = DAY) -> datetime | None:
    after = programme.rules.reminder_after_days
    if after is None:
        return None
    return outside_quiet_hours(sent_at + after * day, programme.rules.quiet_hours, programme.zone)


def throttle_since(now: datetime, programme: SurveyProgramme, day: timedelta = DAY) -> datetime:
    """A person surveyed after this time is not surveyed again."""
    return now - programme.rules.throttle_days * day
