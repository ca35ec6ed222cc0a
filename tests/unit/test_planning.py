"""The planning rules: when an order's survey is due, when it is cancelled, and when it never goes out.

Expected values are computed here from the rules as documented (delivered + N days, the end of the
quiet hours in the shop's wall clock, ...), not by calling the helpers under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from services.feedback.domain.orders.records import Fulfilment, Order
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status
from services.feedback.domain.surveys.programme import Brand, QuietHours, Rules, SurveyProgramme, SurveyType
from services.feedback.domain.surveys.rules import (
    DAY,
    Action,
    outside_quiet_hours,
    plan,
    reminder_due,
    sampled_in,
    throttle_since,
)

pytestmark = pytest.mark.unit

SHOP = "plan-shop"
IID = "abcdefghijklmnopqrstuvwxyz"
T = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # a Monday, midday UTC: outside the default quiet hours
BRAND = Brand(name="Acme", sender="hello@acme.example")
NO_QUIET = Rules(quiet_hours=None)

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")


# --- builders -----------------------------------------------------------------------------------------


def programme(rules: Rules = NO_QUIET, *, timezone: str = "UTC", enabled: bool = True) -> SurveyProgramme:
    return SurveyProgramme(brand=BRAND, rules=rules, timezone=timezone, enabled=enabled)


def order(
    *,
    shipped: datetime | None = None,
    delivered: datetime | None = None,
    email: str | None = "jane@example.com",
    cancelled: datetime | None = None,
    financial_status: str | None = "paid",
    test: bool = False,
) -> Order:
    fulfilments = []
    if shipped or delivered:
        fulfilments.append(
            Fulfilment(
                fulfilment_id="f1",
                status="success",
                created_at=shipped or delivered,
                tracking_status="delivered" if delivered else "in_transit",
                tracking_at=delivered or shipped,
            )
        )
    return Order(
        platform="shopify",
        order_id="1",
        email=email,
        cancelled_at=cancelled,
        financial_status=financial_status,
        fulfilments=fulfilments,
        test=test,
    )


def invitation(
    status: Status, due_at: datetime | None = None, email: str | None = "jane@example.com"
) -> Invitation:
    return Invitation(
        shop_id=SHOP,
        invite_id=IID,
        order_sk="ORDER#shopify#1",
        email=email,
        survey_type=SurveyType.NPS,
        status=status,
        due_at=due_at,
    )


def run(o: Order, p: SurveyProgramme | None, existing: Invitation | None = None, *, now=None, day=DAY):
    return plan(
        o, p, existing, shop_id=SHOP, iid=IID, now=now or o.delivered_at or o.shipped_at or T, day=day
    )


# --- when the survey is due ---------------------------------------------------------------------------


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def delays(draw) -> Rules:
    after_delivery = draw(st.integers(0, 60))
    after_fulfilment = draw(st.integers(after_delivery, 90))
    return Rules(days_after_delivery=after_delivery, days_after_fulfilment=after_fulfilment, quiet_hours=None)


@settings(max_examples=150, deadline=None)
@given(shipped=instants, transit=st.timedeltas(timedelta(0), timedelta(days=10)), rules=delays())
def test_delivered_order_is_due_days_after_delivery(shipped, transit, rules):
    delivered = shipped + transit
    result = run(order(shipped=shipped, delivered=delivered), programme(rules), now=delivered)
    assert result.action is Action.PLAN
    assert result.due_at == delivered + timedelta(days=rules.days_after_delivery)


@settings(max_examples=150, deadline=None)
@given(shipped=instants, rules=delays())
def test_shipped_order_without_delivery_is_due_days_after_fulfilment(shipped, rules):
    result = run(order(shipped=shipped), programme(rules), now=shipped + timedelta(hours=1))
    assert result.action is Action.PLAN
    assert result.due_at == shipped + timedelta(days=rules.days_after_fulfilment)


def test_order_neither_shipped_nor_delivered_is_not_planned():
    assert run(order(), programme(), now=T).action is Action.NONE
    assert run(order(), programme(), invitation(Status.PLANNED, T), now=T).action is Action.NONE


def test_delivery_moves_a_planned_invitation_and_replanning_is_idempotent():
    p = programme()
    shipped = order(shipped=T)
    first = run(shipped, p, now=T)
    assert first.action is Action.PLAN
    assert first.due_at == T + timedelta(days=7)

    planned = invitation(Status.PLANNED, first.due_at)
    assert run(shipped, p, planned, now=T + timedelta(minutes=5)).action is Action.NONE  # duplicate webhook

    delivered = order(shipped=T, delivered=T + timedelta(days=2, hours=3))
    moved = run(delivered, p, planned, now=T + timedelta(days=2, hours=3))
    assert moved.action is Action.PLAN
    assert moved.due_at == T + timedelta(days=5, hours=3)

    replanned = invitation(Status.PLANNED, moved.due_at)
    again = run(delivered, p, replanned, now=T + timedelta(days=2, hours=4))
    assert again.action is Action.NONE
    assert run(delivered, p, replanned, now=T + timedelta(days=2, hours=4)) == again


def test_late_delivery_moves_the_send_later_too():
    p = programme()
    planned = invitation(Status.PLANNED, T + timedelta(days=7))
    late = order(shipped=T, delivered=T + timedelta(days=6))
    result = run(late, p, planned)
    assert result.action is Action.PLAN
    assert result.due_at == T + timedelta(days=9)


def test_changed_email_replans_a_planned_invitation_at_the_same_time():
    p = programme()
    planned = invitation(Status.PLANNED, T + timedelta(days=7), email="old@example.com")
    result = run(order(shipped=T, email="new@example.com"), p, planned)
    assert result == type(result)(Action.PLAN, due_at=T + timedelta(days=7))


def test_due_time_is_moved_out_of_quiet_hours():
    p = programme(Rules(quiet_hours=QuietHours(start=time(21), end=time(8))), timezone="Europe/Berlin")
    delivered = datetime(2026, 5, 4, 20, 30, tzinfo=UTC)  # 22:30 in Berlin (CEST)
    result = run(order(shipped=delivered - timedelta(days=1), delivered=delivered), p)
    assert result.due_at == datetime(2026, 5, 8, 6, 0, tzinfo=UTC)  # 08:00 CEST, three days on


# --- cancellation before the send -------------------------------------------------------------------


STEPS = ("ship", "deliver", "cancel", "refund", "partial_refund", "email", "touch")


@st.composite
def order_lives(draw) -> list[Order]:
    """Successive states of one order as webhooks arrive; cancellation and refund are for good."""
    steps = draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=8))
    at = T
    shipped = delivered = cancelled = None
    financial = "paid"
    email = "jane@example.com"
    states = []
    for step in steps:
        at += timedelta(hours=draw(st.integers(1, 72)))
        if step == "ship" and shipped is None:
            shipped = at
        elif step == "deliver" and shipped is not None and delivered is None:
            delivered = at
        elif step == "cancel" and cancelled is None:
            cancelled = at
        elif step == "refund":
            financial = "refunded"
        elif step == "partial_refund" and financial != "refunded":
            financial = "partially_refunded"
        elif step == "email":
            email = draw(st.sampled_from(["jane@example.com", "j.doe@example.org"]))
        states.append(
            order(
                shipped=shipped,
                delivered=delivered,
                email=email,
                cancelled=cancelled,
                financial_status=financial,
            )
        )
    return states


EXISTING = st.one_of(
    st.none(),
    st.builds(
        invitation,
        st.sampled_from(list(Status)),
        st.one_of(st.none(), st.just(T + timedelta(days=3))),
    ),
)


@settings(max_examples=200, deadline=None)
@given(states=order_lives(), existing=EXISTING)
def test_cancel_before_send(states, existing):
    p = programme(Rules())  # default rules, quiet hours included
    for o in states:
        result = run(o, p, existing, now=T + timedelta(days=1))
        if o.cancelled_at is not None:
            reason = Reason.CANCELLED
        elif o.financial_status == "refunded":
            reason = Reason.REFUNDED
        else:
            reason = None
        if reason is None:
            assert result.action is not Action.CANCEL
            assert result.action is not Action.DROP_REMINDER
            continue
        assert result.action is not Action.PLAN
        if existing is None:
            assert result.action is Action.NONE
        elif existing.status is Status.PLANNED:
            assert (result.action, result.reason) == (Action.CANCEL, reason)
        elif existing.status is Status.SENT and existing.due_at is not None:
            assert (result.action, result.reason) == (Action.DROP_REMINDER, reason)
        else:  # SENT without a pending reminder, SENDING, CANCELLED, SUPPRESSED, FAILED
            assert result.action is Action.NONE


@pytest.mark.parametrize("status", [Status.SENDING, Status.CANCELLED, Status.SUPPRESSED, Status.FAILED])
@pytest.mark.parametrize("due", [None, T + timedelta(days=1)])
def test_settled_or_in_flight_invitations_are_left_alone(status, due):
    p = programme()
    for o in (order(shipped=T), order(shipped=T, cancelled=T), order(shipped=T, financial_status="refunded")):
        assert run(o, p, invitation(status, due)).action is Action.NONE


def test_cancellation_wins_over_refund_as_the_reason():
    o = order(shipped=T, cancelled=T + timedelta(hours=1), financial_status="refunded")
    result = run(o, programme(), invitation(Status.PLANNED, T + timedelta(days=7)))
    assert (result.action, result.reason) == (Action.CANCEL, Reason.CANCELLED)


def test_sent_invitation_with_pending_reminder_drops_it_on_refund():
    o = order(shipped=T, financial_status="refunded")
    sent = invitation(Status.SENT, T + timedelta(days=10))
    assert (run(o, programme(), sent).action, run(o, programme(), sent).reason) == (
        Action.DROP_REMINDER,
        Reason.REFUNDED,
    )
    assert run(o, programme(), invitation(Status.SENT, None)).action is Action.NONE


# --- reasons not to survey ------------------------------------------------------------------------


@pytest.mark.parametrize("email", [None, ""])
def test_no_email_is_suppressed(email):
    result = run(order(shipped=T, delivered=T + timedelta(days=1), email=email), programme())
    assert (result.action, result.reason) == (Action.SUPPRESS, Reason.NO_EMAIL)


def test_a_platform_test_order_is_never_surveyed():
    delivered = order(shipped=T, delivered=T + timedelta(days=1), test=True)
    result = run(delivered, programme())
    assert (result.action, result.reason) == (Action.SUPPRESS, Reason.TEST_ORDER)
    assert run(order(shipped=T, delivered=T + timedelta(days=1)), programme()).action is Action.PLAN


def test_delivery_older_than_max_lateness_is_too_late():
    p = programme(Rules(max_lateness_days=14, quiet_hours=None))
    delivered = T
    o = order(shipped=T - timedelta(days=1), delivered=delivered)
    late = run(o, p, now=delivered + timedelta(days=14, seconds=1))
    assert (late.action, late.reason) == (Action.SUPPRESS, Reason.TOO_LATE)
    on_time = run(o, p, now=delivered + timedelta(days=14))
    assert on_time.action is Action.PLAN


def test_shipment_older_than_max_lateness_is_too_late():
    p = programme(Rules(max_lateness_days=5, quiet_hours=None))
    result = run(order(shipped=T), p, now=T + timedelta(days=5, microseconds=1))
    assert (result.action, result.reason) == (Action.SUPPRESS, Reason.TOO_LATE)


def test_no_programme_or_disabled_programme_plans_nothing():
    o = order(shipped=T, delivered=T + timedelta(days=1))
    cancelled = order(shipped=T, cancelled=T + timedelta(hours=1))
    for p in (None, programme(enabled=False)):
        assert run(o, p).action is Action.NONE
        assert run(order(shipped=T, email=None), p).action is Action.NONE
        assert run(cancelled, p, invitation(Status.PLANNED, T + timedelta(days=7))).action is Action.NONE
        assert run(cancelled, p, invitation(Status.SENT, T + timedelta(days=7))).action is Action.NONE
    assert run(o, programme()).action is Action.PLAN  # the same order with the programme on


def test_sampled_out_is_suppressed():
    p = programme(Rules(sample_percent=50, quiet_hours=None))
    ids = [f"inv-{i}" for i in range(50)]
    o = order(shipped=T)
    results = {iid: plan(o, p, None, shop_id=SHOP, iid=iid, now=T) for iid in ids}
    out = [r for r in results.values() if r.action is Action.SUPPRESS]
    planned = [r for r in results.values() if r.action is Action.PLAN]
    assert out and planned  # 50 % of 50 ids: both outcomes occur
    assert all(r.reason is Reason.SAMPLED_OUT for r in out)
    assert len(out) + len(planned) == len(ids)


# --- quiet hours ----------------------------------------------------------------------------------


def _transitions(zone: str) -> list[datetime]:
    """The UTC instants (to the hour) around which the zone's offset changes in 2026-2027."""
    tz = ZoneInfo(zone)
    at, end, found = datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC), []
    before = at.astimezone(tz).utcoffset()
    while at < end:
        at += timedelta(minutes=30)
        offset = at.astimezone(tz).utcoffset()
        if offset != before:
            found.append(at)
            before = offset
    return found


TRANSITIONS = sorted({t for zone in ZONES for t in _transitions(zone)})

near_transitions = st.builds(
    lambda t, minutes, micros: t + timedelta(minutes=minutes, microseconds=micros),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 36 * 60),
    st.sampled_from([0, 1, 999_999]),
)

clock_times = st.builds(
    time,
    st.one_of(st.sampled_from([0, 1, 2, 3, 21, 22, 23]), st.integers(0, 23)),
    st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59)),
)


def _minutes(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60 + t.microsecond / 60e6


def quiet_at(local: time, quiet: QuietHours) -> bool:
    """Independent reading of a quiet window [start, end), which may wrap past midnight."""
    start, end, now = _minutes(quiet.start), _minutes(quiet.end), _minutes(local)
    return (now - start) % 1440 < (end - start) % 1440


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    # Through UTC: astimezone() into the datetime's own zone would hand back the input unchecked.
    return any(_wall(wall.replace(tzinfo=zone, fold=f).astimezone(UTC), zone) == wall for f in (0, 1))


def check_quiet(at: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime:
    result = outside_quiet_hours(at, quiet, zone)
    local = at.astimezone(zone)
    assert result >= at
    assert not quiet_at(result.astimezone(zone).time(), quiet)
    if not quiet_at(local.time(), quiet):
        assert result == at
        return result
    assert result - at <= timedelta(hours=25)
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)
    end_wall = datetime.combine(day, quiet.end)
    if _exists(end_wall, zone):
        assert _wall(result, zone) == end_wall
    else:  # the end falls in a spring-forward gap: at most the gap's length later in wall time
        assert end_wall < _wall(result, zone) <= end_wall + timedelta(hours=1)
    # Minimal: every moment from the input until just before the end is quiet.
    probe = at
    while probe < result - timedelta(hours=1):
        assert quiet_at(probe.astimezone(zone).time(), quiet), probe
        probe += timedelta(minutes=13)
    return result


@settings(max_examples=400, deadline=None)
@given(
    at=st.one_of(instants, near_transitions),
    zone=st.sampled_from(ZONES),
    start=clock_times,
    end=clock_times,
)
@example(at=datetime(2026, 3, 29, 0, 30, tzinfo=UTC), zone="Europe/Berlin", start=time(21), end=time(2, 30))
@example(at=datetime(2026, 3, 28, 22, 0, tzinfo=UTC), zone="Europe/Berlin", start=time(21), end=time(8))
@example(at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC), zone="America/New_York", start=time(21), end=time(8))
@example(at=datetime(2026, 3, 8, 6, 30, tzinfo=UTC), zone="America/New_York", start=time(1), end=time(2, 15))
@example(
    at=datetime(2026, 10, 3, 15, 40, tzinfo=UTC), zone="Australia/Lord_Howe", start=time(1), end=time(2, 10)
)
def test_outside_quiet_hours(at, zone, start, end):
    assume(start != end)
    quiet = QuietHours(start=start, end=end)
    # A window leaving less than an hour open a day can be swallowed by a DST gap: not a real setting.
    assume((_minutes(start) - _minutes(end)) % 1440 >= 61)
    check_quiet(at, quiet, ZoneInfo(zone))


def test_quiet_hours_on_berlin_spring_forward_day():
    quiet = QuietHours(start=time(21), end=time(8))
    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2026, 3, 28, 21, 30, tzinfo=UTC)  # 22:30 CET on the 28th
    assert check_quiet(at, quiet, berlin) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    in_gap = QuietHours(start=time(21), end=time(2, 30))
    moved = check_quiet(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), in_gap, berlin)  # 01:30 CET
    assert datetime(2026, 3, 29, 1, 0, tzinfo=UTC) <= moved <= datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_quiet_hours_on_new_york_fall_back_day():
    quiet = QuietHours(start=time(21), end=time(8))
    ny = ZoneInfo("America/New_York")
    at = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 22:00 EDT on 31 October
    assert check_quiet(at, quiet, ny) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST


def test_quiet_end_in_repeated_hour_is_never_before_the_input_new_york():
    """BUG: the end of the quiet hours is built with fold=0 (the first of two 01:30s), so an input in
    the repeated hour's second pass is moved *back* an hour, into the past and still in quiet hours."""
    ny = ZoneInfo("America/New_York")
    quiet = QuietHours(start=time(21), end=time(1, 30))
    at = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)  # 01:15 EST, the second 01:15 of the night
    assert outside_quiet_hours(at, quiet, ny) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST


def test_quiet_end_in_repeated_hour_is_never_before_the_input_berlin():
    """BUG (same as above): Berlin's autumn change, 02:15 CET is moved to 02:30 CEST, an hour earlier."""
    berlin = ZoneInfo("Europe/Berlin")
    quiet = QuietHours(start=time(22), end=time(2, 30))
    at = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, the second 02:15 of the night
    assert outside_quiet_hours(at, quiet, berlin) >= at


def test_no_quiet_hours_leaves_the_time_alone():
    at = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    assert outside_quiet_hours(at, None, ZoneInfo("UTC")) == at


def test_quiet_hours_boundaries():
    quiet = QuietHours(start=time(21), end=time(8))
    utc = ZoneInfo("UTC")
    at_start = datetime(2026, 7, 1, 21, 0, tzinfo=UTC)
    just_before = at_start - timedelta(microseconds=1)
    at_end = datetime(2026, 7, 2, 8, 0, tzinfo=UTC)
    assert outside_quiet_hours(just_before, quiet, utc) == just_before
    assert outside_quiet_hours(at_start, quiet, utc) == at_end  # start is quiet
    assert outside_quiet_hours(at_end, quiet, utc) == at_end  # end is not
    assert outside_quiet_hours(at_end - timedelta(microseconds=1), quiet, utc) == at_end


# --- sampling -------------------------------------------------------------------------------------


def test_sampling_is_deterministic_and_full_sampling_takes_everyone():
    ids = [f"inv-{i}" for i in range(2000)]
    assert [sampled_in(SHOP, i, 30) for i in ids] == [sampled_in(SHOP, i, 30) for i in ids]
    assert all(sampled_in(SHOP, i, 100) for i in ids)
    assert all(sampled_in(SHOP, i, 100.0) for i in ids)


def test_sampling_fraction_is_close_to_the_percentage():
    ids = [f"{i:08d}" for i in range(20_000)]
    for percent, low, high in ((30, 0.27, 0.33), (5, 0.04, 0.06), (70, 0.67, 0.73)):
        fraction = sum(sampled_in(SHOP, i, percent) for i in ids) / len(ids)
        assert low <= fraction <= high, (percent, fraction)


def test_sampling_depends_on_the_shop_too():
    ids = [f"{i:08d}" for i in range(2000)]
    assert [sampled_in("shop-a", i, 50) for i in ids] != [sampled_in("shop-b", i, 50) for i in ids]


percents = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(iid=st.text(min_size=1, max_size=30), p=percents, q=percents)
def test_sampling_is_monotone_in_the_percentage(iid, p, q):
    low, high = sorted((p, q))
    if sampled_in(SHOP, iid, low):
        assert sampled_in(SHOP, iid, high)


# --- throttle window ------------------------------------------------------------------------------


def may_survey(last_surveyed_at: datetime | None, since: datetime) -> bool:
    """How a store uses throttle_since: a contact surveyed at or after ``since`` is not surveyed again."""
    return last_surveyed_at is None or last_surveyed_at < since


@settings(max_examples=300, deadline=None)
@given(
    now=instants,
    days=st.integers(0, 3650),
    ago=st.timedeltas(timedelta(0), timedelta(days=4000)),
    day=st.sampled_from([DAY, timedelta(seconds=2)]),
)
def test_throttle_allows_a_new_survey_only_after_throttle_days(now, days, ago, day):
    p = programme(Rules(throttle_days=days))
    last = now - ago
    assert may_survey(last, throttle_since(now, p, day)) == (ago > days * day)


def test_throttle_boundary():
    p = programme(Rules(throttle_days=90))
    since = throttle_since(T, p)
    assert since == datetime(2026, 2, 3, 12, 0, tzinfo=UTC)
    assert not may_survey(since, since)  # surveyed exactly 90 days ago: not yet
    assert may_survey(since - timedelta(microseconds=1), since)
    assert may_survey(None, since)


# --- compressed days and reminders -------------------------------------------------------------------


def test_compressed_day_scales_every_rule():
    day = timedelta(seconds=2)
    p = programme(Rules(days_after_delivery=3, days_after_fulfilment=7, max_lateness_days=14))
    # T is 12:00 UTC: seconds later is still outside the default quiet hours.
    delivered = order(shipped=T, delivered=T + timedelta(seconds=1))
    assert run(delivered, p, day=day).due_at == T + timedelta(seconds=7)
    assert run(order(shipped=T), p, day=day).due_at == T + timedelta(seconds=14)
    late = run(delivered, p, now=T + timedelta(seconds=30), day=day)
    assert late.reason is Reason.TOO_LATE
    assert run(delivered, p, now=T + timedelta(seconds=29), day=day).action is Action.PLAN
    assert reminder_due(T, p, day) == T + timedelta(seconds=6)
    assert throttle_since(T, p, day) == T - timedelta(seconds=180)


def test_reminder_due():
    sent = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert reminder_due(sent, programme(Rules(reminder_after_days=None))) is None
    assert reminder_due(sent, programme(Rules(reminder_after_days=4, quiet_hours=None))) == sent + timedelta(
        days=4
    )
    evening = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)  # 22:00 in Berlin (CEST)
    berlin = programme(Rules(reminder_after_days=3), timezone="Europe/Berlin")
    assert reminder_due(evening, berlin) == datetime(2026, 6, 5, 6, 0, tzinfo=UTC)  # 08:00 CEST


@settings(max_examples=200, deadline=None)
@given(
    sent=instants,
    after=st.integers(1, 30),
    zone=st.sampled_from(ZONES),
    start=clock_times,
    end=clock_times,
)
def test_reminder_due_is_k_days_later_out_of_quiet_hours(sent, after, zone, start, end):
    assume(start != end)
    assume((_minutes(start) - _minutes(end)) % 1440 >= 61)
    quiet = QuietHours(start=start, end=end)
    p = programme(Rules(reminder_after_days=after, quiet_hours=quiet), timezone=zone)
    due = reminder_due(sent, p)
    raw = sent + timedelta(days=after)
    assert due is not None
    assert due == check_quiet(raw, quiet, ZoneInfo(zone))
