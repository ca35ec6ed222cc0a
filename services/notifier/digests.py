"""The weekly digest of one shop, gathered from the notifier's records and sent to its destinations:
e-mail with the charts attached inline, Slack as Block Kit text.

Each destination gets the digest of a week once: a marker is set after it was accepted, so a daily run
that failed (Slack down, a deferred send) tries again the next day, and one that succeeded never
sends twice. A preview renders the same digest to a file without sending anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from services.notifier.domain import emerging, retention_snapshot
from services.notifier.domain.churn_refresh import RiskRow
from services.notifier.domain.digest import AtRisk, Digest, build_digest
from services.notifier.domain.digest_retention import retention_digest
from services.notifier.domain.drivers import drivers
from services.notifier.domain.intake import destinations
from services.notifier.domain.model import AlertSettings, Destination, DestinationKind
from services.notifier.domain.ports import NotifierStore
from services.notifier.domain.retention_snapshot import RetentionSnapshot
from services.notifier.domain.service_kpis import ServiceKpis, service_kpis
from services.notifier.domain.tallies import summed
from shared.clock import utcnow
from shared.mail.message import InlineImage, MailError, OutgoingEmail
from shared.tenancy import Shop

if TYPE_CHECKING:
    from services.notifier.bootstrap import Notifier
    from services.notifier.rendering import RenderedDigest

TREND_WEEKS = 8
MARK_TTL = timedelta(days=60)
QUARTER = timedelta(days=91)  # what drives the score: the last 13 weeks
DEFAULT_TARGET_HOURS = AlertSettings().first_reply_target_hours


def period_end(now: datetime, weekday: int) -> datetime:
    """Midnight UTC starting the most recent ``weekday`` (ISO, 1 = Monday) at or before ``now``."""
    today = now.astimezone(UTC).date()
    back = (today.isoweekday() - weekday) % 7
    return datetime.combine(today - timedelta(days=back), time(0), tzinfo=UTC)


def loop_figures(store: NotifierStore, shop_id: str, end: datetime, target_hours: float) -> dict[str, Any]:
    """The quarter's drivers and the two weeks' service figures, from one query of the days' totals
    (at most 91 items: a day an item); the phrases rising in the week of the digest's last day."""
    first, last = (end - QUARTER).date(), (end - timedelta(days=1)).date()
    days = store.days(shop_id, first.isoformat(), last.isoformat())

    def service(start: date) -> ServiceKpis:
        stop = start + timedelta(days=6)
        return service_kpis(summed(d for d in days if start <= d.day <= stop), start, stop, target_hours)

    return {
        "emerging": emerging.refresh(store, shop_id, end - timedelta(microseconds=1), keep=False),
        "drivers": drivers(summed(days)),
        "service": service(last - timedelta(days=6)),
        "service_previous": service(last - timedelta(days=13)),
    }


def gather(
    store: NotifierStore,
    shop: Shop,
    end: datetime,
    at_risk: Sequence[RiskRow],
    *,
    snapshot: RetentionSnapshot | None = None,
    target_hours: float = DEFAULT_TARGET_HOURS,
) -> Digest:
    week = timedelta(days=7)
    sent = store.sent_between(shop.shop_id, (end - 2 * week).date().isoformat(), end.date().isoformat())

    def total(start: datetime) -> dict[str, int]:
        days = {(start + timedelta(days=i)).date().isoformat() for i in range(7)}
        counts: dict[str, int] = {}
        for day, by_type in sent.items():
            if day in days:
                for survey_type, n in by_type.items():
                    counts[survey_type] = counts.get(survey_type, 0) + n
        return counts

    run = store.risk_run(shop.shop_id)
    digest = build_digest(
        shop.name,
        end,
        [a for a in store.answers_since(shop.shop_id, end - TREND_WEEKS * week) if a.answered_at < end],
        [m for m in store.mentions_since(shop.shop_id, end - 2 * week) if m.scored_at < end],
        store.cases(shop.shop_id),
        sent=total(end - week),
        sent_previous=total(end - 2 * week),
        at_risk=[
            AtRisk(
                name=r.name,
                risk=r.risk,
                spend_year=r.spend_year,
                reasons=list(r.reasons),
                spend_total=r.spend_total,
                orders=r.orders,
                email=r.email,
            )
            for r in at_risk
        ],
        currency=run.currency if run else None,
        at_risk_computed_at=run.computed_at if run else None,
        at_risk_valuable_from=run.valuable_from if run else None,
    )
    digest = digest.model_copy(update=loop_figures(store, shop.shop_id, end, target_hours))
    if snapshot is None:
        return digest
    return digest.model_copy(update={"retention": retention_digest(snapshot)})


def render(digest: Digest) -> RenderedDigest:
    from services.notifier.digest_charts import render_charts
    from services.notifier.rendering import render_digest

    return render_digest(digest, render_charts(digest))


def preview(built: Notifier, shop: Shop, now: datetime) -> str:
    """The digest of the 7 days up to ``now`` (what next Monday's would say so far), with its charts
    inline as data: URIs (``cxloop digest --preview``)."""
    from services.notifier.domain.churn_refresh import refresh
    from services.notifier.rendering import preview_html

    at_risk = refresh(built.intake(), shop.shop_id, now)
    snapshot = retention_snapshot.refresh(built.store, built.retention(), shop.shop_id, now)
    target = built.settings.get(shop.shop_id).first_reply_target_hours
    return preview_html(
        render(gather(built.store, shop, now, at_risk, snapshot=snapshot, target_hours=target))
    )


def send_digest(built: Notifier, shop: Shop, now: datetime, at_risk: Sequence[RiskRow]) -> int:
    """Send this week's digest where it has not gone yet; the number of destinations it reached."""
    end = period_end(now, built.config.digest_weekday)
    settings = built.settings.get(shop.shop_id)
    targets = destinations(settings, shop, settings.digest_destinations)
    week = end.date().isoformat()
    due = [d for d in targets if not built.store.is_marked(shop.shop_id, f"digest#{week}#{d.name}")]
    if not due:
        return 0
    snapshot = retention_snapshot.latest(built.retention(), shop.shop_id, now)
    digest = gather(
        built.store, shop, end, at_risk, snapshot=snapshot, target_hours=settings.first_reply_target_hours
    )
    rendered = render(digest) if any(d.kind is DestinationKind.EMAIL for d in due) else None
    sent = 0
    for destination in due:
        if _deliver(built, shop, destination, digest, rendered, week):
            built.store.mark_once(shop.shop_id, f"digest#{week}#{destination.name}", now + MARK_TTL)
            sent += 1
    return sent


def _deliver(
    built: Notifier,
    shop: Shop,
    destination: Destination,
    digest: Digest,
    rendered: RenderedDigest | None,
    week: str,
) -> bool:
    state = built.store.destination_state(shop.shop_id, destination.name)
    if state.broken or (state.blocked_until and state.blocked_until > utcnow()):
        return False  # the sender's pace and Retry-After hold for the digest too; tried again tomorrow
    if destination.kind is DestinationKind.SLACK:
        from services.notifier.adapters.slack_webhook import Delivered, SlackWebhook
        from services.notifier.domain.digest_slack import digest_slack

        url = (built.hooks().get(shop.shop_id, "slack") or {}).get(destination.name)
        return bool(url) and isinstance(SlackWebhook().post(url or "", digest_slack(digest)), Delivered)
    if rendered is None or not destination.address:
        return False
    email = OutgoingEmail(
        sender=built.config.sender,
        to=destination.address,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_id=f"<digest-{week}-{destination.name}@{shop.shop_id}.cxloop>",
        tags={"shop": shop.shop_id, "kind": "digest"},
        inline=tuple(
            InlineImage(content_id=i.content_id, filename=i.filename, data=i.png) for i in rendered.images
        ),
    )
    try:
        built.mailer().send(email)
    except MailError:
        return False  # tried again by the next daily run
    return True
