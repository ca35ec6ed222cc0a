"""What the API and the pages do, once: every function takes the caller's shop and reads or acts only
in it. The handlers translate HTTP; this module knows the stores."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from services.dashboard.bootstrap import Dashboard
from services.dashboard.domain import paging, reports
from services.dashboard.domain.model import (
    BANDS,
    CasePage,
    CaseView,
    CustomerPage,
    ErasureReceipt,
    ErasureRequest,
    FeedItem,
    FeedPage,
    Overview,
    RetentionReport,
    ServiceReport,
    SuppressionPage,
    SuppressionView,
    ThemesReport,
    case_view,
    customer_at_risk,
    feed_item,
)
from services.feedback.api import CustomerRef, SurveyProgramme
from services.notifier.api import (
    AlertSettings,
    BadPosition,
    Case,
    DayTotals,
    FeedFilter,
    ReplyRefused,
    definitions,
    drivers,
    service_kpis,
    summed,
)
from shared.errors import BadRequest, Conflict, NotFound
from shared.money import money
from shared.themes import LABELS, theme_label

OVERVIEW_WEEKS = 12
THEME_DAYS = 28  # the overview's themes: the last 4 weeks against the 4 before
THEME_CHOICE_DAYS = 84  # the feed's theme filter lists the themes seen in the last 12 weeks first
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
MAX_RANGE_DAYS = 3 * 366
EXPORT_ROWS = 10_000
EXPORT_PAGE = 500
EXPORT_PAGES = 20  # feed pages read for one export response (each examines at most 1,000 records)
EXPORT_BYTES = 4_000_000  # a Lambda response is at most 6 MB; a page of long comments stays below it


def period(start: date | None, end: date | None, today: date, default_days: int) -> tuple[date, date]:
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise BadRequest(f"{name}: {value} is out of range; dates run from {EARLIEST} to {LATEST}")
    last = end or today
    first = start or max(EARLIEST, last - timedelta(days=default_days - 1))
    if first > last:
        raise BadRequest("from must not be after to")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise BadRequest(f"a period is at most {MAX_RANGE_DAYS} days")
    if first < EARLIEST or last > LATEST:
        raise BadRequest(f"dates run from {EARLIEST} to {LATEST}")
    return first, last


def metrics(
    d: Dashboard, shop_id: str, first: date, last: date, interval: reports.Interval
) -> reports.MetricsReport:
    return reports.report(d.notifier.days(shop_id, first, last), first, last, interval)


def _themes(days: list[DayTotals], first: date, last: date) -> ThemesReport:
    span = (last - first).days + 1
    previous_first, previous_last = first - timedelta(days=span), first - timedelta(days=1)
    return ThemesReport(
        start=first,
        end=last,
        previous_start=previous_first,
        previous_end=previous_last,
        themes=reports.themes(
            [x for x in days if first <= x.day <= last],
            [x for x in days if previous_first <= x.day <= previous_last],
        ),
    )


def theme_choices(d: Dashboard, shop_id: str, today: date) -> dict[str, str]:
    """The themes a filter offers, id → label: those of the shop's answers and reviews in the last
    weeks (a shop's own taxonomy included), then the catalogue's, each by its one label."""
    days = d.notifier.days(shop_id, today - timedelta(days=THEME_CHOICE_DAYS - 1), today)
    seen = [row.theme for row in reports.themes(days, [])]
    ids = sorted(set(seen), key=theme_label) + sorted(set(LABELS) - set(seen), key=theme_label)
    return {i: theme_label(i) for i in ids}


def themes(d: Dashboard, shop_id: str, first: date, last: date) -> ThemesReport:
    """One query of the days' totals (the period and the one before: at most 2 x its days items) serves
    the counts and what each theme costs the score; one item the emerging topics."""
    span = (last - first).days + 1
    days = d.notifier.days(shop_id, first - timedelta(days=span), last)
    report = _themes(days, first, last)
    current = summed(x for x in days if first <= x.day <= last)
    found = d.notifier.emerging(shop_id)
    return report.model_copy(update={"drivers": drivers(current), "emerging": found})


def service(d: Dashboard, shop_id: str, first: date, last: date) -> ServiceReport:
    """The loop's service figures (decision 123): one query of the period's day totals (a day an item)
    and the alert settings' item (the first-reply target)."""
    days = d.notifier.days(shop_id, first, last)
    target = d.notifier.alert_settings(shop_id).first_reply_target_hours
    weeks = []
    start = first - timedelta(days=first.weekday())
    while start <= last:
        end = min(start + timedelta(days=6), last)
        week = summed(x for x in days if max(start, first) <= x.day <= end)
        weeks.append(service_kpis(week, max(start, first), end, target))
        start += timedelta(days=7)
    return ServiceReport(total=service_kpis(summed(days), first, last, target), weeks=weeks)


def overview(d: Dashboard, shop_id: str, now: datetime) -> Overview:
    """One read of the days' totals serves the trend and the themes (the themes' 8 weeks lie within
    the trend's 12), one of the open cases' markers the counts."""
    today = now.date()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=OVERVIEW_WEEKS - 1)
    days = d.notifier.days(shop_id, first, today)
    shop = d.notifier.shop(shop_id)
    open_cases, overdue = d.notifier.open_cases(shop_id, now)
    return Overview(
        shop_id=shop_id,
        shop_name=shop.name if shop else shop_id,
        metrics=reports.report(days, first, today, reports.Interval.WEEK),
        themes=_themes(days, today - timedelta(days=THEME_DAYS - 1), today),
        open_cases=open_cases,
        overdue_cases=overdue,
    )


def retention(d: Dashboard, shop_id: str, now: datetime) -> RetentionReport:
    """The daily run's snapshot as it is (one or two item reads): no order is read here."""
    snapshot = d.notifier.retention(shop_id, now)
    return RetentionReport(snapshot=snapshot, definitions=definitions(snapshot.horizon if snapshot else None))


@dataclass(frozen=True)
class FeedQuery:
    start: date | None = None
    end: date | None = None
    kind: str | None = None
    channel: str | None = None
    survey_type: str | None = None
    band: str | None = None
    sentiment: str | None = None
    theme: str | None = None
    has_text: bool | None = None

    def filter(self) -> FeedFilter:
        survey_type, low, high = self.survey_type, None, None
        if self.band:
            band_type, low, high = BANDS[self.band]
            if survey_type and survey_type != band_type:
                raise BadRequest(f"band {self.band} is of {band_type}, not {survey_type}")
            survey_type = band_type
        if self.start and self.end and self.start > self.end:
            raise BadRequest("from must not be after to")
        if any(d and not EARLIEST <= d <= LATEST for d in (self.start, self.end)):
            raise BadRequest(f"dates run from {EARLIEST} to {LATEST}")
        return FeedFilter(
            since=datetime.combine(self.start, time(), tzinfo=UTC) if self.start else None,
            until=datetime.combine(self.end, time.max, tzinfo=UTC) if self.end else None,
            kind=self.kind,
            channel=self.channel,
            survey_type=survey_type,
            min_score=low,
            max_score=high,
            sentiment=self.sentiment,
            theme=self.theme,
            has_text=self.has_text,
        )


def _position(cursor: str | None) -> dict[str, str] | None:
    try:
        return paging.decode(cursor)
    except paging.BadCursor as e:
        raise BadRequest(str(e)) from e


T = TypeVar("T")


def _paged(
    fetch: Callable[[dict[str, str] | None], tuple[list[T], dict[str, str] | None]], cursor: str | None
) -> tuple[list[T], str | None]:
    """One page of a list from the cursor the caller was given, and the cursor of the next."""
    try:
        found, position = fetch(_position(cursor))
    except BadPosition as e:
        raise BadRequest("cursor is not one this list gave out") from e
    return found, paging.encode(position)


def feed(d: Dashboard, shop_id: str, query: FeedQuery, limit: int, cursor: str | None) -> FeedPage:
    chosen = query.filter()
    records, after = _paged(lambda at: d.notifier.feed(shop_id, chosen, limit, at), cursor)
    return FeedPage(items=[feed_item(r) for r in records], next_cursor=after)


CSV_COLUMNS = (
    "id", "kind", "channel", "at", "survey_type", "score", "rating", "sentiment", "sentiment_score",
    "themes", "negative_themes", "first_name", "order_name", "url", "text",
)  # fmt: skip


def _csv_row(item: FeedItem) -> list[str]:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text

    return [
        cell(v)
        for v in (
            item.id, item.kind, item.channel, item.at.isoformat(), item.survey_type, item.score,
            item.rating, item.sentiment.label if item.sentiment else None,
            f"{item.sentiment.score:.3f}" if item.sentiment else None,
            " ".join(t.theme for t in item.themes),
            " ".join(t.theme for t in item.themes if t.sentiment == "negative"),
            item.first_name, item.order_name, item.url, item.text,
        )
    ]  # fmt: skip


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def export_csv(d: Dashboard, shop_id: str, query: FeedQuery, cursor: str | None) -> tuple[str, str | None]:
    """Newest first, as many rows as fit one response (EXPORT_ROWS, EXPORT_BYTES, EXPORT_PAGES pages
    of reading), and the cursor of the rest (None: all exported)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows, position = 0, cursor
    for _ in range(EXPORT_PAGES):
        page = feed(d, shop_id, query, min(EXPORT_PAGE, EXPORT_ROWS - rows), position)
        for item in page.items:
            writer.writerow(_csv_row(item))
        rows += len(page.items)
        position = page.next_cursor
        if position is None or rows >= EXPORT_ROWS or out.tell() >= EXPORT_BYTES:
            break
    return out.getvalue(), position


def _view(d: Dashboard, case: Case, now: datetime) -> CaseView:
    return case_view(case, now, d.notifier.draft(case))


def cases(
    d: Dashboard, shop_id: str, status: str | None, limit: int, cursor: str | None, now: datetime
) -> CasePage:
    found, after = _paged(lambda at: d.notifier.cases(shop_id, status, limit, at), cursor)
    return CasePage(items=[_view(d, c, now) for c in found], next_cursor=after)


def case(d: Dashboard, shop_id: str, case_id: str, now: datetime) -> CaseView:
    found = d.notifier.case(shop_id, case_id)
    if found is None:
        raise NotFound(f"no case {case_id}")
    return _view(d, found, now)


ACTIONS = ("reply", "approve", "posted", "resolve")


def act(
    d: Dashboard, shop_id: str, case_id: str, action: str, now: datetime, text: str | None = None
) -> CaseView:
    """reply (with text), approve (the draft as it is), posted (the owner posted the reply at a source
    that takes none from cxloop, with the text they posted, if given) or resolve; by the owner."""
    if action not in ACTIONS:
        raise BadRequest(f"unknown action {action!r}: {', '.join(ACTIONS)}")
    try:
        if action == "resolve":
            done = d.notifier.resolve(shop_id, case_id, now)
        elif action == "posted":
            done = d.notifier.posted(shop_id, case_id, now, text)
        else:
            done = d.notifier.approve(shop_id, case_id, now, text if action == "reply" else None)
    except LookupError as e:
        raise NotFound(f"no case {case_id}") from e
    except ReplyRefused as e:
        raise Conflict(f"not done: {e}") from e
    return _view(d, done, now)


def at_risk(d: Dashboard, shop_id: str, limit: int, cursor: str | None, now: datetime) -> CustomerPage:
    """Computed first when an order or an answer came since the last computation (or a day went by)."""
    run = d.notifier.risk_run(shop_id, now)
    found, after = _paged(lambda at: d.notifier.at_risk(shop_id, limit, at), cursor)
    threshold = d.notifier.alert_settings(shop_id).churn_threshold
    rule = (
        f"Customers with two orders or more, {money(run.valuable_from, run.currency)} or more spent "
        f"(the top quarter of your {run.customers} customers), and a risk of {threshold:.0%} or more."
    )
    value = run.value
    reason = value.reason if value else "not computed yet: the daily run predicts what customers will spend"
    return CustomerPage(
        items=[customer_at_risk(c, now, valued=reason is None) for c in found],
        next_cursor=after,
        computed_at=run.computed_at,
        valuable_from=run.valuable_from,
        currency=run.currency,
        rule=rule,
        value_currency=value.currency if value else None,
        value_reason=reason,
        value_computed_at=value.computed_at if value else None,
    )


def suppressions(d: Dashboard, shop_id: str, limit: int, cursor: str | None) -> SuppressionPage:
    position = _position(cursor)
    if position is not None and (set(position) != {"sk"} or not position["sk"].startswith("SUPPRESSION#")):
        raise BadRequest("cursor is not one this list gave out")
    entries, last = d.feedback.suppressions(shop_id, limit, position["sk"] if position else None)
    return SuppressionPage(
        items=[SuppressionView(**e.model_dump(mode="json")) for e in entries],
        next_cursor=paging.encode({"sk": last} if last else None),
    )


def _domain(address: str | None) -> str:
    return (address or "").rpartition("@")[2].strip(" >").lower()


def may_send_as(d: Dashboard, shop_id: str, new: str | None, stored: str | None) -> None:
    """A From address set through the API: unchanged, none, or in the domain of the shop's owner. A key
    must not make one shop's mail come from another's (verified) domain; the operator's CLI may."""
    if not new or new == stored:
        return
    shop = d.notifier.shop(shop_id)
    owner = _domain(shop.owner_email if shop else None)
    if not owner or _domain(new) != owner:
        raise BadRequest(f"a sender address must be in the shop owner's domain ({owner or 'none set'})")


def save_surveys(d: Dashboard, shop_id: str, programme: SurveyProgramme) -> SurveyProgramme:
    stored = d.feedback.programme(shop_id)
    may_send_as(d, shop_id, programme.brand.sender, stored.brand.sender if stored else None)
    d.feedback.save_programme(shop_id, programme)
    return programme


def save_alerts(d: Dashboard, shop_id: str, settings: AlertSettings) -> AlertSettings:
    stored = d.notifier.alert_settings(shop_id, fresh=True)
    may_send_as(d, shop_id, settings.reply_from, stored.reply_from)
    d.notifier.save_alert_settings(shop_id, settings)
    return settings


def erase(d: Dashboard, shop_id: str, request: ErasureRequest, now: datetime, by: str) -> ErasureReceipt:
    from shared.tenancy import Platform

    ref = CustomerRef(
        platform=Platform(request.platform),
        customer_id=request.customer_id,
        email=request.email,
        order_ids=tuple(request.order_ids),
    )
    if not ref.customer_keys():
        raise BadRequest("an erasure needs a customer_id or an email")
    report = d.feedback.erase_customer(shop_id, ref, now, by)
    return ErasureReceipt(
        customer_keys=len(report.customer_keys),
        orders_anonymised=len(report.orders_anonymised),
        records_deleted=report.records_deleted,
    )
