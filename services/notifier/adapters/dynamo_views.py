"""Reading the notifier's table for the owner's dashboard and API: days' totals, the feed, cases and the
customers at risk, one page at a time.

Every query is by key (the shop's partition, or its ``gsi1``/``feed`` index partitions), never a scan.
A page's position (``after``) is the last key the caller was given: only its sort-key parts are taken
from it; the partition is always the caller's own shop, so a position from elsewhere cannot reach
another shop's records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore, customer_from_item
from services.notifier.domain.model import Case, Mention, SurveyAnswer
from services.notifier.domain.ports import Customer
from services.notifier.domain.tallies import DayTotals
from shared.dynamo import (
    OPEN_CASES,
    answer_sk,
    case_sk,
    customer_sk,
    day_sk,
    mention_sk,
    shop_index_pk,
    shop_pk,
)

MAX_EXAMINED = 1000  # items read for one filtered page at most; the page then ends early, with a position
Position = dict[str, str]


class BadPosition(ValueError):
    """A page position this table did not give out."""


@dataclass(frozen=True)
class FeedFilter:
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None  # response | mention
    channel: str | None = None  # email, or a review source
    survey_type: str | None = None
    min_score: int | None = None
    max_score: int | None = None
    sentiment: str | None = None
    theme: str | None = None
    has_text: bool | None = None


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _checked(
    after: Position | None,
    sort_attr: str,
    prefixes: tuple[str, ...],
    bounds: tuple[str, str] = ("", "\uffff"),
    whole_sk: bool = False,
) -> Position | None:
    """A position this list gave out: its two keys name the same record of this list (the sort key ends
    in the record's sk, or its id), within the query's bounds (DynamoDB refuses a start key outside)."""
    if after is None:
        return None
    if set(after) != {"sk", sort_attr} or not all(isinstance(v, str) and v for v in after.values()):
        raise BadPosition("not a position of this list")
    sk, sort_key = after["sk"], after[sort_attr]
    prefix = next((p for p in prefixes if sk.startswith(p)), None)
    tail = sk if whole_sk else sk.removeprefix(prefix or "")
    if prefix is None or not sort_key.endswith(f"#{tail}") or not bounds[0] <= sort_key <= bounds[1]:
        raise BadPosition("not a position of this list")
    return after


def _filter(f: FeedFilter) -> tuple[str, dict[str, str], dict[str, Any]]:
    parts: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for attr, op, value, kind in (
        ("kind", "=", f.kind, "S"),
        ("channel", "=", f.channel, "S"),
        ("stype", "=", f.survey_type, "S"),
        ("score", ">=", f.min_score, "N"),
        ("score", "<=", f.max_score, "N"),
        ("senti", "=", f.sentiment, "S"),
    ):
        if value is None:
            continue
        n = len(values)
        names[f"#f{n}"] = attr
        values[f":f{n}"] = {kind: str(value)}
        parts.append(f"#f{n} {op} :f{n}")
    if f.theme is not None:
        values[":theme"] = _s(f.theme)
        names["#themes"] = "themes"
        parts.append("contains(#themes, :theme)")
    if f.has_text is not None:
        values[":text"] = {"BOOL": f.has_text}
        names["#text"] = "has_text"
        parts.append("#text = :text")
    return " AND ".join(parts), names, values


class DynamoViews:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._store = DynamoNotifierStore(dynamodb, table)

    # --- totals ---------------------------------------------------------------------------------------

    def days(self, shop_id: str, first: date, last: date) -> list[DayTotals]:
        items = self._all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": _s(shop_pk(shop_id)),
                ":a": _s(day_sk(first.isoformat())),
                ":b": _s(day_sk(last.isoformat())),
            },
        )
        return [
            DayTotals(
                day=date.fromisoformat(i["sk"]["S"].removeprefix(day_sk(""))),
                counts={k: int(v["N"]) for k, v in i.items() if "N" in v},
            )
            for i in items
        ]

    # --- the feed -------------------------------------------------------------------------------------

    def feed(
        self, shop_id: str, f: FeedFilter, limit: int, after: Position | None = None
    ) -> tuple[list[SurveyAnswer | Mention], Position | None]:
        """Newest first."""
        low = f.since.isoformat() if f.since else "0"
        high = (f.until.isoformat() if f.until else "9") + "~"
        kwargs: dict[str, Any] = {
            "IndexName": "feed",
            "KeyConditionExpression": "feed_pk = :fp AND feed_sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":fp": _s(shop_index_pk(shop_id, "FEED")),
                ":lo": _s(low),
                ":hi": _s(high),
            },
            "ScanIndexForward": False,
        }
        condition, names, values = _filter(f)
        if condition:
            kwargs["FilterExpression"] = condition
            kwargs["ExpressionAttributeNames"] = names
            kwargs["ExpressionAttributeValues"].update(values)
        start = _checked(after, "feed_sk", (answer_sk(""), mention_sk("")), (low, high), whole_sk=True)
        items, position = self._page(shop_id, "feed_pk", "FEED", kwargs, limit, start)
        return [_record(i) for i in items], position

    # --- cases and customers --------------------------------------------------------------------------

    def cases(
        self, shop_id: str, status: str | None, limit: int, after: Position | None = None
    ) -> tuple[list[Case], Position | None]:
        """Newest first."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :g",
            "ExpressionAttributeValues": {":g": _s(shop_index_pk(shop_id, "CASE"))},
            "ScanIndexForward": False,
        }
        if status:
            # The status lives in the document; a case's compact JSON names it once: "status":"<value>".
            kwargs["FilterExpression"] = "contains(doc, :st)"
            kwargs["ExpressionAttributeValues"][":st"] = _s(f'"status":{json.dumps(status)}')
        start = _checked(after, "gsi1sk", (case_sk(""),))
        items, position = self._page(shop_id, "gsi1pk", "CASE", kwargs, limit, start)
        return [Case.model_validate_json(i["doc"]["S"]) for i in items], position

    def open_cases(self, shop_id: str, now: datetime) -> tuple[int, int]:
        """(open, overdue), from the open cases' markers (ordered by first-reply target)."""
        markers = self._all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": _s(shop_pk(shop_id)), ":p": _s(OPEN_CASES)},
        )
        due = OPEN_CASES + now.astimezone(UTC).isoformat()
        return len(markers), sum(1 for m in markers if m["sk"]["S"] < due)

    def at_risk(
        self, shop_id: str, limit: int, after: Position | None = None
    ) -> tuple[list[Customer], Position | None]:
        """Riskiest first."""
        kwargs: dict[str, Any] = {
            "IndexName": "feed",
            "KeyConditionExpression": "feed_pk = :fp",
            "ExpressionAttributeValues": {":fp": _s(shop_index_pk(shop_id, "RISK"))},
            "ScanIndexForward": False,
        }
        start = _checked(after, "feed_sk", (customer_sk(""),))
        items, position = self._page(shop_id, "feed_pk", "RISK", kwargs, limit, start)
        return [customer_from_item(i) for i in items], position

    # --- paging ---------------------------------------------------------------------------------------

    def _page(
        self,
        shop_id: str,
        index_pk: str,
        part: str,
        kwargs: dict[str, Any],
        limit: int,
        start: Position | None,
    ) -> tuple[list[dict[str, Any]], Position | None]:
        """Up to ``limit`` matching items, and where the next page starts (None: no more)."""
        sort_attr = next(k for k in ("feed_sk", "gsi1sk") if index_pk.startswith(k[:-3]))
        found: list[dict[str, Any]] = []
        examined = 0
        if start is not None:
            kwargs["ExclusiveStartKey"] = {
                "pk": _s(shop_pk(shop_id)),
                "sk": _s(start["sk"]),
                index_pk: _s(shop_index_pk(shop_id, part)),
                sort_attr: _s(start[sort_attr]),
            }
        while True:
            wanted = limit - len(found)
            if "FilterExpression" in kwargs:  # read ahead: most items may not match
                wanted = min(MAX_EXAMINED - examined, max(100, 4 * wanted))
            page = self._db.query(TableName=self._table, Limit=max(wanted, 1), **kwargs)
            examined += int(page.get("ScannedCount", len(page["Items"])))
            for item in page["Items"]:
                found.append(item)
                if len(found) == limit:
                    return found, {"sk": item["sk"]["S"], sort_attr: item[sort_attr]["S"]}
            last = page.get("LastEvaluatedKey")
            if last is None:
                return found, None
            if examined >= MAX_EXAMINED:
                return found, {"sk": last["sk"]["S"], sort_attr: last[sort_attr]["S"]}
            kwargs["ExclusiveStartKey"] = last

    def _all(self, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self._db.query(TableName=self._table, **kwargs)
            found.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _record(item: dict[str, Any]) -> SurveyAnswer | Mention:
    if item["sk"]["S"].startswith(answer_sk("")):
        answer = DynamoNotifierStore._answer(item)
        assert answer is not None  # on the feed only once its answer is stored
        return answer
    return Mention.model_validate_json(item["doc"]["S"])
