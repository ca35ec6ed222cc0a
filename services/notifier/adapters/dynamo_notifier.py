"""The notifier's records in its own table (``<prefix>-notifier``).

Items, all under ``pk SHOP#<shop>``:
- ``ANSWER#<invite>``, ``MENTION#<id>``: the newest revision (``rev``), the reading beside it (``reading``,
  ``reading_rev``); listed by time on ``gsi1``.
- ``CASE#<case>``: a case (``version`` for optimistic writes); by time on ``gsi1``; on the ``due`` index
  while its automatic reply is due. It carries its share of the days' service figures (``ktally``,
  domain/service_kpis.py), changed in the same transaction as the case. ``OPEN#<target>#<case>``: a
  small marker while the case is open,
  written with it, so the dashboard counts open and overdue cases without reading them.
- ``ALERT#<destination>#<rule>#<subject>``: the dedupe marker of one alert (TTL 90 days).
- ``BATCH#<destination>#<window>``: alerts for one message; on the ``due`` index until sent.
- ``DAY#<date>``: the day's totals (domain/tallies.py), kept in step with every answer and mention.
  Answers and mentions carry their share (``tally``, ``tver``) and what the dashboard's feed filters on,
  on the ``feed`` index (``feed_pk SHOP#<shop>#FEED``, ``feed_sk <time>#<sk>``).
- ``DEST#<name>``, ``SURGE#<theme>#<day>`` (a string set of subjects: adding one twice counts once),
  ``SENTRUN#<run>#<type>`` (a dispatcher run's sends, counted on the day's ``sent_<type>``: once),
  ``SUPPRESSED#<email hash>``, ``CUST#<key>`` (orders and risk; on the ``feed`` index, ``SHOP#<shop>#RISK``,
  while at risk), ``RISKRUN`` (when the risk was last computed), ``MARK#<key>``.
A sparse ``customer`` index finds a person's items for erasure.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.adapters.dynamo_retention import DynamoRetention
from services.notifier.adapters.dynamo_tallied import (
    RETRYABLE,
    TalliedWriter,
    Write,
    reading_of,
    stored_tally,
)
from services.notifier.domain.emerging import Emerging
from services.notifier.domain.model import (
    MAX_SAMPLES,
    Alert,
    AlertBatch,
    Case,
    CaseStatus,
    Mention,
    ReplyState,
    SurveyAnswer,
)
from services.notifier.domain.ports import (
    Added,
    BatchRef,
    Customer,
    CustomerValue,
    DestinationState,
    OrderLine,
    RiskRun,
    ValueRun,
)
from services.notifier.domain.service_kpis import CaseTally, case_tally, tally_changes
from services.notifier.domain.tallies import (
    DayTotals,
    Tally,
    answer_fields,
    answer_tally,
    mention_fields,
    mention_tally,
)
from shared.clock import utcnow
from shared.dynamo import (
    ABSENT,
    BATCHES,
    RISK_RUN_SK,
    alert_sk,
    answer_sk,
    batch_sk,
    cancellation_codes,
    case_sk,
    customer_sk,
    day_sk,
    destination_sk,
    failed_conditions,
    if_version,
    legacy_sent_sk,
    mark_sk,
    mention_sk,
    open_case_sk,
    ordered_sk,
    sent_run_sk,
    shop_index_pk,
    shop_key,
    shop_of,
    shop_pk,
    suppressed_sk,
    surge_sk,
    written,
)
from shared.sentiment import Sentiment, ThemeScore

BATCH_DUE = "BATCH"
REPLY_DUE = "REPLY"
ALERT_TTL = timedelta(days=90)
RUN_TTL = timedelta(days=7)  # a dispatcher run's send is redelivered within minutes, never a week later
SENT = "sent_"  # the day's totals' counter of invitations sent, per survey type: sent_nps ...
MAX_ORDERS = 200  # per customer: enough for any churn feature (a year and the gaps between orders)
CONFLICT_TRIES = 4  # a batch written by a burst of alerts at once
RULE_COUNT = "n_"  # a batch's count per rule: n_detractor ...
PERSONAL = ("email", "first_name", "comment", "reply_text")
PHRASES = "PHRASES#"  # a complete week's phrase counts, by its Monday (domain/emerging.py)
EMERGING_SK = "EMERGING"  # the daily job's emerging topics, with examples (erased with the shop)


def _ttl(at: datetime) -> dict[str, str]:
    return {"N": str(int(at.timestamp()))}


class DynamoNotifierStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._errors = dynamodb.exceptions
        self._tallied = TalliedWriter(dynamodb, table)

    # --- answers and mentions -------------------------------------------------------------------------

    def _revision_sets(
        self, shop_id: str, sk: str, doc: str, rev: int, moment: datetime, kind: str, customer_key: str | None
    ) -> dict[str, Any]:
        sets: dict[str, Any] = {
            "doc": {"S": doc},
            "rev": {"N": str(rev)},
            "gsi1pk": {"S": shop_index_pk(shop_id, kind)},
            "gsi1sk": {"S": ordered_sk(moment.isoformat(), sk)},
        }
        if customer_key:
            sets["cust_pk"] = {"S": shop_index_pk(shop_id, customer_key)}
            sets["cust_sk"] = {"S": sk}
        return sets

    def put_answer(self, shop_id: str, answer: SurveyAnswer) -> bool:
        sk = answer_sk(answer.invite_id)
        doc = answer.model_dump_json(exclude={"sentiment", "themes"}, exclude_none=True)
        seen = False

        def plan(item: dict[str, Any] | None) -> Write | None:
            nonlocal seen
            stored = int(item["rev"]["N"]) if item and "doc" in item else 0
            seen = stored == answer.revision
            if stored >= answer.revision or (item and "erased" in item):
                return None
            merged = _with_reading(answer, reading_of(item, answer.revision))
            sets = self._revision_sets(
                shop_id, sk, doc, answer.revision, answer.answered_at, "ANSWER", answer.customer_key
            )
            return Write(sets, answer_tally(merged), answer_fields(merged))

        return self._tallied.write(shop_id, sk, plan) or seen

    def put_reading(
        self,
        shop_id: str,
        invite_id: str,
        revision: int,
        sentiment: Sentiment | None,
        themes: list[ThemeScore],
    ) -> None:
        reading = {
            "sentiment": sentiment.model_dump() if sentiment else None,
            "themes": [t.model_dump() for t in themes],
        }

        def plan(item: dict[str, Any] | None) -> Write | None:
            stored = int(item["reading_rev"]["N"]) if item and "reading_rev" in item else 0
            if item and "erased" in item:
                return None
            if stored > revision or (stored == revision and json.loads(item["reading"]["S"]) == reading):  # type: ignore[index]
                return None
            sets = {"reading": {"S": json.dumps(reading)}, "reading_rev": {"N": str(revision)}}
            answer = self._answer({**(item or {}), **sets})
            if answer is None:
                return Write(sets, Tally(), None)  # the answer's own event is still on its way
            return Write(sets, answer_tally(answer), answer_fields(answer))

        self._tallied.write(shop_id, answer_sk(invite_id), plan)

    @staticmethod
    def _answer(item: dict[str, Any]) -> SurveyAnswer | None:
        if "doc" not in item:
            return None  # only a reading so far: the answer's own event is still on its way
        answer = SurveyAnswer.model_validate_json(item["doc"]["S"])
        return _with_reading(answer, reading_of(item, answer.revision))

    def answer(self, shop_id: str, invite_id: str) -> SurveyAnswer | None:
        item = self._get(shop_id, answer_sk(invite_id))
        return self._answer(item) if item else None

    def put_mention(self, shop_id: str, mention: Mention) -> bool:
        sk = mention_sk(mention.mention_id)
        seen = False

        def plan(item: dict[str, Any] | None) -> Write | None:
            nonlocal seen
            stored = int(item["rev"]["N"]) if item and "rev" in item else 0
            seen = stored == mention.revision
            if stored >= mention.revision:
                return None
            doc = mention.model_dump_json(exclude_none=True)
            sets = self._revision_sets(shop_id, sk, doc, mention.revision, mention.scored_at, "MENTION", None)
            return Write(sets, mention_tally(mention), mention_fields(mention))

        return self._tallied.write(shop_id, sk, plan) or seen

    def retally(self, shop_id: str) -> int:
        """Bring every answer's, mention's and case's share of the days' totals up to the current rules:
        records stored before the totals existed (or before a counter was added, such as the themes'
        ``xa_``/``xr_`` or the cases' ``k_``) get it; those already up to date are left alone, so running
        it twice counts nothing twice. The number of records brought up to date."""

        def plan(item: dict[str, Any] | None) -> Write | None:
            if not item or "doc" not in item:
                return None
            if item["sk"]["S"].startswith(answer_sk("")):
                answer = self._answer(item)
                if answer is None:
                    return None
                write = Write({}, answer_tally(answer), answer_fields(answer))
            else:
                mention = Mention.model_validate_json(item["doc"]["S"])
                write = Write({}, mention_tally(mention), mention_fields(mention))
            return None if "tally" in item and stored_tally(item)[0] == write.tally else write

        added = 0
        for kind in ("ANSWER", "MENTION"):
            for item in self._since(shop_id, kind, datetime(2000, 1, 1, tzinfo=UTC)):
                added += self._tallied.write(shop_id, item["sk"]["S"], plan)
        for item in self._since(shop_id, "CASE", datetime(2000, 1, 1, tzinfo=UTC)):
            case = Case.model_validate_json(item["doc"]["S"])
            if case.status is CaseStatus.OPEN:  # its marker, for the dashboard's counts
                self._db.transact_write_items(TransactItems=[self._marker(case)])
            stored = json.loads(item["ktally"]["S"]) if "ktally" in item else None
            if stored != case_tally(case):
                added += self._write_case(case, case.version)  # the same version: only its share changes
        self._fold_legacy_sent(shop_id)
        return added

    def _since(self, shop_id: str, kind: str, since: datetime) -> list[dict[str, Any]]:
        return self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g AND gsi1sk >= :s",
            ExpressionAttributeValues={
                ":g": {"S": shop_index_pk(shop_id, kind)},
                ":s": {"S": since.isoformat()},
            },
        )

    def answers_since(self, shop_id: str, since: datetime) -> list[SurveyAnswer]:
        found = (self._answer(i) for i in self._since(shop_id, "ANSWER", since))
        return [a for a in found if a is not None]

    def mentions_since(self, shop_id: str, since: datetime) -> list[Mention]:
        return [Mention.model_validate_json(i["doc"]["S"]) for i in self._since(shop_id, "MENTION", since)]

    # --- alerts and batches ---------------------------------------------------------------------------

    def add_alert(self, alert: Alert, ref: BatchRef, due_at: datetime) -> Added:
        """One transaction: the alert's marker (once) and the batch's count; a sample when there is room."""
        marker = {
            **shop_key(alert.shop_id, alert_sk(ref.destination, alert.key)),
            "batch": {"S": ref.window},
            "ttl": _ttl(alert.at + ALERT_TTL),
        }
        batch_update = {
            "TableName": self._table,
            "Key": shop_key(alert.shop_id, batch_sk(ref.destination, ref.window)),
            "UpdateExpression": "SET #st = if_not_exists(#st, :open), due_at = if_not_exists(due_at, :due), "
            "due_pk = if_not_exists(due_pk, :dp), due_sk = if_not_exists(due_sk, :ds), "
            "destination = :dest, #w = :w, #ttl = :ttl ADD #n :one, #r :one",
            "ConditionExpression": "attribute_not_exists(#st) OR #st = :open",
            "ExpressionAttributeNames": {
                "#st": "state",
                "#n": "count",
                "#r": f"{RULE_COUNT}{alert.rule.value}",
                "#w": "window",
                "#ttl": "ttl",
            },
            "ExpressionAttributeValues": {
                ":open": {"S": "open"},
                ":due": {"S": due_at.isoformat()},
                ":dp": {"S": BATCH_DUE},
                ":ds": {"S": ordered_sk(due_at.isoformat(), alert.shop_id, ref.destination, ref.window)},
                ":dest": {"S": ref.destination},
                ":w": {"S": ref.window},
                ":one": {"N": "1"},
                ":ttl": _ttl(due_at + ALERT_TTL),
            },
        }
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": marker,
                    "ConditionExpression": ABSENT,
                }
            },
            {"Update": batch_update},
        ]
        for attempt in range(CONFLICT_TRIES):
            try:
                self._db.transact_write_items(TransactItems=items)
                break
            except self._errors.TransactionCanceledException as e:
                failed = failed_conditions(e)
                if 0 in failed:
                    return Added.DUPLICATE
                if 1 in failed:
                    return Added.CLOSED
                if "TransactionConflict" not in cancellation_codes(e) or attempt == CONFLICT_TRIES - 1:
                    raise
                # Another alert of a burst is writing the same batch: try again in a moment.
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # jitter
        self._add_sample(alert, ref)
        return Added.NEW

    def _add_sample(self, alert: Alert, ref: BatchRef) -> None:
        written(  # False: the batch is full, or closed meanwhile
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(alert.shop_id, batch_sk(ref.destination, ref.window)),
            UpdateExpression="SET samples = list_append(if_not_exists(samples, :none), :s)",
            ConditionExpression="(attribute_not_exists(samples) OR size(samples) < :max) AND #st = :open",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={
                ":s": {"L": [{"S": alert.model_dump_json(exclude_none=True)}]},
                ":max": {"N": str(MAX_SAMPLES)},
                ":none": {"L": []},
                ":open": {"S": "open"},
            },
        )

    def due_batches(self, now: datetime, limit: int) -> list[BatchRef]:
        items = self._query(
            IndexName="due",
            KeyConditionExpression="due_pk = :p AND due_sk <= :now",
            ExpressionAttributeValues={":p": {"S": BATCH_DUE}, ":now": {"S": now.isoformat() + "~"}},
            Limit=limit,
            limit=limit,
        )
        return [BatchRef(shop_of(i["pk"]["S"]), i["destination"]["S"], i["window"]["S"]) for i in items]

    def close_batch(self, ref: BatchRef) -> AlertBatch | None:
        try:
            item = self._db.update_item(
                TableName=self._table,
                Key=shop_key(ref.shop_id, batch_sk(ref.destination, ref.window)),
                UpdateExpression="SET #st = :closed",
                ConditionExpression="#st IN (:open, :closed)",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":open": {"S": "open"}, ":closed": {"S": "closed"}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self._errors.ConditionalCheckFailedException:
            return None
        return AlertBatch(
            shop_id=ref.shop_id,
            destination=ref.destination,
            window=ref.window,
            due_at=datetime.fromisoformat(item["due_at"]["S"]),
            count=int(item["count"]["N"]),
            by_rule={
                k.removeprefix(RULE_COUNT): int(v["N"]) for k, v in item.items() if k.startswith(RULE_COUNT)
            },
            samples=[Alert.model_validate_json(s["S"]) for s in item.get("samples", {}).get("L", [])],
            state="closed",
            attempts=int(item.get("attempts", {}).get("N", "0")),
        )

    def finish_batch(self, ref: BatchRef, outcome: str, retry_at: datetime | None = None) -> None:
        key = shop_key(ref.shop_id, batch_sk(ref.destination, ref.window))
        if retry_at is not None:
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET due_sk = :ds, last_error = :e ADD attempts :one",
                ExpressionAttributeValues={
                    ":ds": {"S": ordered_sk(retry_at.isoformat(), ref.shop_id, ref.destination, ref.window)},
                    ":e": {"S": outcome[:500]},
                    ":one": {"N": "1"},
                },
            )
            return
        self._db.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression="SET #st = :s, finished_at = :at REMOVE due_pk, due_sk",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={":s": {"S": outcome}, ":at": {"S": utcnow().isoformat()}},
        )

    def held_batches(self, shop_id: str, destination: str) -> list[BatchRef]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            FilterExpression="#st = :held",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={
                ":pk": {"S": shop_pk(shop_id)},
                ":p": {"S": batch_sk(destination, "")},
                ":held": {"S": "held"},
            },
        )
        return [BatchRef(shop_id, destination, i["window"]["S"]) for i in items]

    def release_batch(self, ref: BatchRef, now: datetime) -> None:
        """A held batch (its destination was broken, and is fixed): due again now."""
        self._db.update_item(
            TableName=self._table,
            Key=shop_key(ref.shop_id, batch_sk(ref.destination, ref.window)),
            UpdateExpression="SET #st = :closed, due_pk = :dp, due_sk = :ds",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={
                ":closed": {"S": "closed"},
                ":dp": {"S": BATCH_DUE},
                ":ds": {"S": ordered_sk(now.isoformat(), ref.shop_id, ref.destination, ref.window)},
            },
        )

    def destination_state(self, shop_id: str, name: str) -> DestinationState:
        item = self._get(shop_id, destination_sk(name))
        if not item:
            return DestinationState()
        until = item.get("blocked_until", {}).get("S")
        return DestinationState(
            broken=item.get("broken", {}).get("BOOL", False),
            reason=item.get("reason", {}).get("S", ""),
            blocked_until=datetime.fromisoformat(until) if until else None,
        )

    def set_destination_state(self, shop_id: str, name: str, state: DestinationState) -> bool:
        item: dict[str, Any] = {
            **shop_key(shop_id, destination_sk(name)),
            "broken": {"BOOL": state.broken},
            "reason": {"S": state.reason},
        }
        if state.blocked_until:
            item["blocked_until"] = {"S": state.blocked_until.isoformat()}
        old = self._db.put_item(TableName=self._table, Item=item, ReturnValues="ALL_OLD").get(
            "Attributes", {}
        )
        return bool(old.get("broken", {}).get("BOOL", False)) != state.broken

    # --- cases ----------------------------------------------------------------------------------------

    def _case_item(self, case: Case) -> dict[str, Any]:
        item: dict[str, Any] = {
            **shop_key(case.shop_id, case_sk(case.case_id)),
            "doc": {"S": case.model_dump_json(exclude_none=True)},
            "version": {"N": str(case.version)},
            "gsi1pk": {"S": shop_index_pk(case.shop_id, "CASE")},
            "gsi1sk": {"S": ordered_sk(case.opened_at.isoformat(), case.case_id)},
        }
        if case.customer_key:
            item["cust_pk"] = {"S": shop_index_pk(case.shop_id, case.customer_key)}
            item["cust_sk"] = {"S": case_sk(case.case_id)}
        if case.reply_state is ReplyState.SCHEDULED and case.reply_due_at:
            item["due_pk"] = {"S": REPLY_DUE}
            item["due_sk"] = {"S": ordered_sk(case.reply_due_at.isoformat(), case.shop_id, case.case_id)}
        return item

    def _marker(self, case: Case) -> dict[str, Any]:
        """An open case's small marker, by first-reply target: the dashboard counts open and overdue cases
        from these (tens of bytes each), never from the cases themselves."""
        if case.status is CaseStatus.OPEN:
            item = {**shop_key(case.shop_id, _open_sk(case)), "case_id": {"S": case.case_id}}
            return {"Put": {"TableName": self._table, "Item": item}}
        return {"Delete": {"TableName": self._table, "Key": shop_key(case.shop_id, _open_sk(case))}}

    def _write_case(self, case: Case, expected_version: int | None) -> bool:
        """The case, its open marker and the change of its days' service figures, in one transaction:
        the figures it added before are read from the version being replaced."""
        for attempt in range(CONFLICT_TRIES):
            old: CaseTally = {}
            if expected_version is not None:
                stored = self._get(case.shop_id, case_sk(case.case_id))
                if stored is None or int(stored["version"]["N"]) != expected_version:
                    return False
                old = json.loads(stored["ktally"]["S"]) if "ktally" in stored else {}
            new = case_tally(case)
            item = {**self._case_item(case), "ktally": {"S": json.dumps(new, sort_keys=True)}}
            ops: list[dict[str, Any]] = [
                {"Put": {"TableName": self._table, "Item": item, **if_version(expected_version)}},
                self._marker(case),
            ]
            for day, deltas in tally_changes(old, new).items():
                ops.append({"Update": self._tallied.day_update(case.shop_id, day, deltas)})
            try:
                self._db.transact_write_items(TransactItems=ops)
            except self._errors.TransactionCanceledException as e:
                if 0 in failed_conditions(e):
                    return False
                if not set(cancellation_codes(e)) <= RETRYABLE:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # a busy day's totals: try again
                continue
            return True
        raise RuntimeError(f"case {case.case_id} of {case.shop_id}: its days' totals stayed busy")

    def open_case(self, case: Case) -> bool:
        return self._write_case(case, None)

    def case(self, shop_id: str, case_id: str) -> Case | None:
        item = self._get(shop_id, case_sk(case_id))
        return Case.model_validate_json(item["doc"]["S"]) if item else None

    def save_case(self, case: Case, expected_version: int) -> bool:
        return self._write_case(case, expected_version)

    def cases(self, shop_id: str, since: datetime | None = None) -> list[Case]:
        start = (since or datetime(2000, 1, 1, tzinfo=UTC)).isoformat()
        items = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g AND gsi1sk >= :s",
            ExpressionAttributeValues={":g": {"S": shop_index_pk(shop_id, "CASE")}, ":s": {"S": start}},
        )
        return [Case.model_validate_json(i["doc"]["S"]) for i in items]

    def customer_cases(self, shop_id: str, customer_key: str) -> list[Case]:
        """A customer's cases: their keys from the ``customer`` index (a key query), then the cases."""
        keys = self._query(
            IndexName="customer",
            KeyConditionExpression="cust_pk = :c AND begins_with(cust_sk, :p)",
            ExpressionAttributeValues={
                ":c": {"S": shop_index_pk(shop_id, customer_key)},
                ":p": {"S": case_sk("")},
            },
        )
        found = (self._get(shop_id, k["sk"]["S"]) for k in keys)
        return [Case.model_validate_json(i["doc"]["S"]) for i in found if i and "doc" in i]

    def days(self, shop_id: str, first: str, last: str) -> list[DayTotals]:
        """The days' totals from ``first`` to ``last`` (ISO dates): one key query, a day an item."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": shop_pk(shop_id)},
                ":a": {"S": day_sk(first)},
                ":b": {"S": day_sk(last)},
            },
        )
        return [
            DayTotals(
                day=datetime.fromisoformat(i["sk"]["S"].removeprefix(day_sk(""))).date(),
                counts={k: int(v["N"]) for k, v in i.items() if "N" in v},
            )
            for i in items
        ]

    # --- emerging topics (domain/emerging.py) ----------------------------------------------------------

    def phrase_weeks(self, shop_id: str, first: str, last: str) -> dict[str, dict[str, int]]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": shop_pk(shop_id)},
                ":a": {"S": PHRASES + first},
                ":b": {"S": PHRASES + last},
            },
        )
        return {i["sk"]["S"].removeprefix(PHRASES): json.loads(i["counts"]["S"]) for i in items}

    def put_phrase_week(self, shop_id: str, week: str, counts: dict[str, int]) -> None:
        item = {**shop_key(shop_id, PHRASES + week), "counts": {"S": json.dumps(counts, sort_keys=True)}}
        self._db.put_item(TableName=self._table, Item=item)

    def put_emerging(self, shop_id: str, found: Emerging) -> None:
        item = {**shop_key(shop_id, EMERGING_SK), "doc": {"S": found.model_dump_json()}}
        self._db.put_item(TableName=self._table, Item=item)

    def emerging(self, shop_id: str) -> Emerging | None:
        item = self._get(shop_id, EMERGING_SK)
        return Emerging.model_validate_json(item["doc"]["S"]) if item else None

    def due_replies(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        items = self._query(
            IndexName="due",
            KeyConditionExpression="due_pk = :p AND due_sk <= :now",
            ExpressionAttributeValues={":p": {"S": REPLY_DUE}, ":now": {"S": now.isoformat() + "~"}},
            Limit=limit,
            limit=limit,
        )
        return [(shop_of(i["pk"]["S"]), i["sk"]["S"].removeprefix(case_sk(""))) for i in items]

    # --- counters, suppressions, customers, markers -------------------------------------------------

    def count_theme(self, shop_id: str, theme: str, day: str, subject: str) -> int:
        item = self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, surge_sk(theme, day)),
            UpdateExpression="ADD subjects :s SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":s": {"SS": [subject]},
                ":ttl": _ttl(datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=30)),
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return len(item["subjects"]["SS"])

    def theme_counts(self, shop_id: str, theme: str, days: Sequence[str]) -> list[int]:
        if not days:
            return []
        keys = [shop_key(shop_id, surge_sk(theme, d)) for d in days]
        got = self._db.batch_get_item(
            RequestItems={self._table: {"Keys": keys, "ProjectionExpression": "sk, subjects"}}
        )["Responses"].get(self._table, [])
        by_sk = {i["sk"]["S"]: len(i.get("subjects", {}).get("SS", [])) for i in got}
        return [by_sk.get(surge_sk(theme, d), 0) for d in days]

    def add_sent(self, shop_id: str, day: str, survey_type: str, count: int, run_id: str) -> None:
        """Counted on the day's totals (``sent_<type>``) once per dispatcher run: the run's marker is a
        small item of its own (kept a week), so the day's item stays small however often runs come."""
        marker = {
            **shop_key(shop_id, sent_run_sk(run_id, survey_type)),
            "ttl": _ttl(utcnow() + RUN_TTL),
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": marker,
                            "ConditionExpression": ABSENT,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": shop_key(shop_id, day_sk(day)),
                            "UpdateExpression": "ADD #t :n",
                            "ExpressionAttributeNames": {"#t": f"{SENT}{survey_type}"},
                            "ExpressionAttributeValues": {":n": {"N": str(count)}},
                        }
                    },
                ]
            )
        except self._errors.TransactionCanceledException as e:
            if 0 not in failed_conditions(e):
                raise  # not a redelivered run: let the message be retried

    def sent_between(self, shop_id: str, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        """Sends per day and survey type: from the days' totals, and from ``SENT#`` items written
        before they held them (until ``retally`` folds those in)."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": shop_pk(shop_id)},
                ":a": {"S": day_sk(first_day)},
                ":b": {"S": day_sk(last_day) + "~"},
            },
        )
        found: dict[str, dict[str, int]] = {}
        for i in items:
            sent = {
                k.removeprefix(SENT): int(v["N"]) for k, v in i.items() if k.startswith(SENT) and "N" in v
            }
            if sent:
                found[i["sk"]["S"].removeprefix(day_sk(""))] = sent
        for day, counts in self._legacy_sent(shop_id, first_day, last_day).items():
            merged = found.setdefault(day, {})
            for kind, n in counts.items():
                merged[kind] = merged.get(kind, 0) + n
        return found

    def _legacy_sent(self, shop_id: str, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": shop_pk(shop_id)},
                ":a": {"S": legacy_sent_sk(first_day)},
                ":b": {"S": legacy_sent_sk(last_day) + "~"},
            },
        )
        return {
            i["sk"]["S"].removeprefix(legacy_sent_sk("")): {k: int(v["N"]) for k, v in i.items() if "N" in v}
            for i in items
        }

    def _fold_legacy_sent(self, shop_id: str) -> None:
        """``SENT#<day>`` items (before the days' totals held sends): added to the day, then deleted."""
        for day, counts in self._legacy_sent(shop_id, "0000", "9999").items():
            deltas = {f"{SENT}{k}": n for k, n in counts.items() if n}
            ops: list[dict[str, Any]] = [
                {"Delete": {"TableName": self._table, "Key": shop_key(shop_id, legacy_sent_sk(day))}}
            ]
            if deltas:
                ops.append({"Update": self._tallied.day_update(shop_id, day, deltas)})
            self._db.transact_write_items(TransactItems=ops)

    def suppress(self, shop_id: str, email_hash: str, reason: str, at: datetime) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                **shop_key(shop_id, suppressed_sk(email_hash)),
                "reason": {"S": reason},
                "at": {"S": at.isoformat()},
            },
        )

    def is_suppressed(self, shop_id: str, email_hash: str) -> bool:
        return self._get(shop_id, suppressed_sk(email_hash)) is not None

    def add_order(self, shop_id: str, customer_key: str, line: OrderLine, contact: dict[str, str]) -> None:
        """The order replaces any earlier version of itself in the customer's list (a cancellation). A
        versioned write: two of the customer's orders arriving at once both stay."""
        sk = customer_sk(customer_key)
        for _ in range(CONFLICT_TRIES):
            item = self._get(shop_id, sk) or {}
            version = int(item.get("ov", {}).get("N", "0"))
            orders = {o["order_id"]: o for o in json.loads(item.get("orders", {}).get("S", "[]"))}
            orders[line.order_id] = {
                "order_id": line.order_id,
                "at": line.at.isoformat(),
                "total": line.total,
                "cancelled": line.cancelled,
                "currency": line.currency,
            }
            kept = sorted(orders.values(), key=lambda o: str(o["at"]))[-MAX_ORDERS:]
            new: dict[str, Any] = {
                **item,
                **shop_key(shop_id, sk),
                "orders": {"S": json.dumps(kept)},
                "ov": {"N": str(version + 1)},
                "cust_pk": {"S": shop_index_pk(shop_id, customer_key)},
                "cust_sk": {"S": sk},
            }
            for field, value in contact.items():
                if value:
                    new[field] = {"S": value}
            guard = if_version(version if item else None, "ov")
            if written(self._db.put_item, TableName=self._table, Item=new, **guard):
                return
            # another order of theirs was written meanwhile: read again
        raise RuntimeError(f"customer {customer_key} of {shop_id} kept changing")

    def customers(self, shop_id: str) -> list[Customer]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": shop_pk(shop_id)}, ":p": {"S": customer_sk("")}},
        )
        return [customer_from_item(i) for i in items]

    def set_risk(
        self, shop_id: str, customer_key: str, risk: float, at_risk: bool, reasons: Sequence[str]
    ) -> bool:
        old = self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, customer_sk(customer_key)),
            UpdateExpression="SET risk = :r, at_risk = :a, reasons = :why"
            + (", feed_pk = :rp, feed_sk = :rs" if at_risk else " REMOVE feed_pk, feed_sk"),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":r": {"N": f"{risk:.4f}"},
                ":a": {"BOOL": at_risk},
                ":why": {"S": json.dumps(list(reasons))},
                **(
                    {
                        ":rp": {"S": shop_index_pk(shop_id, "RISK")},
                        ":rs": {"S": ordered_sk(f"{risk:.4f}", customer_key)},
                    }
                    if at_risk
                    else {}
                ),
            },
            ReturnValues="ALL_OLD",  # UPDATED_OLD may leave out a value that did not change
        ).get("Attributes", {})
        return at_risk and not old.get("at_risk", {}).get("BOOL", False)

    def risk_run(self, shop_id: str) -> RiskRun | None:
        item = self._get(shop_id, RISK_RUN_SK)
        if item is None or "run" not in item:
            return None
        run = json.loads(item["run"]["S"])
        value = _value_run(json.loads(item["clv"]["S"])) if "clv" in item else None
        return RiskRun(**(run | {"computed_at": datetime.fromisoformat(run["computed_at"]), "value": value}))

    def put_risk_run(self, shop_id: str, run: RiskRun) -> None:
        doc = dataclasses.asdict(run) | {"computed_at": run.computed_at.isoformat()}
        doc.pop("value")
        self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, RISK_RUN_SK),
            UpdateExpression="SET #run = :r",
            ExpressionAttributeNames={"#run": "run"},
            ExpressionAttributeValues={":r": {"S": json.dumps(doc)}},
        )

    def set_value(self, shop_id: str, customer_key: str, value: CustomerValue) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, customer_sk(customer_key)),
            UpdateExpression="SET clv_to_date = :d, clv_next_year = :n",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":d": {"N": f"{value.to_date:.2f}"},
                ":n": {"N": f"{value.next_year:.2f}"},
            },
        )

    def put_value_run(self, shop_id: str, run: ValueRun) -> None:
        doc = dataclasses.asdict(run) | {"computed_at": run.computed_at.isoformat()}
        self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, RISK_RUN_SK),
            UpdateExpression="SET clv = :v",
            ExpressionAttributeValues={":v": {"S": json.dumps(doc)}},
        )

    def mark_once(self, shop_id: str, key: str, expires_at: datetime) -> bool:
        return written(
            self._db.put_item,
            TableName=self._table,
            Item={**shop_key(shop_id, mark_sk(key)), "ttl": _ttl(expires_at)},
            ConditionExpression=ABSENT,
        )

    def is_marked(self, shop_id: str, key: str) -> bool:
        return self._get(shop_id, mark_sk(key)) is not None

    def unmark(self, shop_id: str, key: str) -> None:
        self._db.delete_item(TableName=self._table, Key=shop_key(shop_id, mark_sk(key)))

    # --- privacy --------------------------------------------------------------------------------------

    def erase_customer(self, shop_id: str, customer_keys: Sequence[str], order_ids: Sequence[str]) -> int:
        """Customers' order history goes; answers and cases keep their scores, not who or what was said."""
        sks: set[str] = set()
        for key in customer_keys:
            items = self._query(
                IndexName="customer",
                KeyConditionExpression="cust_pk = :c",
                ExpressionAttributeValues={":c": {"S": shop_index_pk(shop_id, key)}},
            )
            sks.update(i["sk"]["S"] for i in items)
        erased = 0
        for sk in sorted(sks):
            if sk.startswith(customer_sk("")):
                self._db.delete_item(TableName=self._table, Key=shop_key(shop_id, sk))
            else:
                self._erase_personal(shop_id, sk)
            erased += 1
        cases = {sk.removeprefix(case_sk("")) for sk in sks if sk.startswith(case_sk(""))}
        erased += DynamoRetention(self._db, self._table).forget(shop_id, customer_keys)
        # The emerging topics quote customers' words: gone until the next daily run counts them again.
        self._db.delete_item(TableName=self._table, Key=shop_key(shop_id, EMERGING_SK))
        return erased + self._erase_from_batches(shop_id, cases, set(customer_keys))

    def _erase_from_batches(self, shop_id: str, case_ids: set[str], customer_keys: set[str]) -> int:
        """The alerts kept in batches (for their message) name the person and quote them: blanked."""

        def names(alert: Alert) -> bool:
            return alert.case_id in case_ids or alert.customer_key in customer_keys

        if not case_ids and not customer_keys:
            return 0
        batches = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": shop_pk(shop_id)}, ":p": {"S": BATCHES}},
        )
        changed = 0
        for item in batches:
            samples = [Alert.model_validate_json(s["S"]) for s in item.get("samples", {}).get("L", [])]
            if not any(names(a) for a in samples):
                continue
            kept = [
                a.model_copy(
                    update={"title": "(erased at the customer's request)", "text": "", "customer_key": None}
                )
                if names(a)
                else a
                for a in samples
            ]
            self._db.update_item(
                TableName=self._table,
                Key=shop_key(shop_id, item["sk"]["S"]),
                UpdateExpression="SET samples = :s",
                ExpressionAttributeValues={
                    ":s": {"L": [{"S": a.model_dump_json(exclude_none=True)} for a in kept]}
                },
            )
            changed += 1
        return changed

    def _erase_personal(self, shop_id: str, sk: str) -> None:
        """Who they are and what they wrote go; on a case also the reply in waiting (nobody left to send
        it to) and the notes of its history (a mail error may quote the address). The version moves on,
        so a write prepared before the erasure cannot put any of it back."""
        item = self._get(shop_id, sk)
        if not item or "doc" not in item:
            return
        doc = json.loads(item["doc"]["S"])
        for field in (*PERSONAL, "customer_key", "reply_subject"):
            doc.pop(field, None)
        update, values = "SET doc = :d", dict[str, Any]()
        if sk.startswith(case_sk("")):
            if doc.get("reply_state") in ("scheduled", "awaiting_approval"):
                doc["reply_state"] = "none"
            doc.pop("reply_due_at", None)
            doc.pop("reply_claimed_until", None)
            doc["history"] = [{**e, "note": ""} for e in doc.get("history", [])]
            doc["version"] = int(doc.get("version", 0)) + 1
            update += ", version = :v"
            values[":v"] = {"N": str(doc["version"])}
        if sk.startswith((answer_sk(""), mention_sk(""))):
            # Kept as erased: a late redelivery or reading may neither bring the words back nor move
            # the day's totals from the blanked record.
            update += ", erased = :e, has_text = :f"
            values[":e"] = {"BOOL": True}
            values[":f"] = {"BOOL": False}
        self._db.update_item(
            TableName=self._table,
            Key=shop_key(shop_id, sk),
            UpdateExpression=update + " REMOVE cust_pk, cust_sk, due_pk, due_sk",
            ExpressionAttributeValues={":d": {"S": json.dumps(doc)}, **values},
        )

    def erase_shop(self, shop_id: str) -> int:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": shop_pk(shop_id)}},
            ProjectionExpression="pk, sk",
        )
        for start in range(0, len(items), 25):
            chunk = items[start : start + 25]
            self._db.batch_write_item(
                RequestItems={
                    self._table: [{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in chunk]
                }
            )
        return len(items)

    # --- helpers --------------------------------------------------------------------------------------

    def _get(self, shop_id: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, Key=shop_key(shop_id, sk), ConsistentRead=True
        ).get("Item")
        return item

    def _query(self, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self._db.query(TableName=self._table, **kwargs)
            found.extend(page["Items"])
            if "LastEvaluatedKey" not in page or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _open_sk(case: Case) -> str:
    return open_case_sk(case.target_at.astimezone(UTC).isoformat(), case.case_id)


def customer_from_item(item: dict[str, Any]) -> Customer:
    orders = tuple(
        OrderLine(
            o["order_id"],
            datetime.fromisoformat(o["at"]),
            float(o["total"]),
            bool(o["cancelled"]),
            o.get("currency"),
        )
        for o in json.loads(item.get("orders", {}).get("S", "[]"))
    )
    return Customer(
        customer_key=item["sk"]["S"].removeprefix(customer_sk("")),
        orders=orders,
        first_name=item.get("first_name", {}).get("S"),
        email=item.get("email", {}).get("S"),
        risk=float(item["risk"]["N"]) if "risk" in item else None,
        at_risk=item.get("at_risk", {}).get("BOOL", False),
        reasons=tuple(json.loads(item.get("reasons", {}).get("S", "[]"))),
        value=CustomerValue(float(item["clv_to_date"]["N"]), float(item["clv_next_year"]["N"]))
        if "clv_next_year" in item
        else None,
    )


def _value_run(doc: dict[str, Any]) -> ValueRun:
    return ValueRun(**(doc | {"computed_at": datetime.fromisoformat(doc["computed_at"])}))


def _with_reading(answer: SurveyAnswer, reading: dict[str, Any] | None) -> SurveyAnswer:
    if reading is None:
        return answer
    return answer.model_copy(
        update={
            "sentiment": Sentiment(**reading["sentiment"]) if reading["sentiment"] else None,
            "themes": [ThemeScore(**t) for t in reading["themes"]],
        }
    )
