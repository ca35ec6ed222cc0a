"""Closing the loop: the reply to an unhappy customer (by e-mail) or to a public review (through the
reviews service), sent automatically after a hold or when the owner approves it.

A send first claims the case (a versioned write that moves its due time past a lease), so two senders
never mail one customer twice; a crash after the send leaves the claim, and the retry carries the same
Message-ID, which receivers use to drop a copy. An unsubscribed or bounced customer is never mailed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.domain.model import Case, CaseEvent, CaseStatus, NotifierSettings, ReplyState
from services.notifier.domain.ports import NotifierStore, Publisher, SettingsSource
from services.notifier.reply_drafts import Draft, draft, html_of
from shared.events import email_digest
from shared.mail.message import Mailer, MailError, OutgoingEmail
from shared.tenancy import Shop, ShopDirectory

REVIEW_REPLY_REQUESTED = "ReviewReplyRequested"
LEASE = timedelta(minutes=10)
RETRY = timedelta(minutes=15)
SENDABLE = (ReplyState.SCHEDULED, ReplyState.AWAITING_APPROVAL)


@dataclass(frozen=True)
class ReplyDeps:
    store: NotifierStore
    settings: SettingsSource
    shops: ShopDirectory
    mailer: Mailer
    publisher: Publisher
    default_sender: str  # when the shop set no reply_from: an address the mail provider will send from


class ReplyRefused(ValueError):
    """The case cannot be replied to now (already replied, closed, no address); says why."""


def current_draft(case: Case, shop: Shop, settings: NotifierSettings) -> Draft:
    if case.reply_text:
        return Draft(
            case.reply_subject or "", case.reply_text, html_of(case.reply_subject or "", case.reply_text)
        )
    return draft(case, shop.name, reply_to=settings.reply_to or shop.owner_email)


def _event(case: Case, now: datetime, what: str, by: str = "cxloop", note: str = "") -> list[CaseEvent]:
    return [*case.history, CaseEvent(at=now, what=what, by=by, note=note[:500])]


def _save(store: NotifierStore, case: Case, **changes: object) -> Case | None:
    updated = case.model_copy(update={**changes, "version": case.version + 1})
    return updated if store.save_case(updated, case.version) else None


def send_due_replies(deps: ReplyDeps, now: datetime, limit: int = 100) -> int:
    sent = 0
    for shop_id, case_id in deps.store.due_replies(now, limit):
        case = deps.store.case(shop_id, case_id)
        if case is not None and case.reply_state is ReplyState.SCHEDULED:
            sent += send(deps, case, now).reply_state is ReplyState.SENT
    return sent


def approve(
    deps: ReplyDeps, shop_id: str, case_id: str, now: datetime, text: str | None = None, by: str = "owner"
) -> Case:
    """The owner approves the reply (edited or as drafted). Raises ReplyRefused, LookupError."""
    case = deps.store.case(shop_id, case_id)
    if case is None:
        raise LookupError(case_id)
    if case.reply_state not in SENDABLE:
        raise ReplyRefused(f"this case's reply is {case.reply_state.value}")
    shop, settings = _shop(deps, shop_id), deps.settings.get(shop_id)
    proposed = current_draft(case, shop, settings)
    body = (text or "").strip() or proposed.text
    saved = _save(
        deps.store,
        case,
        reply_text=body,
        reply_subject=proposed.subject,
        history=_event(case, now, "approved", by),
    )
    if saved is None:
        raise ReplyRefused("the case changed meanwhile: reload it")
    if saved.subject == "mention":
        return _request_public(deps, saved, now)
    return send(deps, saved, now)


def close(
    deps: ReplyDeps, shop_id: str, case_id: str, now: datetime, by: str = "owner", note: str = ""
) -> Case:
    """Resolve the case; an unsent reply is not sent."""
    case = deps.store.case(shop_id, case_id)
    if case is None:
        raise LookupError(case_id)
    if case.status is CaseStatus.RESOLVED:
        return case
    reply_state = ReplyState.NONE if case.reply_state in SENDABLE else case.reply_state
    saved = _save(
        deps.store,
        case,
        status=CaseStatus.RESOLVED,
        resolved_at=now,
        reply_state=reply_state,
        reply_due_at=None,
        history=_event(case, now, "resolved", by, note),
    )
    if saved is None:
        raise ReplyRefused("the case changed meanwhile: reload it")
    return saved


def send(deps: ReplyDeps, case: Case, now: datetime) -> Case:
    """Mail the reply of a claimed-or-claimable case; the case as it ends up."""
    shop, settings = _shop(deps, case.shop_id), deps.settings.get(case.shop_id)
    if not case.email:
        raise ReplyRefused("no e-mail address for this customer (erased, or never given)")
    claimed = _save(deps.store, case, reply_state=ReplyState.SCHEDULED, reply_due_at=now + LEASE)
    if claimed is None:
        return deps.store.case(case.shop_id, case.case_id) or case
    if deps.store.is_suppressed(case.shop_id, email_digest(case.email)):
        return _finish(deps.store, claimed, now, ReplyState.SUPPRESSED, "the customer unsubscribed")
    reply = current_draft(claimed, shop, settings)
    email = OutgoingEmail(
        sender=settings.reply_from or deps.default_sender,
        to=case.email,
        reply_to=settings.reply_to or shop.owner_email,
        subject=reply.subject,
        html=reply.html,
        text=reply.text,
        message_id=f"<reply-{hashlib.sha256(case.case_id.encode()).hexdigest()[:24]}@{case.shop_id}.cxloop>",
        tags={"shop": case.shop_id, "kind": "reply"},
    )
    try:
        deps.mailer.send(email)
    except MailError as e:
        if e.permanent:
            return _finish(deps.store, claimed, now, ReplyState.FAILED, e.message)
        retry = now + timedelta(seconds=e.retry_after_s) if e.retry_after_s else now + RETRY
        return (
            _save(
                deps.store,
                claimed,
                reply_due_at=retry,
                history=_event(claimed, now, "reply_deferred", note=e.message),
            )
            or claimed
        )
    return _finish(
        deps.store,
        claimed.model_copy(update={"reply_text": reply.text, "reply_subject": reply.subject}),
        now,
        ReplyState.SENT,
    )


def _finish(store: NotifierStore, case: Case, now: datetime, state: ReplyState, note: str = "") -> Case:
    replied = state is ReplyState.SENT or state is ReplyState.REQUESTED
    changes: dict[str, object] = {"reply_state": state, "reply_due_at": None}
    if replied:
        changes["first_reply_at"] = case.first_reply_at or now
        if case.status is CaseStatus.OPEN:
            changes["status"] = CaseStatus.REPLIED
    what = {ReplyState.SENT: "reply_sent", ReplyState.REQUESTED: "reply_requested"}.get(
        state, f"reply_{state.value}"
    )
    saved = _save(store, case, history=_event(case, now, what, note=note), **changes)
    return saved or case


def _request_public(deps: ReplyDeps, case: Case, now: datetime) -> Case:
    deps.publisher.publish(
        REVIEW_REPLY_REQUESTED,
        case.shop_id,
        {"mention_id": case.subject_id, "text": case.reply_text, "case_id": case.case_id},
        case.case_id,
    )
    return _finish(deps.store, case, now, ReplyState.REQUESTED)


def _shop(deps: ReplyDeps, shop_id: str) -> Shop:
    shop = deps.shops.get(shop_id)
    if shop is None:
        raise LookupError(f"no shop {shop_id!r}")
    return shop


Clock = Callable[[], datetime]
