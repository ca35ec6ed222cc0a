"""The sender's run: every due batch becomes one message to its destination, paced per destination.

Nothing is lost: a batch leaves the due index only once its message is accepted. A 429 defers the
destination for its Retry-After; a 5xx or a network error retries with backoff; a permanent refusal
(any other 4xx from Slack, a rejected address) marks the destination broken, holds its batches, and
tells the owner by e-mail, once. Fixing the destination releases what was held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from services.notifier.domain.intake import destinations
from services.notifier.domain.model import Alert, AlertBatch, Case, Destination, DestinationKind
from services.notifier.domain.ports import BatchRef, DestinationState, NotifierStore, SettingsSource
from services.notifier.domain.rules import shorten
from shared.tenancy import Shop, ShopDirectory

MAX_BACKOFF = timedelta(hours=1)
MAX_INLINE_WAIT_S = 5.0  # longer waits for one destination: its batch goes to the next run
STOP_WITH_S = 15.0  # seconds of the run left when the sender takes no more batches
BROKEN_NOTICE_TTL = timedelta(days=365)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"
    BROKEN = "broken"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float = 0.0


class Channel(Protocol):
    def deliver(self, shop: Shop, destination: Destination, batch: AlertBatch) -> Result: ...


class Pacing(Protocol):
    def wait_s(self, hook: str) -> float: ...
    def sent(self, hook: str) -> None: ...
    def defer(self, hook: str, seconds: float) -> None: ...


class OwnerNotice(Protocol):
    def destination_broken(self, shop: Shop, destination: Destination, reason: str, held: int) -> None: ...


@dataclass
class SenderDeps:
    store: NotifierStore
    settings: SettingsSource
    shops: ShopDirectory
    channels: Mapping[DestinationKind, Channel]
    pacer: Pacing
    sleep: Callable[[float], None]
    notice: OwnerNotice


@dataclass
class SendReport:
    delivered: int = 0
    alerts: int = 0
    deferred: int = 0
    held: int = 0
    broken: list[str] = field(default_factory=list)
    # Answers "slow down" (Slack's 429) by kind: each waits its Retry-After; counted in `deferred` too.
    rate_limited: Counter[str] = field(default_factory=Counter)
    # Destinations found broken in this run, by kind (slack, email): what the operator's alarm counts.
    broken_kinds: Counter[str] = field(default_factory=Counter)
    unfinished: bool = False  # stopped before its time ran out; the rest is still due
    failed: list[str] = field(default_factory=list)  # batches that raised; still due


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** min(attempts, 10)))


def send_due(
    deps: SenderDeps, now: datetime, limit: int = 200, time_left: Callable[[], float] | None = None
) -> SendReport:
    """Send what is due; stop early when ``time_left()`` (seconds of the Lambda's run) gets short: the
    rest stays due for the next run (a backlog released after an outage drains at 1/s per webhook)."""
    report = SendReport()
    for ref in deps.store.due_batches(now, limit):
        if time_left is not None and time_left() < STOP_WITH_S:
            report.unfinished = True
            break
        try:
            _send(deps, ref, now, report)
        except Exception as e:  # one batch's surprise must not stop every other shop's
            # A batch closed but not finished is still due: it is sent again on a later run.
            report.failed.append(f"{ref.shop_id}/{ref.destination}/{ref.window}: {type(e).__name__}")
    return report


def _send(deps: SenderDeps, ref: BatchRef, now: datetime, report: SendReport) -> None:
    shop = deps.shops.get(ref.shop_id)
    destination = _destination(deps, shop, ref)
    batch = deps.store.close_batch(ref)
    if batch is None:
        return  # sent meanwhile
    if shop is None or destination is None:
        deps.store.finish_batch(ref, "held")  # the destination was removed: kept for the record
        report.held += 1
        return
    state = deps.store.destination_state(ref.shop_id, ref.destination)
    if state.broken:
        deps.store.finish_batch(ref, "held")
        report.held += 1
        return
    hook = f"{ref.shop_id}/{ref.destination}"
    wait = max(deps.pacer.wait_s(hook), _blocked_s(state, now))
    if wait > MAX_INLINE_WAIT_S:
        deps.store.finish_batch(ref, "paced", retry_at=now + timedelta(seconds=wait))
        report.deferred += 1
        return
    if wait > 0:
        deps.sleep(wait)
    result = deps.channels[destination.kind].deliver(shop, destination, as_now(deps.store, batch))
    deps.pacer.sent(hook)
    _settle(deps, shop, destination, batch, result, now, report)


def as_now(store: NotifierStore, batch: AlertBatch) -> AlertBatch:
    """The batch's alerts with what their cases say now: the comment a customer added after the score
    (the alert was raised on the score), the score, the stars, the order."""
    samples = []
    for alert in batch.samples:
        case = store.case(alert.shop_id, alert.case_id) if alert.case_id else None
        samples.append(alert if case is None else _as_case_says(alert, case))
    return batch.model_copy(update={"samples": samples})


def _as_case_says(alert: Alert, case: Case) -> Alert:
    return alert.model_copy(
        update={
            "text": shorten(case.comment) or alert.text,
            "score": case.score,
            "survey_type": case.survey_type,
            "rating": case.rating,
            "order_name": case.order_name or case.order_id,
        }
    )


def _destination(deps: SenderDeps, shop: Shop | None, ref: BatchRef) -> Destination | None:
    """The batch's destination in the shop's settings, read again when this container's copy does not
    have it (the owner may have added it a moment ago)."""
    for fresh in (False, True):
        settings = deps.settings.get(ref.shop_id, fresh=fresh)
        found = next((d for d in destinations(settings, shop, ()) if d.name == ref.destination), None)
        if found is not None:
            return found
    return None


def _blocked_s(state: DestinationState, now: datetime) -> float:
    if state.blocked_until is None:
        return 0.0
    return max(0.0, (state.blocked_until - now).total_seconds())


def _settle(
    deps: SenderDeps,
    shop: Shop,
    destination: Destination,
    batch: AlertBatch,
    result: Result,
    now: datetime,
    report: SendReport,
) -> None:
    ref = BatchRef(batch.shop_id, batch.destination, batch.window)
    if result.outcome is Outcome.DELIVERED:
        deps.store.finish_batch(ref, "sent")
        report.delivered += 1
        report.alerts += batch.count
    elif result.outcome is Outcome.RATE_LIMITED:
        # Kept with the destination, not only in this container's pacer: the next run, anywhere, waits too.
        until = now + timedelta(seconds=result.retry_after_s)
        deps.store.set_destination_state(ref.shop_id, ref.destination, DestinationState(blocked_until=until))
        deps.store.finish_batch(ref, f"429: {result.detail}", retry_at=until)
        report.deferred += 1
        report.rate_limited[destination.kind.value] += 1
    elif result.outcome is Outcome.RETRY:
        deps.store.finish_batch(ref, result.detail, retry_at=now + backoff(batch.attempts))
        report.deferred += 1
    else:
        deps.store.finish_batch(ref, "held")
        report.held += 1
        report.broken.append(destination.name)
        report.broken_kinds[destination.kind.value] += 1
        _broken(deps, shop, destination, result.detail, now)


def _broken(deps: SenderDeps, shop: Shop, destination: Destination, reason: str, now: datetime) -> None:
    state = DestinationState(broken=True, reason=reason[:300])
    deps.store.set_destination_state(shop.shop_id, destination.name, state)
    if deps.store.mark_once(shop.shop_id, f"broken#{destination.name}", now + BROKEN_NOTICE_TTL):
        held = len(deps.store.held_batches(shop.shop_id, destination.name))
        deps.notice.destination_broken(shop, destination, reason, held)


def repair(store: NotifierStore, shop_id: str, name: str, now: datetime) -> int:
    """The owner fixed a destination: it is usable again and what it held is due now. Returns how many
    batches were released."""
    store.set_destination_state(shop_id, name, DestinationState())
    store.unmark(shop_id, f"broken#{name}")
    held = store.held_batches(shop_id, name)
    for ref in held:
        store.release_batch(ref, now)
    return len(held)
