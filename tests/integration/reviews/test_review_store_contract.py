"""The reviews store on DynamoDB (moto) behaves as the in-memory fake the unit tests use, and its
extra reads (newest first, unannounced, connections) work as the puller and the CLI need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reviews.adapters.dynamo_reviews import DynamoReviewStore
from services.reviews.domain.ingest import Outcome, store_item
from services.reviews.domain.model import Source, SourceItem
from services.reviews.domain.state import SourceState
from tests.integration.conftest import Moto
from tests.reviews_fakes import InMemoryReviews

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture
def dynamo(aws: Moto) -> DynamoReviewStore:
    return DynamoReviewStore(aws.clients["dynamodb"], aws.resources.tables["reviews"])


def item(n: int, text: str, minutes: int = 0) -> SourceItem:
    return SourceItem(
        source=Source.TRUSTPILOT,
        source_id=f"tp{n}",
        text=text,
        rating=2,
        rating_scale=5,
        published_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n + minutes),
    )


def story(store: Any) -> list[Any]:
    out: list[Any] = []
    for n, text, minutes in [(1, "late", 0), (2, "fine", 0), (1, "late", 0), (1, "late and broken", 30)]:
        outcome, review = store_item(store, "s1", item(n, text, minutes), T0 + timedelta(minutes=minutes))
        out.append((outcome, review.revision, review.version, review.item.text))
    store.mark_announced("s1", "trustpilot:tp1", 1)  # stale: revision 2 exists now
    store.mark_announced("s1", "trustpilot:tp2", 1)
    out.append(store_item(store, "s2", item(1, "other shop", 0), T0)[0])  # same source id, other shop
    return out


def test_the_same_story_on_both_stores(dynamo: DynamoReviewStore) -> None:
    fake = InMemoryReviews()
    assert (
        story(dynamo)
        == story(fake)
        == [
            (Outcome.NEW, 1, 1, "late"),
            (Outcome.NEW, 1, 1, "fine"),
            (Outcome.UNCHANGED, 1, 1, "late"),
            (Outcome.EDITED, 2, 2, "late and broken"),
            Outcome.NEW,
        ]
    )
    assert {k for k in fake.unannounced} == {("s1", "trustpilot:tp1"), ("s2", "trustpilot:tp1")}
    pending = dynamo.unannounced(T0 + timedelta(days=1))
    assert sorted((r.shop_id, r.mention_id, r.revision) for r in pending) == [
        ("s1", "trustpilot:tp1", 2),
        ("s2", "trustpilot:tp1", 1),
    ]
    dynamo.mark_announced("s1", "trustpilot:tp1", 2)
    stored = dynamo.get("s1", "trustpilot:tp1")
    assert stored is not None and (stored.published_revision, stored.revision) == (2, 2)
    assert [r.shop_id for r in dynamo.unannounced(T0 + timedelta(days=1))] == ["s2"]


def test_newest_first_and_per_shop(dynamo: DynamoReviewStore) -> None:
    for n in range(5):
        store_item(dynamo, "s1", item(n, f"text {n}"), T0)
    store_item(dynamo, "s2", item(9, "elsewhere"), T0)
    assert [r.item.source_id for r in dynamo.newest("s1", limit=3)] == ["tp4", "tp3", "tp2"]
    assert [r.item.source_id for r in dynamo.newest("s2")] == ["tp9"]


def test_connections_are_versioned_and_listed(dynamo: DynamoReviewStore) -> None:
    first = SourceState(shop_id="s1", source="google", settings={"account": "a", "location": "l"}, version=1)
    assert dynamo.save_state(first, 0)
    assert not dynamo.save_state(first, 0)  # already there
    moved = first.model_copy(update={"high_water": T0, "version": 2})
    assert dynamo.save_state(moved, 1)
    assert not dynamo.save_state(moved.model_copy(update={"version": 3}), 1)  # stale writer loses
    assert dynamo.save_state(SourceState(shop_id="s2", source="yelp", version=1), 0)
    assert sorted((s.shop_id, s.source, s.high_water) for s in dynamo.states()) == [
        ("s1", "google", T0),
        ("s2", "yelp", None),
    ]
    assert dynamo.state("s1", "google") == moved
    dynamo.delete_state("s1", "google")
    assert dynamo.state("s1", "google") is None
