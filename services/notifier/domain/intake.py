"""What the notifier does with each event it hears: keep the answer or mention, fire the shop's rules,
open a case, and put each alert in its destination's batch.

Every step is idempotent, so a redelivered event changes nothing: answers and mentions keep the newest
revision, cases are created once per subject, alerts once per rule, subject and destination.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.domain.cases import update_case
from services.notifier.domain.housekeeping import risk_changed
from services.notifier.domain.model import (
    Alert,
    AlertSettings,
    Case,
    CaseEvent,
    Destination,
    DestinationKind,
    Mention,
    ReplyMode,
    ReplyState,
    RuleKind,
    SurveyAnswer,
)
from services.notifier.domain.ports import Added, BatchRef, NotifierStore, SettingsSource
from services.notifier.domain.rules import Firing, for_answer, for_mention, surging
from services.notifier.domain.service_kpis import recontact_of
from services.notifier.domain.windows import late_window, window
from shared.events import SOURCE_FAILING, FeedbackScored, ResponseRecorded
from shared.tenancy import Shop, ShopDirectory
from shared.themes import theme_label

OWNER = "owner"
# A review published longer ago than this is history when it arrives (a source's first pull reads up to
# 500 of them, an import any number): it is kept, but opens no case and raises no alert.
OLD_NEWS = timedelta(days=14)  # the implicit destination: the shop owner's e-mail, when no destination is set
SURGE_DAYS = 7

# (shop_id, case_id) → the approve link put in alerts (None: no link, e.g. no public URL configured)
ApproveLinks = Callable[[str, str], str | None]


@dataclass(frozen=True)
class IntakeDeps:
    store: NotifierStore
    settings: SettingsSource
    shops: ShopDirectory
    approve_link: ApproveLinks


def destinations(settings: AlertSettings, shop: Shop | None, names: Sequence[str]) -> list[Destination]:
    """The destinations a rule (or the digest) names; all of them when it names none; the owner's
    e-mail when the shop has none."""
    configured = list(settings.destinations)
    if not configured:
        address = shop.owner_email if shop else None
        return [Destination(name=OWNER, kind=DestinationKind.EMAIL, address=address)] if address else []
    return [d for d in configured if not names or d.name in names]


def answer_of(event: ResponseRecorded) -> SurveyAnswer:
    return SurveyAnswer(
        invite_id=event.invite_id,
        revision=event.revision,
        survey_type=event.survey_type,
        score=event.score,
        answered_at=event.answered_at,
        comment=event.comment,
        order_id=event.order_id,
        order_name=event.order_name,
        customer_key=event.customer_key,
        email=event.email,
        first_name=event.first_name,
        language=event.language,
        brand_name=event.brand_name,
        brand_sender=event.brand_sender,
    )


def mention_of(event: FeedbackScored) -> Mention:
    return Mention(
        mention_id=event.subject_id,
        revision=event.revision,
        source=event.source or "unknown",
        rating=event.rating,
        url=event.url,
        excerpt=event.excerpt,
        sentiment=event.sentiment,
        themes=event.themes,
        scored_at=event.scored_at,
        published_at=event.published_at,
        takes_replies=event.takes_replies,
    )


def on_response(deps: IntakeDeps, shop_id: str, event: ResponseRecorded, now: datetime) -> list[Alert]:
    answer = answer_of(event)
    if not deps.store.put_answer(shop_id, answer):
        return []  # a stale revision: the newer one decided
    if answer.customer_key:
        risk_changed(deps.store, shop_id, now)  # a low score raises the customer's churn risk
    # Also for a duplicate of the newest revision: a crash after storing it must still alert (alerts and
    # cases are idempotent).
    settings = deps.settings.get(shop_id)
    if answer.revision > 1:
        _case_answer(deps.store, shop_id, answer, now)  # the comment came after the score, or it changed
    firings = for_answer(settings, answer)
    return _act(deps, shop_id, settings, firings, lambda: _answer_case(shop_id, answer), now)


def on_scored(deps: IntakeDeps, shop_id: str, event: FeedbackScored, now: datetime) -> list[Alert]:
    settings = deps.settings.get(shop_id)
    alerts = _surges(deps, shop_id, settings, event, now)
    if event.subject == "response":
        deps.store.put_reading(shop_id, event.subject_id, event.revision, event.sentiment, event.themes)
        _case_themes(deps.store, shop_id, f"response:{event.subject_id}", event)
        return alerts
    mention = mention_of(event)
    if not deps.store.put_mention(shop_id, mention):
        return alerts  # seen: this revision or a newer one was handled
    if mention.published_at and now - mention.published_at > OLD_NEWS:
        return alerts  # history (a first pull, an import): kept for the digest, no alert, no case
    firings = for_mention(settings, mention)
    return alerts + _act(deps, shop_id, settings, firings, lambda: _mention_case(shop_id, mention), now)


def _act(
    deps: IntakeDeps,
    shop_id: str,
    settings: AlertSettings,
    firings: list[Firing],
    make_case: Callable[[], Case],
    now: datetime,
) -> list[Alert]:
    if not firings:
        return []
    case_id = None
    if any(f.rule.opens_case for f in firings):
        case = _new_case(make_case(), settings, now, [f.rule.kind for f in firings])
        if case.customer_key:
            earlier = deps.store.customer_cases(shop_id, case.customer_key)
            case = case.model_copy(update={"recontact_of": recontact_of(case, earlier)})
        deps.store.open_case(case)
        case_id = case.case_id
    shop = deps.shops.get(shop_id)
    link = (
        deps.approve_link(shop_id, case_id) if case_id and settings.reply_mode is not ReplyMode.OFF else None
    )
    alerts = []
    for firing in firings:
        alert = Alert(
            shop_id=shop_id,
            key=firing.key,
            rule=firing.rule.kind,
            delivery=firing.rule.delivery,
            at=now,
            title=firing.title,
            text=firing.text,
            url=firing.url,
            case_id=case_id,
            approve_url=link,
            customer_key=make_case().customer_key if case_id else None,
        )
        alerts.extend(raise_alert(deps.store, settings, shop, alert, firing.rule.destinations))
    return alerts


def raise_alert(
    store: NotifierStore, settings: AlertSettings, shop: Shop | None, alert: Alert, names: Sequence[str]
) -> list[Alert]:
    """Put the alert in each destination's batch for its window; the alerts that were new."""
    raised = []
    timezone = shop.timezone if shop else "UTC"
    for destination in destinations(settings, shop, names):
        key, due = window(alert.delivery, alert.at, timezone)
        added = store.add_alert(alert, BatchRef(alert.shop_id, destination.name, key), due)
        if added is Added.CLOSED:
            key, due = late_window(alert.at)
            added = store.add_alert(alert, BatchRef(alert.shop_id, destination.name, key), due)
        if added is Added.NEW:
            raised.append(alert)
    return raised


def on_source_health(
    deps: IntakeDeps, shop_id: str, detail_type: str, data: dict[str, object], now: datetime
) -> list[Alert]:
    """SourceFailing / SourceRecovered from the reviews service: the owner should know their Trustpilot
    (or Google...) connection broke, since no review of it arrives until it is fixed."""
    settings = deps.settings.get(shop_id)
    rule = settings.rule(RuleKind.SOURCE_HEALTH)
    if rule is None:
        return []
    source, since = str(data.get("source", "a source")), str(data.get("since", now.isoformat()))
    failing = detail_type == SOURCE_FAILING
    title = f"{source} connection broken" if failing else f"{source} connection works again"
    alert = Alert(
        shop_id=shop_id,
        key=f"{rule.kind.value}#{source}:{'failing' if failing else 'recovered'}:{since}",
        rule=rule.kind,
        delivery=rule.delivery,
        at=now,
        title=title,
        text=str(data.get("message", "")) if failing else f"Reviews from {source} are pulled again.",
    )
    return raise_alert(deps.store, settings, deps.shops.get(shop_id), alert, rule.destinations)


def _answer_case(shop_id: str, answer: SurveyAnswer) -> Case:
    return Case(
        case_id=f"response:{answer.invite_id}",
        shop_id=shop_id,
        subject="response",
        subject_id=answer.invite_id,
        opened_at=answer.answered_at,
        target_at=answer.answered_at,
        customer_key=answer.customer_key,
        first_name=answer.first_name,
        email=answer.email,
        survey_type=answer.survey_type,
        score=answer.score,
        comment=answer.comment,
        order_id=answer.order_id,
        order_name=answer.order_name,
        brand_name=answer.brand_name,
        brand_sender=answer.brand_sender,
        themes=answer.themes,
    )


def _mention_case(shop_id: str, mention: Mention) -> Case:
    return Case(
        case_id=f"mention:{mention.mention_id}",
        shop_id=shop_id,
        subject="mention",
        subject_id=mention.mention_id,
        opened_at=mention.scored_at,
        target_at=mention.scored_at,
        source=mention.source,
        rating=mention.rating,
        url=mention.url,
        comment=mention.excerpt,
        takes_replies=mention.takes_replies,
        themes=mention.themes,
    )


def _new_case(case: Case, settings: AlertSettings, now: datetime, rules: list[RuleKind]) -> Case:
    state, due = ReplyState.NONE, None
    can_mail = case.subject == "response" and case.email
    if settings.reply_mode is ReplyMode.AUTOMATIC and can_mail:
        state, due = ReplyState.SCHEDULED, now + timedelta(minutes=settings.reply_hold_minutes)
    elif settings.reply_mode is not ReplyMode.OFF and (can_mail or case.subject == "mention"):
        state = ReplyState.AWAITING_APPROVAL  # a public reply always waits for the owner
    return case.model_copy(
        update={
            "opened_at": now,
            "target_at": now + timedelta(hours=settings.first_reply_target_hours),
            "rules": rules,
            "reply_state": state,
            "reply_due_at": due,
            "history": [CaseEvent(at=now, what="opened", note=", ".join(r.value for r in rules))],
        }
    )


def _case_answer(store: NotifierStore, shop_id: str, answer: SurveyAnswer, now: datetime) -> None:
    """A case keeps what the customer said last: a comment added after the score, a changed score."""

    def change(case: Case) -> dict[str, object] | None:
        if (case.score, case.comment) == (answer.score, answer.comment):
            return None
        note = f"score {case.score} → {answer.score}" if case.score != answer.score else "comment added"
        return {
            "score": answer.score,
            "comment": answer.comment,
            "history": [*case.history, CaseEvent(at=now, what="answer_changed", note=note)],
        }

    update_case(store, shop_id, f"response:{answer.invite_id}", change)


def _case_themes(store: NotifierStore, shop_id: str, case_id: str, event: FeedbackScored) -> None:
    """The reading came after the case was opened: the case (and the reply drafted from it) gets themes."""

    def change(case: Case) -> dict[str, object] | None:
        return None if case.themes == event.themes else {"themes": event.themes}

    update_case(store, shop_id, case_id, change)


def _surges(
    deps: IntakeDeps, shop_id: str, settings: AlertSettings, event: FeedbackScored, now: datetime
) -> list[Alert]:
    if event.published_at and now - event.published_at > OLD_NEWS:
        return []  # old reviews arriving today are no surge of today's
    rule = settings.rule(RuleKind.THEME_SURGE)
    negative = sorted({t.theme for t in event.themes if t.sentiment == "negative"})
    if rule is None or not negative:
        return []
    day = now.date()
    before = [(day - timedelta(days=i)).isoformat() for i in range(1, SURGE_DAYS + 1)]
    shop, alerts = None, []
    for theme in negative:
        today = deps.store.count_theme(shop_id, theme, day.isoformat(), f"{event.subject}:{event.subject_id}")
        usual = deps.store.theme_counts(shop_id, theme, before) if today >= rule.surge_min else []
        if not surging(rule, today, usual):
            continue
        shop = shop or deps.shops.get(shop_id)
        label = theme_label(theme)
        alert = Alert(
            shop_id=shop_id,
            key=f"{rule.kind.value}#theme:{theme}:{day.isoformat()}",
            rule=rule.kind,
            delivery=rule.delivery,
            at=now,
            title=f"Complaints about {label} are surging: {today} today",
            text=f"{today} negative mentions of {label} today, against about "
            f"{max(1, round(sum(usual) / SURGE_DAYS))} on a usual day.",
        )
        alerts.extend(raise_alert(deps.store, settings, shop, alert, rule.destinations))
    return alerts
