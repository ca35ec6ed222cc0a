"""The cases' service figures in the days' totals (decision 123) stay exact whatever cases open, get
their reply, are resolved or rewritten: after any sequence, the ``k_`` counters of the DAY items equal a
recount from the cases as stored (property-based, on moto's DynamoDB), and the report read from them
equals the figures computed from the raw durations."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore
from services.notifier.domain.cases import update_case
from services.notifier.domain.model import Case, CaseEvent, CaseStatus
from services.notifier.domain.service_kpis import recontact_of, service_kpis
from services.notifier.domain.tallies import summed
from tests.integration.conftest import Moto

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, 22, 0, tzinfo=UTC)
TARGET = timedelta(hours=24)
SHOPS = itertools.count()  # a fresh shop per example (hypothesis repeats drawn values while shrinking)


@pytest.fixture(scope="module")
def store(moto_world: Moto) -> DynamoNotifierStore:
    moto_world.reset()
    return DynamoNotifierStore(moto_world.clients["dynamodb"], moto_world.resources.tables["notifier"])


def _open(store: DynamoNotifierStore, shop: str, case_id: str, customer: str | None, at: datetime) -> None:
    case = Case(
        case_id=case_id,
        shop_id=shop,
        subject="response",
        subject_id=case_id,
        opened_at=at,
        target_at=at + TARGET,
        customer_key=customer,
        history=[CaseEvent(at=at, what="opened")],
    )
    if customer:
        case = case.model_copy(
            update={"recontact_of": recontact_of(case, store.customer_cases(shop, customer))}
        )
    store.open_case(case)


def _step(store: DynamoNotifierStore, shop: str, op: str, case_id: str, at: datetime) -> None:
    def reply(c: Case) -> dict[str, object] | None:
        if c.status is CaseStatus.RESOLVED:
            return None
        return {
            "first_reply_at": c.first_reply_at or at,
            "status": CaseStatus.REPLIED,
            "history": [*c.history, CaseEvent(at=at, what="reply_sent")],
        }

    def resolve(c: Case) -> dict[str, object] | None:
        if c.status is CaseStatus.RESOLVED:
            return None
        return {
            "status": CaseStatus.RESOLVED,
            "resolved_at": at,
            "history": [*c.history, CaseEvent(at=at, what="resolved")],
        }

    def touch(c: Case) -> dict[str, object]:
        return {"comment": f"changed at {at.isoformat()}"}

    update_case(store, shop, case_id, {"reply": reply, "resolve": resolve, "touch": touch}[op])


def _recount(cases: list[Case]) -> Counter[str]:
    """The counters from the stored cases, computed here from their fields (not by the domain's tally)."""
    out: Counter[str] = Counter()

    def day(at: datetime) -> str:
        return at.astimezone(UTC).date().isoformat()

    for c in cases:
        out[f"{day(c.opened_at)}|k_open"] += 1
        if c.customer_key:
            out[f"{day(c.opened_at)}|k_openc"] += 1
            earlier = [
                o
                for o in cases
                if o.customer_key == c.customer_key
                and o.resolved_at is not None
                and c.opened_at - timedelta(days=30) <= o.resolved_at <= c.opened_at
            ]
            if earlier:
                out[f"{day(c.opened_at)}|k_rc"] += 1
        if c.first_reply_at:
            minutes = int((c.first_reply_at - c.opened_at).total_seconds() // 60)
            out[f"{day(c.first_reply_at)}|k_fr_{minutes}"] += 1
            if c.first_reply_at - c.opened_at <= TARGET:
                out[f"{day(c.first_reply_at)}|k_frin"] += 1
        if c.resolved_at:
            minutes = int((c.resolved_at - c.opened_at).total_seconds() // 60)
            out[f"{day(c.resolved_at)}|k_rs_{minutes}"] += 1
            sent = sum(e.what == "reply_sent" for e in c.history)
            out[f"{day(c.resolved_at)}|{'k_fcr' if sent == 1 else 'k_res0'}"] += 1
    return out


def _rank(values: list[float], q: float) -> float:
    return sorted(values)[max(1, math.ceil(q * len(values))) - 1]


steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "open", "reply", "resolve", "touch"]),
        st.integers(0, 5),  # case
        st.one_of(st.none(), st.integers(0, 2)),  # customer, when opening
        st.integers(1, 60 * 60),  # minutes since the step before
    ),
    min_size=1,
    max_size=16,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(ops=steps)
def test_the_days_service_figures_equal_the_recount_of_the_cases(
    store: DynamoNotifierStore, ops: list[Any]
) -> None:
    shop_id = f"s-kpi-{next(SHOPS)}"
    at = T0
    for op, case, customer, minutes in ops:
        at += timedelta(minutes=minutes)
        if op == "open":
            _open(store, shop_id, f"c{case}", f"cust{customer}" if customer is not None else None, at)
        else:
            _step(store, shop_id, op, f"c{case}", at)
    cases = store.cases(shop_id)
    days = store.days(shop_id, "2026-01-01", "2027-12-31")
    stored = Counter({f"{d.day.isoformat()}|{k}": v for d in days for k, v in d.counts.items() if v})
    assert +Counter({k: v for k, v in stored.items() if "|k_" in k}) == +_recount(cases)
    assert all(v >= 0 for d in days for v in d.counts.values())

    report = service_kpis(summed(days), date(2026, 1, 1), date(2027, 12, 31), 24.0)
    replied = [(c.first_reply_at - c.opened_at).total_seconds() // 60 / 60 for c in cases if c.first_reply_at]
    resolved = [(c.resolved_at - c.opened_at).total_seconds() // 60 / 60 for c in cases if c.resolved_at]
    assert report.opened == len(cases)
    assert report.first_reply.n == len(replied) and report.resolution.n == len(resolved)
    if replied:
        assert report.first_reply.median.hours == pytest.approx(_rank(replied, 0.5))
        assert report.first_reply.p90.hours == pytest.approx(_rank(replied, 0.9))
    if resolved:
        assert report.resolution.median.hours == pytest.approx(_rank(resolved, 0.5))


def test_a_re_contact_is_a_new_case_within_30_days_of_a_resolved_one(store: DynamoNotifierStore) -> None:
    shop = "s-recontact"
    _open(store, shop, "a", "ana", T0)
    _step(store, shop, "reply", "a", T0 + timedelta(hours=3))
    _step(store, shop, "resolve", "a", T0 + timedelta(hours=5))
    _open(store, shop, "b", "ana", T0 + timedelta(days=20))  # unhappy again within 30 days
    _open(store, shop, "c", "bo", T0 + timedelta(days=20))
    _step(store, shop, "resolve", "b", T0 + timedelta(days=21))  # resolved without a reply
    _open(store, shop, "d", "ana", T0 + timedelta(days=52))  # 31 days after b was resolved
    assert store.case(shop, "b").recontact_of == "a"  # type: ignore[union-attr]
    assert store.case(shop, "d").recontact_of is None  # type: ignore[union-attr]
    report = service_kpis(summed(store.days(shop, "2026-01-01", "2027-01-01")), T0.date(), T0.date(), 24.0)
    assert report.opened == 4
    assert (report.recontact.value, report.recontact.n) == (25.0, 4)
    assert (report.first_contact_resolution.value, report.first_contact_resolution.n) == (50.0, 2)
    assert report.resolved_without_reply == 1
    assert report.first_reply.median.hours == 3.0 and report.first_reply.within_target.value == 100.0  # type: ignore[union-attr]
    assert report.resolution.median.hours == 5.0  # of 5 h and 24 h, the lower median


def test_retally_brings_records_of_an_older_release_up_to_date_once(store: DynamoNotifierStore) -> None:
    from services.notifier.domain.model import SurveyAnswer
    from services.notifier.domain.tallies import answer_tally
    from shared.sentiment import Sentiment, ThemeScore

    shop = "s-retally"
    db, table = store._db, store._table
    answer = SurveyAnswer(invite_id="i1", revision=1, survey_type="nps", score=3, answered_at=T0)
    store.put_answer(shop, answer)
    themes = [ThemeScore(theme="packaging", sentiment="negative", score=-0.5)]
    store.put_reading(shop, "i1", 1, Sentiment(label="negative", score=-0.5, confidence=0.9), themes)
    # As an older release left it: the answer's share without the xa_ counter, the day likewise.
    full = answer_tally(answer.model_copy(update={"themes": themes}))
    older = full.model_copy(
        update={"counts": {k: v for k, v in full.counts.items() if not k.startswith("xa_")}}
    )
    key = {"pk": {"S": f"SHOP#{shop}"}}
    old_share = {":t": {"S": older.model_dump_json()}}
    db.update_item(TableName=table, Key={**key, "sk": {"S": "ANSWER#i1"}},
                   UpdateExpression="SET tally = :t", ExpressionAttributeValues=old_share)  # fmt: skip
    db.update_item(TableName=table, Key={**key, "sk": {"S": f"DAY#{full.day}"}},
                   UpdateExpression="REMOVE xa_nps_3_packaging")  # fmt: skip
    # ... and a case written before cases had a share.
    case = Case(case_id="c1", shop_id=shop, subject="response", subject_id="i1", opened_at=T0,
                target_at=T0 + TARGET, customer_key="ana")  # fmt: skip
    store.open_case(case)
    db.update_item(TableName=table, Key={**key, "sk": {"S": "CASE#c1"}}, UpdateExpression="REMOVE ktally")
    db.update_item(TableName=table, Key={**key, "sk": {"S": f"DAY#{full.day}"}},
                   UpdateExpression="REMOVE k_open, k_openc")  # fmt: skip
    day = {d.day.isoformat(): d.counts for d in store.days(shop, "2026-01-01", "2026-12-31")}[full.day]
    assert "xa_nps_3_packaging" not in day and "k_open" not in day

    assert store.retally(shop) == 2
    assert store.retally(shop) == 0
    day = {d.day.isoformat(): d.counts for d in store.days(shop, "2026-01-01", "2026-12-31")}[full.day]
    assert day["xa_nps_3_packaging"] == 1 and day["k_open"] == 1 and day["k_openc"] == 1
    assert day["a_nps_3"] == 1  # counted once
