"""The days' totals stay exact whatever order answers, their revisions, their readings and duplicates
arrive in: after any sequence, the DAY items equal the totals recomputed from the newest state of
every stored answer (property-based, on moto's DynamoDB)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore
from services.notifier.adapters.dynamo_views import DynamoViews
from services.notifier.domain.model import Mention, SurveyAnswer
from services.notifier.domain.tallies import answer_tally, mention_tally
from shared.sentiment import Sentiment, ThemeScore
from tests.integration.conftest import Moto

T0 = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # answers straddle midnight: days differ
THEMES = ("delivery_shipping", "product_quality", "price_value")
LABELS = ("positive", "neutral", "negative")


@pytest.fixture(scope="module")
def tables(moto_world: Moto) -> tuple[Any, str]:
    moto_world.reset()
    return moto_world.clients["dynamodb"], moto_world.resources.tables["notifier"]


def _answer(invite: int, revision: int, score: int, minutes: int, comment: bool) -> SurveyAnswer:
    return SurveyAnswer(
        invite_id=f"i{invite}",
        revision=revision,
        survey_type="nps",
        score=score,
        answered_at=T0 + timedelta(minutes=minutes),
        comment="why" if comment else None,
    )


answers = st.tuples(
    st.integers(0, 3), st.integers(1, 3), st.integers(0, 10), st.integers(0, 90), st.booleans()
).map(lambda t: ("answer", t))
readings = st.tuples(
    st.integers(0, 3),
    st.integers(1, 3),
    st.sampled_from(LABELS),
    st.lists(st.tuples(st.sampled_from(THEMES), st.sampled_from(LABELS)), max_size=3),
).map(lambda t: ("reading", t))
mentions = st.tuples(st.integers(0, 2), st.integers(1, 2), st.one_of(st.none(), st.floats(1, 5))).map(
    lambda t: ("mention", t)
)


def _expected(store: DynamoNotifierStore, shop: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for i in range(4):
        found = store.answer(shop, f"i{i}")
        if found is not None:
            tally = answer_tally(found)
            total.update({f"{tally.day}|{k}": v for k, v in tally.counts.items()})
    for m in store.mentions_since(shop, T0 - timedelta(days=1)):
        tally = mention_tally(m)
        total.update({f"{tally.day}|{k}": v for k, v in tally.counts.items()})
    return total


def _deliver(store: DynamoNotifierStore, shop_id: str, kind: str, args: Any) -> None:
    if kind == "answer":
        store.put_answer(shop_id, _answer(*args))
    elif kind == "reading":
        invite, revision, label, themes = args
        store.put_reading(
            shop_id,
            f"i{invite}",
            revision,
            Sentiment(label=label, score=0.0, confidence=0.9),
            [ThemeScore(theme=t, sentiment=s, score=0.0) for t, s in themes],
        )
    else:
        mention_id, revision, rating = args
        mention = Mention(
            mention_id=f"m{mention_id}",
            revision=revision,
            source="google",
            rating=rating,
            excerpt="x",
            scored_at=T0,
        )
        store.put_mention(shop_id, mention)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(steps=st.lists(st.one_of(answers, readings, mentions), min_size=1, max_size=14), shop=st.uuids())
def test_days_equal_the_recount_of_what_is_stored(
    tables: tuple[Any, str], steps: list[Any], shop: Any
) -> None:
    db, table = tables
    store, views = DynamoNotifierStore(db, table), DynamoViews(db, table)
    shop_id = f"s-{shop.hex[:12]}"
    window = ((T0 - timedelta(days=2)).date(), (T0 + timedelta(days=2)).date())
    for kind, args in steps:
        _deliver(store, shop_id, kind, args)
        if kind != "reading":  # a repeat of the same delivery changes nothing
            before = views.days(shop_id, *window)
            _deliver(store, shop_id, kind, args)
            assert views.days(shop_id, *window) == before
    days = views.days(shop_id, (T0 - timedelta(days=2)).date(), (T0 + timedelta(days=2)).date())
    stored = Counter({f"{d.day.isoformat()}|{k}": v for d in days for k, v in d.counts.items() if v})
    assert stored == +_expected(store, shop_id)
    assert all(v >= 0 for d in days for v in d.counts.values())
