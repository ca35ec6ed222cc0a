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
from email.utils import formataddr, parseaddr

from services.notifier.domain.cases import update_case
from services.notifier.domain.model import AlertSettings, Case, CaseEvent, CaseStatus, ReplyState
from services.notifier.domain.ports import NotifierStore, Publisher, SettingsSource
from services.notifier.reply_drafts import Draft, draft, html_of
from shared.events import REVIEW_REPLY_REQUESTED, ReviewReplyResult, email_digest
from shared.mail.message import Mailer, MailError, OutgoingEmail
from shared.tenancy import Shop, ShopDirectory

MAX_PUBLIC_REPLY = 5000  # what the reviews service posts
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
    # When neither the shop's reply_from nor the survey's sender is known (a case opened before the
    # survey's sender came with the answer): an address the mail provider will send from.
    default_sender: str


class ReplyRefused(ValueError):
    """The case cannot be replied to now (already replied, closed, no address); says why."""


def brand(case: Case, shop: Shop) -> str:
    """The name the customer knows the shop by: the survey's brand, else the shop's name."""
    return case.brand_name or shop.name


def reply_sender(case: Case, shop: Shop, settings: AlertSettings, default_sender: str) -> str:
    """``Brand <address>``: the shop's reply address, else the survey's sender (the customer answered
    mail from it), else the provider's default; a display name the shop gave its address wins."""
    name, address = parseaddr(settings.reply_from or case.brand_sender or default_sender)
    return formataddr((name if settings.reply_from and name else brand(case, shop), address))


def current_draft(case: Case, shop: Shop, settings: AlertSettings) -> Draft:
    if case.reply_text:
        return Draft(
            case.reply_subject or "", case.reply_text, html_of(case.reply_subject or "", case.reply_text)
        )
    return draft(case, brand(case, shop))


def _event(case: Case, now: datetime, what: str, by: str = "cxloop", note: str = "") -> list[CaseEvent]:
    return [*case.history, CaseEvent(at=now, what=what, by=by, note=note[:500])]


def _save(store: NotifierStore, case: Case, **changes: object) -> Case | None:
    updated = case.model_copy(update={**changes, "version": case.version + 1})
    return updated if store.save_case(updated, case.version) else None


def send_due_replies(deps: ReplyDeps, now: datetime, limit: int = 100) -> int:
    sent = 0
    for shop_id, case_id in deps.store.due_replies(now, limit):
        case = deps.store.case(shop_id, case_id)
        if case is None or case.reply_state is not ReplyState.SCHEDULED:
            continue
        try:
            sent += send(deps, case, now).reply_state is ReplyState.SENT
        except (ReplyRefused, LookupError) as e:  # no address left (erased), the shop gone
            _finish(deps.store, case, now, ReplyState.NONE, note=str(e))
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
    if _claimed(case, now):
        raise ReplyRefused("its reply is being sent right now")
    if case.by_hand:
        raise ReplyRefused(by_hand(case))
    if case.subject == "mention" and len((text or "").strip()) > MAX_PUBLIC_REPLY:
        raise ReplyRefused(f"a public reply is at most {MAX_PUBLIC_REPLY} characters")
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


def by_hand(case: Case) -> str:
    """What the owner must do for a review whose source cxloop cannot reply on."""
    where = case.url or f"the review's page on {case.source}"
    return (
        f"{case.source} takes no replies through cxloop: copy the reply, post it yourself at {where}, "
        "then mark it posted"
    )


def posted(
    deps: ReplyDeps, shop_id: str, case_id: str, now: datetime, text: str | None = None, by: str = "owner"
) -> Case:
    """The owner says they posted the reply at a source that takes none from cxloop: only now is the
    case replied (and its first reply timed). Raises ReplyRefused, LookupError."""
    case = deps.store.case(shop_id, case_id)
    if case is None:
        raise LookupError(case_id)
    if not case.by_hand:
        raise ReplyRefused("this case's reply is sent through cxloop: send it instead")
    if case.reply_state not in SENDABLE:
        raise ReplyRefused(f"this case's reply is {case.reply_state.value}")
    body = (text or "").strip() or current_draft(case, _shop(deps, shop_id), deps.settings.get(shop_id)).text
    if len(body) > MAX_PUBLIC_REPLY:
        raise ReplyRefused(f"a public reply is at most {MAX_PUBLIC_REPLY} characters")
    note = f"posted at {case.source} by {by}"
    return _finish(deps.store, case, now, ReplyState.POSTED, note, text=("", body))


def close(
    deps: ReplyDeps, shop_id: str, case_id: str, now: datetime, by: str = "owner", note: str = ""
) -> Case:
    """Resolve the case; an unsent reply is not sent."""
    case = deps.store.case(shop_id, case_id)
    if case is None:
        raise LookupError(case_id)
    if case.status is CaseStatus.RESOLVED:
        return case
    if _claimed(case, now):
        raise ReplyRefused("its reply is being sent right now")
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
    if _claimed(case, now):
        return case  # another sender has it
    claimed = _save(
        deps.store,
        case,
        reply_state=ReplyState.SCHEDULED,
        reply_due_at=now + LEASE,
        reply_claimed_until=now + LEASE,
    )
    if claimed is None:
        return deps.store.case(case.shop_id, case.case_id) or case
    if deps.store.is_suppressed(case.shop_id, email_digest(case.email)):
        return _finish(deps.store, claimed, now, ReplyState.SUPPRESSED, "the customer unsubscribed")
    reply = current_draft(claimed, shop, settings)
    email = OutgoingEmail(
        sender=reply_sender(case, shop, settings, deps.default_sender),
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
        why = e.message

        def defer(current: Case) -> dict[str, object]:
            history = _event(current, now, "reply_deferred", note=why)
            return {"reply_due_at": retry, "reply_claimed_until": None, "history": history}

        return update_case(deps.store, case.shop_id, case.case_id, defer) or claimed
    return _finish(deps.store, claimed, now, ReplyState.SENT, text=(reply.subject, reply.text))


def _finish(
    store: NotifierStore,
    case: Case,
    now: datetime,
    state: ReplyState,
    note: str = "",
    text: tuple[str, str] | None = None,
) -> Case:
    """Record how the reply ended, on the case as it is now: a theme or an answer may have been written
    to it meanwhile, and losing the outcome would send the reply again when the claim runs out."""
    what = {ReplyState.SENT: "reply_sent", ReplyState.REQUESTED: "reply_requested"}.get(
        state, f"reply_{state.value}"
    )
    replied = state in (ReplyState.SENT, ReplyState.POSTED)  # a requested reply is not posted yet

    def change(current: Case) -> dict[str, object] | None:
        if current.reply_state is state and current.reply_claimed_until is None:
            return None  # recorded already
        changes: dict[str, object] = {
            "reply_state": state,
            "reply_due_at": None,
            "reply_claimed_until": None,
            "history": _event(current, now, what, note=note),
        }
        if text is not None:
            changes["reply_subject"], changes["reply_text"] = text
        if replied:
            changes["first_reply_at"] = current.first_reply_at or now
            if current.status is CaseStatus.OPEN:
                changes["status"] = CaseStatus.REPLIED
        return changes

    return update_case(store, case.shop_id, case.case_id, change) or case


def on_reply_result(store: NotifierStore, shop_id: str, result: ReviewReplyResult, now: datetime) -> str:
    """The reviews service tells what became of a requested public reply: posted, the case is replied
    (and its first reply timed) now; refused or not possible there, the reply is the owner's again (to
    send again, or, for a source that takes none, to post by hand)."""
    case_id = result.case_id or f"mention:{result.mention_id}"
    case = store.case(shop_id, case_id)
    if case is None:
        return "no case"
    if result.status == "posted":
        _finish(store, case, now, ReplyState.POSTED, f"posted at {case.source}, the site accepted it")
        return "posted"

    def back_to_owner(current: Case) -> dict[str, object] | None:
        if current.reply_state is not ReplyState.REQUESTED:
            return None  # told before, or the owner moved on
        changes: dict[str, object] = {
            "reply_state": ReplyState.AWAITING_APPROVAL,
            "history": _event(current, now, f"reply_{result.status}", note=result.detail),
        }
        if result.status == "unsupported":
            changes["takes_replies"] = False
        return changes

    update_case(store, shop_id, case_id, back_to_owner)
    return result.status


def _claimed(case: Case, now: datetime) -> bool:
    return case.reply_claimed_until is not None and case.reply_claimed_until > now


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
