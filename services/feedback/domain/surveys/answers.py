"""Capturing answers and unsubscribes from the links in a survey e-mail.

The click is the answer: ``GET /r/{token}?score=N`` records N at once. Clicking another score before
commenting changes it (a new revision, never a second answer); clicking the same one changes nothing.
Every failure to find a genuine, live token shows the same not-found page.
A GET never unsubscribes (link scanners prefetch); only the one-click POST does (RFC 8058).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.feedback.domain.ports import EventPublisher, ProgrammeStore, SurveyStore
from services.feedback.domain.surveys.changes import bump, log_entry, update
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status
from services.feedback.domain.surveys.links import Links
from services.feedback.domain.surveys.programme import SCALES, SurveyProgramme, SurveyType
from services.feedback.domain.surveys.views import MAX_COMMENT_CHARS, Page, PageView, ScoreLink
from shared import events
from shared import links as tokens

log = logging.getLogger(__name__)

# Control characters other than newline and tab are dropped from comments.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SCORE = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True)
class AnswerDeps:
    surveys: SurveyStore
    programmes: ProgrammeStore
    publisher: EventPublisher
    links: Links
    clock: Callable[[], datetime]


Result = tuple[Page, PageView]
NOT_FOUND: Result = (Page.NOT_FOUND, PageView())


def clean_text(value: str | None, limit: int = MAX_COMMENT_CHARS) -> str:
    """Normalised, control characters removed, trimmed, at most ``limit`` characters."""
    text = unicodedata.normalize("NFC", value or "")
    return _CONTROL.sub("", text).strip()[:limit].rstrip()


def parse_score(raw: str | None, survey_type: SurveyType) -> int | None:
    """A score on the invitation's own scale (not the programme's: the shop may have changed type)."""
    low, high = SCALES[survey_type]
    text = (raw or "").strip()
    if not _SCORE.fullmatch(text):
        return None
    score = int(text)
    return score if low <= score <= high else None


def _answerable(deps: AnswerDeps, token: str, now: datetime) -> tuple[Invitation, SurveyProgramme] | None:
    claims = tokens.read(deps.links.keys, token, tokens.Purpose.ANSWER, now)
    if claims is None:
        return None
    inv = deps.surveys.invitation(claims.shop_id, claims.invite_id)
    programme = deps.programmes.get(claims.shop_id)
    # SENDING counts: a dispatcher may have sent it and not yet recorded that it did.
    if inv is None or programme is None or inv.status not in (Status.SENT, Status.SENDING):
        return None
    return inv, programme


def _view(deps: AnswerDeps, inv: Invitation, programme: SurveyProgramme, token: str) -> PageView:
    low, high = SCALES[inv.survey_type]
    base = f"{deps.links.public_url}/r/{token}"
    return PageView(
        language=programme.language,
        brand_name=programme.brand.name,
        colour=programme.brand.colour,
        logo_url=programme.brand.logo_url,
        survey_type=inv.survey_type,
        question=programme.question_text(inv.survey_type),
        score=inv.score,
        # The same token: changing the score does not extend how long the link works.
        scale=[ScoreLink(score=s, url=f"{base}?score={s}") for s in range(low, high + 1)],
        follow_up_question=programme.follow_up_question,
        comment=inv.comment or None,
        follow_up_answer=inv.follow_up_answer or None,
        form_action=base,
    )


def _publish(deps: AnswerDeps, inv: Invitation, programme: SurveyProgramme, correlation_id: str) -> None:
    """Announce the answer, then note that it was announced; if either fails, the sweeper does it."""
    try:
        publish_response(deps.publisher, inv, programme, correlation_id)
    except Exception:
        log.exception(
            "ResponseRecorded not published; the sweeper will retry", extra={"invite": inv.invite_id}
        )
        return
    mark_published(deps.surveys, inv)


def mark_published(surveys: SurveyStore, inv: Invitation) -> None:
    """Note that ``inv``'s revision was announced (a later revision stays unannounced)."""

    def published(current: Invitation) -> tuple[Invitation, None] | None:
        if current.published_revision >= inv.revision:
            return None
        return bump(current, published_revision=inv.revision), None

    update(surveys, inv.shop_id, inv.invite_id, published)


def _save_and_announce(
    deps: AnswerDeps,
    inv: Invitation,
    programme: SurveyProgramme,
    change: Callable[[Invitation], tuple[Invitation, None] | None],
    correlation_id: str,
) -> Invitation | None:
    """Apply an answer change; announce the result when it made a new revision."""
    after = update(deps.surveys, inv.shop_id, inv.invite_id, change)
    if after is not None and after.revision > after.published_revision:
        _publish(deps, after, programme, correlation_id)
    return after


def publish_response(
    publisher: EventPublisher, inv: Invitation, programme: SurveyProgramme | None, correlation_id: str
) -> None:
    if inv.score is None or inv.answered_at is None:
        return
    _, platform, order_id = inv.order_sk.split("#", 2)
    data = events.ResponseRecorded(
        invite_id=inv.invite_id,
        revision=inv.revision,
        survey_type=inv.survey_type.value,
        score=inv.score,
        answered_at=inv.answered_at,
        comment=inv.comment or None,
        follow_up_question=programme.follow_up_question if programme else None,
        follow_up_answer=inv.follow_up_answer or None,
        order_id=order_id,
        platform=platform,
        order_name=inv.order_name,
        customer_key=inv.customer_key,
        email=inv.email,
        first_name=inv.first_name,
        language=programme.language if programme else "en",
        brand_name=programme.brand.name if programme else "",
        brand_sender=programme.brand.sender if programme else "",
    )
    publisher.publish(events.RESPONSE_RECORDED, inv.shop_id, data.model_dump(mode="json"), correlation_id)


def record_score(deps: AnswerDeps, token: str, raw_score: str | None, correlation_id: str = "") -> Result:
    """GET /r/{token}?score=N."""
    now = deps.clock()
    found = _answerable(deps, token, now)
    if found is None:
        return NOT_FOUND
    inv, programme = found
    score = parse_score(raw_score, inv.survey_type)
    if inv.comment is not None:  # complete: the answer is final once the comment form was sent
        return Page.COMMENTED, _view(deps, inv, programme, token).model_copy(
            update={"already_complete": True}
        )
    if score is None:
        return Page.CHOOSE, _view(deps, inv, programme, token)

    def answer(current: Invitation) -> tuple[Invitation, None] | None:
        if current.score == score or current.comment is not None:
            return None
        return bump(
            current,
            score=score,
            answered_at=current.answered_at or now,
            revision=current.revision + 1,
            # No reminder once answered (unless a dispatcher holds it right now: it re-reads first).
            due_at=current.due_at if current.claim else None,
        ), None

    after = _save_and_announce(deps, inv, programme, answer, correlation_id)
    if after is None:
        return NOT_FOUND
    return Page.ANSWER, _view(deps, after, programme, token)


def record_comment(deps: AnswerDeps, token: str, form: Mapping[str, str], correlation_id: str = "") -> Result:
    """POST /r/{token}: the comment (and the follow-up answer). Once only; empty is fine."""
    now = deps.clock()
    found = _answerable(deps, token, now)
    if found is None:
        return NOT_FOUND
    inv, programme = found
    if inv.score is None:
        return Page.CHOOSE, _view(deps, inv, programme, token)
    if inv.comment is not None:
        return Page.COMMENTED, _view(deps, inv, programme, token).model_copy(
            update={"already_complete": True}
        )
    comment = clean_text(form.get("comment"))
    follow_up = clean_text(form.get("follow_up")) if programme.follow_up_question else ""

    def add(current: Invitation) -> tuple[Invitation, None] | None:
        if current.comment is not None:
            return None
        said = bool(comment or follow_up)
        return bump(
            current,
            comment=comment,
            follow_up_answer=follow_up or None,
            revision=current.revision + (1 if said else 0),
        ), None

    after = _save_and_announce(deps, inv, programme, add, correlation_id)
    if after is None:
        return NOT_FOUND
    return Page.COMMENTED, _view(deps, after, programme, token)


def _unsubscribable(deps: AnswerDeps, token: str, now: datetime) -> tokens.Claims | None:
    return tokens.read(deps.links.keys, token, tokens.Purpose.UNSUBSCRIBE, now)


def _branding(deps: AnswerDeps, shop_id: str, token: str) -> PageView:
    programme = deps.programmes.get(shop_id)
    if programme is None:
        return PageView(form_action=f"{deps.links.public_url}/u/{token}")
    return PageView(
        language=programme.language,
        brand_name=programme.brand.name,
        colour=programme.brand.colour,
        logo_url=programme.brand.logo_url,
        form_action=f"{deps.links.public_url}/u/{token}",
    )


def confirm_unsubscribe(deps: AnswerDeps, token: str) -> Result:
    """GET /u/{token}: a page with the button; nothing changes."""
    claims = _unsubscribable(deps, token, deps.clock())
    if claims is None:
        return NOT_FOUND
    return Page.UNSUBSCRIBE, _branding(deps, claims.shop_id, token)


def unsubscribe(deps: AnswerDeps, token: str) -> Result:
    """POST /u/{token}: suppress the address for this shop at once, and drop a pending reminder."""
    now = deps.clock()
    claims = _unsubscribable(deps, token, now)
    if claims is None:
        return NOT_FOUND
    inv = deps.surveys.invitation(claims.shop_id, claims.invite_id)
    if inv is not None and inv.contact_key:
        contact = deps.surveys.contact(inv.shop_id, inv.contact_key)
        if contact is None or contact.suppressed is None:
            deps.surveys.suppress_contact(
                inv.shop_id,
                inv.contact_key,
                Reason.UNSUBSCRIBED,
                now,
                log_entry(inv, Reason.UNSUBSCRIBED, now),
            )
        drop_pending_send(deps.surveys, inv)
        if inv.email:
            announce_suppressed(deps.publisher, inv.shop_id, inv.email, Reason.UNSUBSCRIBED.value)
    # An invitation erased since: nobody left to mail; the answer is the same either way.
    return Page.UNSUBSCRIBED, _branding(deps, claims.shop_id, token)


def announce_suppressed(publisher: EventPublisher, shop_id: str, email: str, reason: str) -> None:
    """ContactSuppressed: other services that mail this customer (the notifier's replies) stop too."""
    detail = events.ContactSuppressed(email_hash=events.email_digest(email), reason=reason)
    publisher.publish(events.CONTACT_SUPPRESSED, shop_id, detail.model_dump(mode="json"), "")


def drop_pending_send(surveys: SurveyStore, inv: Invitation) -> None:
    def drop(current: Invitation) -> tuple[Invitation, None] | None:
        if current.due_at is None or current.claim:
            return None  # nothing due, or being sent now (the dispatcher re-checks the contact)
        return bump(current, due_at=None), None

    update(surveys, inv.shop_id, inv.invite_id, drop)


def suppress_address(
    surveys: SurveyStore,
    shop_id: str,
    contact_key: str,
    reason: Reason,
    invite: Invitation | None,
    now: datetime,
) -> None:
    """A bounce or complaint: never mail the address again for this shop."""
    entry = log_entry(invite, reason, now) if invite else None
    surveys.suppress_contact(shop_id, contact_key, reason, now, entry)
    if invite is not None:
        drop_pending_send(surveys, invite)
