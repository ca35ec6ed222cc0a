"""Undated App Store feed entries take a neighbour's date (issue 15): the feed lists newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.reviews.connectors.app_store import dated, rss_item

pytestmark = pytest.mark.unit

OLD = datetime(2019, 5, 1, tzinfo=UTC)
OLDER = datetime(2018, 1, 1, tzinfo=UTC)


def entry(n: int, at: datetime | None) -> dict:
    e = {"id": {"label": str(n)}, "im:rating": {"label": "1"}, "content": {"label": "Broke."}}
    if at is not None:
        e["updated"] = {"label": at.isoformat()}
    return e


def test_an_undated_entry_is_no_newer_than_the_one_before_it():
    items = dated([rss_item(entry(1, OLD)), rss_item(entry(2, None)), rss_item(entry(3, OLDER))], None)
    assert [i.published_at for i in items] == [OLD, OLD, OLDER]


def test_an_undated_first_entry_takes_the_next_dated_one_or_the_previous_page():
    assert [i.published_at for i in dated([rss_item(entry(1, None)), rss_item(entry(2, OLD))], None)] == [
        OLD,
        OLD,
    ]
    assert dated([rss_item(entry(1, None))], OLDER)[0].published_at == OLDER
    assert dated([rss_item(entry(1, None))], None)[0].published_at is None  # nothing to go by
