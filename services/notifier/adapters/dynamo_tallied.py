"""Answers and mentions written together with their share of the day's totals (see domain/tallies.py).

A record's write and its days' counter changes go in one transaction, guarded by the record's tally
version (``tver``): a writer that read an older state retries, so no change is counted twice or lost.
A redelivery that changes nothing writes nothing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.notifier.domain.tallies import FeedFields, Tally, changes
from shared.dynamo import cancellation_codes, day_sk, ordered_sk, shop_index_pk, shop_key

TRIES = 8
BACKOFF_S = 0.02  # the first wait's ceiling; doubled each try (full jitter)
RETRYABLE = {"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError", "None"}
FEED_ATTRS = (
    "feed_pk",
    "feed_sk",
    "kind",
    "channel",
    "stype",
    "score",
    "rating",
    "senti",
    "themes",
    "has_text",
)


@dataclass(frozen=True)
class Write:
    """What a writer sets on the record, and what the record then adds to its days and its feed."""

    sets: dict[str, Any]
    tally: Tally
    feed: FeedFields | None


# Given the record as stored (None: not yet), what to write; None when the stored state is as new or
# newer (a stale or repeated delivery): nothing to write.
Planner = Callable[[dict[str, Any] | None], Write | None]


def feed_attributes(shop_id: str, sk: str, feed: FeedFields) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "feed_pk": {"S": shop_index_pk(shop_id, "FEED")},
        "feed_sk": {"S": ordered_sk(feed.at.isoformat(), sk)},
        "kind": {"S": feed.kind},
        "channel": {"S": feed.channel},
        "has_text": {"BOOL": feed.has_text},
    }
    if feed.survey_type is not None:
        attrs["stype"] = {"S": feed.survey_type}
    if feed.score is not None:
        attrs["score"] = {"N": str(feed.score)}
    if feed.rating is not None:
        attrs["rating"] = {"N": repr(float(feed.rating))}
    if feed.sentiment is not None:
        attrs["senti"] = {"S": feed.sentiment}
    if feed.themes:
        attrs["themes"] = {"SS": list(feed.themes)}
    return attrs


def stored_tally(item: dict[str, Any] | None) -> tuple[Tally, int]:
    if not item or "tally" not in item:
        return Tally(), int(item["tver"]["N"]) if item and "tver" in item else 0
    return Tally.model_validate_json(item["tally"]["S"]), int(item["tver"]["N"])


class TalliedWriter:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._errors = dynamodb.exceptions

    def write(self, shop_id: str, sk: str, plan: Planner) -> bool:
        """Apply the plan to the record; False when it had nothing to write (stale or repeated)."""
        key = shop_key(shop_id, sk)
        for attempt in range(TRIES):
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            write = plan(item)
            if write is None:
                return False
            old, version = stored_tally(item)
            ops = [{"Update": self._record_update(key, shop_id, sk, write, version)}]
            for day, deltas in changes(old, write.tally).items():
                ops.append({"Update": self.day_update(shop_id, day, deltas)})
            try:
                if len(ops) == 1:
                    self._db.update_item(**ops[0]["Update"])
                else:
                    self._db.transact_write_items(TransactItems=ops)
            except self._errors.ConditionalCheckFailedException:
                continue  # the record was written meanwhile: read again
            except self._errors.TransactionCanceledException as e:
                if not _retryable(e):
                    raise
                # The record changed, or a busy day's totals were in another transaction: wait a little.
                time.sleep(random.uniform(0, BACKOFF_S * 2**attempt))
                continue
            return True
        raise RuntimeError(f"{sk} of {shop_id} kept changing")

    def _record_update(
        self, key: dict[str, Any], shop_id: str, sk: str, write: Write, version: int
    ) -> dict[str, Any]:
        sets = dict(write.sets)
        sets["tally"] = {"S": write.tally.model_dump_json()}
        sets["tver"] = {"N": str(version + 1)}
        feed = feed_attributes(shop_id, sk, write.feed) if write.feed else {}
        sets.update(feed)
        removed = [a for a in FEED_ATTRS if a not in feed]
        names = {f"#s{i}": name for i, name in enumerate(sets)}
        names.update({f"#r{i}": name for i, name in enumerate(removed)})
        values = {f":s{i}": value for i, value in enumerate(sets.values())}
        expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets)))
        if removed:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        if version:
            condition = "#tv = :tv"
            values[":tv"] = {"N": str(version)}
        else:
            condition = "attribute_not_exists(#tv)"
        names["#tv"] = "tver"
        return {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def day_update(self, shop_id: str, day: str, deltas: dict[str, int]) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(deltas)}
        values = {f":c{i}": {"N": str(v)} for i, v in enumerate(deltas.values())}
        return {
            "TableName": self._table,
            "Key": shop_key(shop_id, day_sk(day)),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(deltas))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }


def _retryable(error: Any) -> bool:
    reasons = set(cancellation_codes(error))
    return bool(reasons) and reasons <= RETRYABLE


def reading_of(item: dict[str, Any] | None, revision: int) -> dict[str, Any] | None:
    """The stored reading when it is of this revision."""
    if item and "reading" in item and int(item["reading_rev"]["N"]) == revision:
        reading: dict[str, Any] = json.loads(item["reading"]["S"])
        return reading
    return None
