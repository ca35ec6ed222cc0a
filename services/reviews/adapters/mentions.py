"""MentionIngested onto the bus, ten per PutEvents call (EventBridge's batch limit)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.events import MENTION_INGESTED, SOURCE_PREFIX, Envelope, MentionIngested


class EventBridgeMentions:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name
        self.calls = 0

    def publish_mentions(self, shop_id: str, mentions: Sequence[MentionIngested]) -> None:
        for start in range(0, len(mentions), 10):
            entries = [
                {
                    "EventBusName": self._bus,
                    "Source": SOURCE_PREFIX + "reviews",
                    "DetailType": MENTION_INGESTED,
                    "Detail": Envelope(
                        name=MENTION_INGESTED,
                        shop_id=shop_id,
                        correlation_id=m.idempotency_key,
                        data=m.model_dump(mode="json"),
                    ).model_dump_json(),
                }
                for m in mentions[start : start + 10]
            ]
            self.calls += 1
            result = self._client.put_events(Entries=entries)
            if result.get("FailedEntryCount"):
                raise RuntimeError(
                    f"EventBridge refused MentionIngested: {json.dumps(result['Entries'])[:500]}"
                )
