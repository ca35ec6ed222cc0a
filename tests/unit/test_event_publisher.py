"""EventBridgePublisher against a scripted PutEvents: ten entries per call, the envelope on each, and
refused entries named (moto never refuses one, so this is where that path is pinned)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.events import MENTION_INGESTED, EventBridgePublisher, PublishRefused


class ScriptedEvents:
    """PutEvents that accepts everything, except the entries whose correlation id it is told to refuse."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.refuse = refuse

    def put_events(self, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append(Entries)
        answers = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            if json.loads(e["Detail"])["correlation_id"] in self.refuse
            else {"EventId": f"e{i}"}
            for i, e in enumerate(Entries)
        ]
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}


def details(n: int) -> list[tuple[dict[str, Any], str]]:
    return [({"mention_id": f"m{i}"}, f"m{i}#1") for i in range(n)]


def test_many_go_ten_per_call_each_in_the_envelope() -> None:
    client = ScriptedEvents()
    EventBridgePublisher(client, "bus", "reviews").publish_many(MENTION_INGESTED, "shop-1", details(23))
    assert [len(call) for call in client.calls] == [10, 10, 3]
    first = client.calls[0][0]
    assert (first["EventBusName"], first["Source"], first["DetailType"]) == (
        "bus",
        "cxloop.reviews",
        MENTION_INGESTED,
    )
    envelope = json.loads(first["Detail"])
    assert (envelope["name"], envelope["shop_id"], envelope["correlation_id"]) == (
        MENTION_INGESTED,
        "shop-1",
        "m0#1",
    )
    assert envelope["data"] == {"mention_id": "m0"}


def test_a_refused_entry_stops_the_run_and_is_named() -> None:
    client = ScriptedEvents(refuse=frozenset({"m12#1"}))
    publisher = EventBridgePublisher(client, "bus", "reviews")
    with pytest.raises(PublishRefused) as refused:
        publisher.publish_many(MENTION_INGESTED, "shop-1", details(25))
    assert refused.value.refused == [("m12#1", "InternalFailure: try again")]
    assert "refused 1 of 10 MentionIngested" in str(refused.value)
    assert len(client.calls) == 2  # the third ten is not sent: the caller announces them again later


def test_one_event_is_one_call_and_a_refusal_raises() -> None:
    client = ScriptedEvents(refuse=frozenset({"corr"}))
    with pytest.raises(RuntimeError, match="refused 1 of 1 ShopErased"):
        EventBridgePublisher(client, "bus", "feedback").publish("ShopErased", "shop-1", {}, "corr")
    assert len(client.calls) == 1
