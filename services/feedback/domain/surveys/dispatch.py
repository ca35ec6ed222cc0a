"""The dispatcher's use case: due invitations → claimed → rendered → sent → recorded.

Claiming is one transaction: the invitation's conditional write (its version; a lease as the new due
time) together with the contact's guard (not suppressed; not surveyed within the throttle window,
marked as surveyed now). Two dispatchers reading the same due invitation cannot both win it, and
two invitations for one person cannot both pass the throttle. A dispatcher that dies after claiming
leaves a lease that expires, and the invitation comes due again (the e-mail keeps its Message-ID, so
a receiver can drop a second copy).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formataddr
from typing import Protocol

from services.feedback.domain.ports import EventPublisher, ProgrammeStore, SurveyStore, Written
from services.feedback.domain.surveys.changes import bump, log_entry, update
from services.feedback.domain.surveys.invitations import (
    ContactGuard,
    GuardMode,
    Invitation,
    Reason,
    Stage,
    Status,
)
from services.feedback.domain.surveys.links import Links
from services.feedback.domain.surveys.programme import SCALES, SurveyProgramme
from services.feedback.domain.surveys.rules import DAY, reminder_due, throttle_since
from services.feedback.domain.surveys.views import InvitationEmail, ScoreLink
from shared.events import SURVEYS_SENT, SurveysSent
from shared.mail.message import Mailer, MailError, OutgoingEmail

UNSUBSCRIBE_VALIDITY = timedelta(days=365)
# Claims lost in a row before a dispatcher leaves that part of the due index to the one ahead of it.
LOST_STREAK = 2


class Rendered(Protocol):
    @property
    def subject(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class DispatchDeps:
    surveys: SurveyStore
    programmes: ProgrammeStore
    mailer: Mailer
    render: Callable[[InvitationEmail], Rendered]
    links: Links
    day: timedelta = DAY
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 8
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())


@dataclass
class DispatchReport:
    sent: int = 0
    reminders: int = 0
    lost: int = 0  # another dispatcher (or a planner) changed it first
    deferred: int = 0
    failed: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    # First invitations sent, per (shop, survey type): announced as SurveysSent for response rates.
    invited: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "reminders": self.reminders,
            "lost": self.lost,
            "deferred": self.deferred,
            "failed": self.failed,
            "suppressed": dict(self.suppressed),
        }


def compose(inv: Invitation, programme: SurveyProgramme, deps: DispatchDeps, now: datetime) -> OutgoingEmail:
    if not inv.email:
        raise ValueError("an invitation without an address cannot be composed")
    low, high = SCALES[inv.survey_type]  # the invitation's type, even if the shop changed it since
    answer_until = now + timedelta(days=programme.rules.answer_days)
    unsubscribe_url = deps.links.unsubscribe(inv, now + UNSUBSCRIBE_VALIDITY)
    brand = programme.brand
    view = InvitationEmail(
        language=programme.language,
        brand_name=brand.name,
        colour=brand.colour,
        logo_url=brand.logo_url,
        survey_type=inv.survey_type,
        question=programme.question_text(inv.survey_type),
        first_name=inv.first_name,
        order_name=inv.order_name,
        scale=[ScoreLink(score=s, url=deps.links.answer(inv, s, answer_until)) for s in range(low, high + 1)],
        unsubscribe_url=unsubscribe_url,
        reminder=inv.stage is Stage.REMINDER,
    )
    rendered = deps.render(view)
    domain = brand.sender.rpartition("@")[2]
    return OutgoingEmail(
        sender=formataddr((brand.name, brand.sender)),
        to=inv.email,
        reply_to=brand.reply_to,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_id=f"<{inv.invite_id}.{inv.stage.value}@{domain}>",
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        tags={"shop": inv.shop_id, "invite": inv.invite_id, "stage": inv.stage.value},
    )


def backoff(attempts: int, retry_after_s: float | None) -> timedelta:
    """1, 2, 4 ... minutes, at most 6 hours; a provider's Retry-After wins when it is longer."""
    wait = min(60.0 * 2 ** max(attempts - 1, 0), 6 * 3600.0)
    return timedelta(seconds=max(wait, retry_after_s or 0.0))


class Dispatcher:
    """One run: sends what is due until the batch is done or the deadline passes."""

    def __init__(self, deps: DispatchDeps, run_id: str) -> None:
        self._deps = deps
        self._run = run_id
        self._programmes: dict[str, SurveyProgramme | None] = {}
        self.report = DispatchReport()

    def _programme(self, shop_id: str) -> SurveyProgramme | None:
        if shop_id not in self._programmes:
            self._programmes[shop_id] = self._deps.programmes.get(shop_id)
        return self._programmes[shop_id]

    def run(self, limit: int = 500, deadline_s: float = 50.0) -> DispatchReport:
        started = time.monotonic()
        start = int.from_bytes(self._run.encode()[-4:], "big")
        handled = 0
        try:
            while handled < limit and time.monotonic() - started <= deadline_s:
                moved = False
                streak = 0
                for inv in self._deps.surveys.due(self._deps.clock(), limit - handled, start):
                    if time.monotonic() - started > deadline_s:
                        break  # the rest stays due for the next run
                    lost = self.report.lost
                    self.one(inv)
                    handled += 1
                    streak = streak + 1 if self.report.lost > lost else 0
                    if streak >= LOST_STREAK:
                        # Another dispatcher is working through the same part of the index: move on
                        # to another, rather than losing every claim behind it.
                        start, moved = start + 1, True
                        break
                if not moved:
                    break
        finally:
            self._deps.mailer.close()
        return self.report

    def _settle(self, inv: Invitation, reason: Reason, now: datetime) -> None:
        """Do not send: suppressed for good (the first e-mail) or no reminder (after it)."""
        if inv.stage is Stage.INVITE:
            new = bump(inv, status=Status.SUPPRESSED, reason=reason, due_at=None, claim=None)
            log = log_entry(new, reason, now)
        else:
            new = bump(inv, due_at=None, claim=None)
            log = log_entry(new, reason, now, "reminder not sent")
        if self._deps.surveys.write(new, inv.version, log=log) is Written.OK:
            self.report.suppressed[reason.value] += 1
        else:
            self.report.lost += 1

    def one(self, inv: Invitation) -> None:
        now = self._deps.clock()
        programme = self._programme(inv.shop_id)
        if programme is None or not programme.enabled:
            self._settle(inv, Reason.DISABLED, now)
            return
        if not inv.email or not inv.contact_key:
            self._settle(inv, Reason.NO_EMAIL, now)
            return
        if inv.stage is Stage.REMINDER and inv.answered_at is not None:
            self._deps.surveys.write(bump(inv, due_at=None), inv.version)
            return
        claimed = self._claim(inv, programme, now)
        if claimed is None:
            return
        try:
            email = compose(claimed, programme, self._deps, now)
            provider_id = self._deps.mailer.send(email)
        except MailError as e:
            self._failed(claimed, e, now)
            return
        self._sent(claimed, programme, email.message_id, provider_id)

    def _claim(self, inv: Invitation, programme: SurveyProgramme, now: datetime) -> Invitation | None:
        invite = inv.stage is Stage.INVITE
        guard = ContactGuard(
            key=str(inv.contact_key),
            mode=GuardMode.SURVEY if invite else GuardMode.REMINDER,
            invite_id=inv.invite_id,
            at=now,
            since=throttle_since(now, programme, self._deps.day),
        )
        claimed = bump(
            inv,
            claim=self._run,
            due_at=now + self._deps.lease,
            status=Status.SENDING if invite else inv.status,
        )
        written = self._deps.surveys.write(claimed, inv.version, guard=guard)
        if written is Written.CONFLICT:
            self.report.lost += 1
            return None
        if written is Written.BLOCKED:
            contact = self._deps.surveys.contact(inv.shop_id, guard.key)
            reason = contact.suppressed if contact and contact.suppressed else Reason.THROTTLED
            self._settle(inv, reason, now)
            return None
        return claimed

    def _sent(
        self, claimed: Invitation, programme: SurveyProgramme, message_id: str, provider_id: str
    ) -> None:
        now = self._deps.clock()
        invite = claimed.stage is Stage.INVITE

        def mark(current: Invitation) -> tuple[Invitation, None]:
            common = {"claim": None, "attempts": 0, "last_error": None, "message_id": message_id}
            if not invite:
                return bump(current, reminded_at=now, due_at=None, **common), None
            nxt = reminder_due(now, programme, self._deps.day) if current.answered_at is None else None
            stage = Stage.REMINDER if nxt else Stage.INVITE
            sent_at = current.sent_at or now
            return bump(current, status=Status.SENT, sent_at=sent_at, due_at=nxt, stage=stage, **common), None

        # Usually nothing changed since the claim: write on top of it without reading it again.
        if self._deps.surveys.write(mark(claimed)[0], claimed.version) is not Written.OK:
            update(self._deps.surveys, claimed.shop_id, claimed.invite_id, mark)
        if invite:
            self.report.sent += 1
            self.report.invited[(claimed.shop_id, str(claimed.survey_type))] += 1
        else:
            self.report.reminders += 1
        del provider_id  # SES's own id is in the provider's logs; our Message-ID identifies the send

    def _failed(self, claimed: Invitation, error: MailError, now: datetime) -> None:
        attempts = claimed.attempts + 1
        invite = claimed.stage is Stage.INVITE
        if not error.permanent and attempts < self._deps.max_attempts:
            retry = bump(
                claimed,
                claim=None,
                attempts=attempts,
                last_error=error.message[:500],
                status=Status.PLANNED if invite else claimed.status,
                due_at=now + backoff(attempts, error.retry_after_s),
            )
            self._deps.surveys.write(retry, claimed.version)
            self.report.deferred += 1
            return
        failed = bump(
            claimed,
            claim=None,
            attempts=attempts,
            last_error=error.message[:500],
            status=Status.FAILED if invite else claimed.status,
            reason=Reason.FAILED if invite else claimed.reason,
            due_at=None,
        )
        # A survey that never went out does not count against the person's throttle window.
        guard = ContactGuard(
            key=str(claimed.contact_key), mode=GuardMode.RELEASE, invite_id=claimed.invite_id, at=now
        )
        log = log_entry(failed, Reason.FAILED, now, error.message[:300])
        self._deps.surveys.write(failed, claimed.version, log=log, guard=guard if invite else None)
        self.report.failed += 1


def announce_sent(publisher: EventPublisher, report: DispatchReport, run_id: str, now: datetime) -> int:
    """One SurveysSent per shop of the run (the notifier's response rates). Best effort: a failure is
    logged by the caller and costs a response rate's precision, never a survey."""
    by_shop: dict[str, dict[str, int]] = {}
    for (shop_id, survey_type), count in report.invited.items():
        by_shop.setdefault(shop_id, {})[survey_type] = count
    for shop_id, counts in sorted(by_shop.items()):
        sent = SurveysSent(run_id=run_id, day=now.astimezone(UTC).date().isoformat(), counts=counts)
        publisher.publish(SURVEYS_SENT, shop_id, sent.model_dump(mode="json"), run_id)
    return len(by_shop)
