"""Ingesting pulled reviews: new, edited and known items; announcing; and the puller's cursor, backoff,
rate limits and one alert per run of failures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reviews.domain.errors import AuthFailed, RateLimited, Transient
from services.reviews.domain.ingest import Outcome, ingest, mention_of
from services.reviews.domain.model import Source, SourceItem
from services.reviews.domain.pulling import PullDeps, due, pull
from services.reviews.domain.state import SourceState
from shared.events import SOURCE_FAILING, SOURCE_RECOVERED
from tests.reviews_fakes import DictCredentials, InMemoryReviews, ListAlerts, ListMentions, ScriptedConnector

SHOP = "shop-1"
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def item(n: int, text: str = "", minutes: int = 0, **over: object) -> SourceItem:
    values: dict[str, object] = {
        "source": Source.GOOGLE, "source_id": f"r{n}", "text": text or f"review {n}", "rating": 4.0,
        "rating_scale": 5, "published_at": T0 + timedelta(minutes=n),
        "updated_at": T0 + timedelta(minutes=n + minutes),
    }  # fmt: skip
    return SourceItem.model_validate({**values, **over})


# --- ingest -----------------------------------------------------------------------------------------


def test_new_items_are_stored_announced_and_marked() -> None:
    store, mentions = InMemoryReviews(), ListMentions()
    result = ingest(store, mentions, SHOP, [item(n) for n in range(12)], T0)
    assert result.counts[Outcome.NEW] == 12
    assert mentions.calls == 2  # ten per PutEvents call
    assert [m.mention_id for _, m in mentions.sent] == [f"google:r{n}" for n in range(12)]
    assert all(m.revision == 1 for _, m in mentions.sent)
    assert not store.unannounced
    assert all(r.published_revision == 1 for r in store.reviews.values())


def test_a_refetched_item_changes_nothing_and_an_edit_is_a_new_revision() -> None:
    store, mentions = InMemoryReviews(), ListMentions()
    ingest(store, mentions, SHOP, [item(1), item(2)], T0)
    mentions.sent.clear()
    edited = item(1, text="Changed my mind: it broke", minutes=60)
    result = ingest(store, mentions, SHOP, [edited, item(2)], T0 + timedelta(hours=1))
    assert (result.counts[Outcome.EDITED], result.counts[Outcome.UNCHANGED]) == (1, 1)
    assert [(m.mention_id, m.revision, m.text) for _, m in mentions.sent] == [
        ("google:r1", 2, "Changed my mind: it broke")
    ]
    stored = store.reviews[(SHOP, "google:r1")]
    assert (stored.revision, stored.first_seen_at, stored.last_seen_at) == (2, T0, T0 + timedelta(hours=1))
    assert len(store.reviews) == 2


def test_a_failed_announcement_leaves_the_items_stored_and_unannounced() -> None:
    store = InMemoryReviews()
    with pytest.raises(RuntimeError):
        ingest(store, ListMentions(fail=True), SHOP, [item(1)], T0)
    assert (SHOP, "google:r1") in store.unannounced
    assert store.reviews[(SHOP, "google:r1")].published_revision == 0


def test_imported_reviews_announce_their_origin() -> None:
    imported = SourceItem(
        source=Source.CSV, source_id="judgeme:42", text="Great fit", rating=5, rating_scale=5
    )
    store, mentions = InMemoryReviews(), ListMentions()
    ingest(store, mentions, SHOP, [imported], T0)
    mention = mentions.sent[0][1]
    assert (mention.mention_id, mention.source) == ("csv:judgeme:42", "judgeme")
    assert mention_of(store.reviews[(SHOP, "csv:judgeme:42")]).rating == 5


def test_a_mention_says_whether_cxloop_can_reply_at_its_source() -> None:
    """Imported and pushed reviews, Yelp and Reddit are answered by the owner on the site (issue 17)."""
    store, mentions = InMemoryReviews(), ListMentions()
    sources = (Source.CSV, Source.WEBHOOK, Source.YELP, Source.REDDIT, Source.GOOGLE, Source.TRUSTPILOT)
    ingest(store, mentions, SHOP, [item(n, source=s) for n, s in enumerate(sources)], T0)
    said = {m.mention_id.split(":")[0]: m.takes_replies for _, m in mentions.sent}
    assert said == {"csv": False, "webhook": False, "yelp": False, "reddit": False,
                    "google": True, "trustpilot": True}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b", "c"])), max_size=30))
def test_any_sequence_of_fetches_stores_one_record_per_id_and_announces_each_change_once(
    fetches: list[tuple[int, str]],
) -> None:
    store, mentions = InMemoryReviews(), ListMentions()
    last: dict[int, str] = {}
    changes = 0
    for n, text in fetches:
        if last.get(n) != text:
            changes += 1
            last[n] = text
        ingest(store, mentions, SHOP, [item(n, text=text)], T0)
    assert len(store.reviews) == len(last)
    assert len(mentions.sent) == changes
    for n, text in last.items():
        assert store.reviews[(SHOP, f"google:r{n}")].item.text == text
    assert not store.unannounced


# --- pulling ----------------------------------------------------------------------------------------


def deps_for(
    connector: ScriptedConnector, store: InMemoryReviews | None = None
) -> tuple[PullDeps, ListAlerts]:
    alerts = ListAlerts()
    deps = PullDeps(
        store=store or InMemoryReviews(),
        states=store or InMemoryReviews(),
        credentials=DictCredentials({(SHOP, connector.source): {"token": "t"}}),
        connectors={connector.source: connector},
        mentions=ListMentions(),
        alerts=alerts,
        alert_after=timedelta(hours=2),
        rng=random.Random(1),
    )
    return deps, alerts


def state(**over: object) -> SourceState:
    return SourceState.model_validate({"shop_id": SHOP, "source": "google", **over})


def run(deps: PullDeps, current: SourceState, now: datetime) -> SourceState:
    result = pull(deps, current, now, clock=lambda: now)
    assert result.shop_id == SHOP
    saved = deps.states.states[(SHOP, "google")]  # type: ignore[attr-defined]
    return saved  # type: ignore[no-any-return]


def test_a_pull_moves_the_cursor_and_schedules_the_next() -> None:
    connector = ScriptedConnector("google", [item(n) for n in range(3)])
    store = InMemoryReviews()
    deps, _ = deps_for(connector, store)
    first = run(deps, state(), T0)
    assert first.high_water == T0 + timedelta(minutes=2)
    assert first.next_pull_at == T0 + timedelta(seconds=first.every_s)
    assert (first.last_success_at, first.failures) == (T0, 0)
    connector.items.append(item(9))
    second = run(deps, first, T0 + timedelta(hours=1))
    assert connector.pulls == [None, T0 + timedelta(minutes=2)]
    assert second.high_water == T0 + timedelta(minutes=9)
    assert len(store.reviews) == 4
    assert not due(second, T0 + timedelta(hours=1)) and due(second, second.next_pull_at)  # type: ignore[arg-type]


def test_a_failure_midway_keeps_what_was_stored_and_the_cursor() -> None:
    connector = ScriptedConnector(
        "google", [item(n) for n in range(120)], fail_with=Transient("502"), fail_after=60
    )
    store = InMemoryReviews()
    deps, _ = deps_for(connector, store)
    after = run(deps, state(high_water=T0 - timedelta(days=1)), T0)
    assert len(store.reviews) == 50  # the first full chunk was stored before the failure
    assert after.high_water == T0 - timedelta(days=1)
    assert (after.failures, after.last_error_kind, after.failing_since) == (1, "transient", T0)


def test_backoff_grows_and_one_alert_is_raised_per_run_of_failures() -> None:
    connector = ScriptedConnector("google", fail_with=AuthFailed("401 token expired", 401))
    deps, alerts = deps_for(connector)
    current, now = state(), T0
    for n in range(12):
        current = run(deps, current, now)
        assert current.next_pull_at is not None
        ceiling = min(timedelta(hours=1), timedelta(minutes=2**n))  # exponential, capped, jittered down
        assert ceiling / 2 <= current.next_pull_at - now <= ceiling
        now = current.next_pull_at
    assert now - T0 > timedelta(hours=2)
    failing = [a for a in alerts.sent if a[0] == SOURCE_FAILING]
    assert len(failing) == 1
    assert (
        failing[0][2]["message"] == "google connection broken: 401 token expired since 2026-11-01 12:00 UTC"
    )
    assert failing[0][2]["status"] == 401
    connector.fail_with = None
    recovered = run(deps, current, now)
    assert [a[0] for a in alerts.sent] == [SOURCE_FAILING, SOURCE_RECOVERED]
    assert (recovered.failures, recovered.failing_since, recovered.alerted) == (0, None, False)


def test_a_rate_limit_waits_for_the_source_without_counting_as_a_failure() -> None:
    later = T0 + timedelta(minutes=17)
    connector = ScriptedConnector("google", fail_with=RateLimited("429", later))
    deps, alerts = deps_for(connector)
    after = run(deps, state(), T0)
    assert (after.next_pull_at, after.failures, after.last_error_kind) == (later, 0, "rate_limited")
    assert alerts.sent == []


def test_missing_credentials_is_a_failure_that_says_so() -> None:
    connector = ScriptedConnector("google")
    deps, _ = deps_for(connector)
    deps.credentials = DictCredentials()
    after = run(deps, state(), T0)
    assert after.last_error_kind == "config"
    assert "cxloop reviews connect" in after.last_error


def test_a_disabled_connection_is_never_due() -> None:
    assert not due(state(enabled=False), T0)
    assert due(state(), T0)


def test_a_deletion_notice_keeps_what_the_review_said() -> None:
    store, mentions = InMemoryReviews(), ListMentions()
    ingest(store, mentions, SHOP, [item(1, text="Broke in a week")], T0)
    notice = SourceItem(source=Source.GOOGLE, source_id="r1", deleted=True)
    result = ingest(store, mentions, SHOP, [notice], T0 + timedelta(days=1))
    assert result.counts[Outcome.EDITED] == 1
    kept = store.reviews[(SHOP, "google:r1")]
    assert (kept.item.text, kept.item.deleted, kept.revision) == ("Broke in a week", True, 2)
    assert ingest(store, mentions, SHOP, [notice], T0 + timedelta(days=2)).counts[Outcome.UNCHANGED] == 1
