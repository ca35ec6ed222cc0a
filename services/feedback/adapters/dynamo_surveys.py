"""Survey invitations, contacts and the suppression log in the feedback table; programmes in the shops table.

Item shapes (pk ``SHOP#<shop_id>``):
- ``SURVEY#<invite id>``: the invitation as a JSON ``doc`` with its ``ver``; while a send is due it
  carries ``due_pk = DUE#<shard>`` / ``due_sk = <due time>#<shop>#<id>`` (the sparse ``due`` index the
  dispatcher reads), and while an answer is not yet announced ``pending_pk = PUBLISH``.
- ``CONTACT#<e-mail key>``: ``suppressed`` (reason), ``last_surveyed_at``, ``last_invite``.
- ``SUPPRESSION#<time>#<invite id>``: one decision not to send, with a TTL.
In the shops table, ``SHOP#<id>`` / ``SURVEY`` holds the programme.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.invitations import (
    Contact,
    ContactGuard,
    GuardMode,
    Invitation,
    Reason,
    SuppressionEntry,
    invitation_sk,
)
from services.feedback.domain.surveys.programme import SurveyProgramme
from shared.clock import utcnow
from shared.dynamo import (
    PROGRAMME,
    SUPPRESSIONS,
    Item,
    contact_sk,
    due_shard_pk,
    failed_conditions,
    if_version,
    ordered_sk,
    shop_key,
    shop_of,
    shop_pk,
    sortable_time,
    suppression_sk,
    written,
)

SHARDS = 8
# Not suppressed, and not surveyed within the window unless by this same invitation (a retry).
_THROTTLE = (
    "attribute_not_exists(suppressed) AND (attribute_not_exists(last_surveyed_at)"
    " OR last_surveyed_at < :since OR last_invite = :me)"
)
PAGE = 100
PUBLISH = "PUBLISH"
LOG_RETENTION = timedelta(days=400)


def shard(invite_id: str) -> int:
    return hashlib.sha256(invite_id.encode()).digest()[0] % SHARDS


def invitation_item(inv: Invitation) -> dict[str, Any]:
    item: dict[str, Any] = {
        **shop_key(inv.shop_id, invitation_sk(inv.invite_id)),
        "kind": {"S": "invitation"},
        "ver": {"N": str(inv.version)},
        "doc": {"S": inv.model_dump_json(exclude_none=True)},
    }
    if inv.due_at is not None:
        item["due_pk"] = {"S": due_shard_pk(shard(inv.invite_id))}
        item["due_sk"] = {"S": ordered_sk(sortable_time(inv.due_at), inv.shop_id, inv.invite_id)}
    if inv.revision > inv.published_revision and inv.answered_at is not None:
        item["pending_pk"] = {"S": PUBLISH}
        item["pending_sk"] = {"S": ordered_sk(sortable_time(inv.answered_at), inv.shop_id, inv.invite_id)}
    return item


def _log_item(shop_id: str, entry: SuppressionEntry) -> dict[str, Any]:
    return {
        **shop_key(shop_id, suppression_sk(sortable_time(entry.at), entry.invite_id)),
        "kind": {"S": "suppression"},
        "doc": {"S": entry.model_dump_json()},
        "ttl": {"N": str(int((entry.at + LOG_RETENTION).timestamp()))},
    }


class DynamoSurveyStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._errors = dynamodb.exceptions

    def invitation(self, shop_id: str, invite_id: str) -> Invitation | None:
        item = self._db.get_item(
            TableName=self._table,
            Key=shop_key(shop_id, invitation_sk(invite_id)),
            ConsistentRead=True,
        ).get("Item")
        return Invitation.model_validate_json(item["doc"]["S"]) if item else None

    # --- writes ----------------------------------------------------------------------------

    def _put(self, inv: Invitation, expected_version: int | None) -> dict[str, Any]:
        return {"TableName": self._table, "Item": invitation_item(inv), **if_version(expected_version, "ver")}

    def _guard(self, shop_id: str, guard: ContactGuard) -> tuple[str, dict[str, Any]]:
        key = {"TableName": self._table, "Key": shop_key(shop_id, contact_sk(guard.key))}
        if guard.mode is GuardMode.REMINDER:
            return "ConditionCheck", {**key, "ConditionExpression": "attribute_not_exists(suppressed)"}
        since = sortable_time(guard.since) if guard.since else ""
        return "Update", {
            **key,
            "UpdateExpression": "SET last_surveyed_at = :now, last_invite = :me",
            "ConditionExpression": _THROTTLE,
            "ExpressionAttributeValues": {
                ":now": {"S": sortable_time(guard.at)},
                ":me": {"S": guard.invite_id},
                ":since": {"S": since},
            },
        }

    def write(
        self,
        invitation: Invitation,
        expected_version: int | None,
        *,
        log: SuppressionEntry | None = None,
        guard: ContactGuard | None = None,
    ) -> Written:
        put = self._put(invitation, expected_version)
        held = guard if guard is not None and guard.mode is not GuardMode.RELEASE else None
        if log is None and held is None:
            outcome = Written.OK if written(self._db.put_item, **put) else Written.CONFLICT
        else:
            outcome = self._transact(invitation.shop_id, put, log, held)
        if outcome is Written.OK and guard is not None and guard.mode is GuardMode.RELEASE:
            self._release(invitation.shop_id, guard)
        return outcome

    def _transact(
        self, shop_id: str, put: dict[str, Any], log: SuppressionEntry | None, guard: ContactGuard | None
    ) -> Written:
        items: list[dict[str, Any]] = [{"Put": put}]
        if log is not None:
            items.append({"Put": {"TableName": self._table, "Item": _log_item(shop_id, log)}})
        if guard is not None:
            op, body = self._guard(shop_id, guard)
            items.append({op: body})
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._errors.TransactionCanceledException as e:
            failed = failed_conditions(e)
            if not failed:
                raise
            return Written.CONFLICT if 0 in failed else Written.BLOCKED
        return Written.OK

    def _release(self, shop_id: str, guard: ContactGuard) -> None:
        # If another survey of this person counts now, the condition fails: leave it.
        written(
            self._db.update_item,
            TableName=self._table,
            Key=shop_key(shop_id, contact_sk(guard.key)),
            UpdateExpression="REMOVE last_surveyed_at, last_invite",
            ConditionExpression="last_invite = :me",
            ExpressionAttributeValues={":me": {"S": guard.invite_id}},
        )

    # --- reads -----------------------------------------------------------------------------

    def _due_shard(self, n: int, upper: str) -> Iterator[Invitation]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "due",
            "KeyConditionExpression": "due_pk = :p AND due_sk < :t",
            "ExpressionAttributeValues": {":p": {"S": due_shard_pk(n)}, ":t": {"S": upper}},
            "Limit": PAGE,
        }
        while True:
            page = self._db.query(**kwargs)
            for item in page["Items"]:
                yield Invitation.model_validate_json(item["doc"]["S"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def due(self, now: datetime, limit: int, start: int = 0) -> Iterator[Invitation]:
        """Shard by shard from ``start`` (dispatchers running at once start apart), 100 at a time,
        so what another dispatcher claimed meanwhile has mostly left the index before it is read."""
        upper = sortable_time(now) + "$"  # '$' sorts after the '#' that follows the time
        given = 0
        for i in range(SHARDS):
            for inv in self._due_shard((start + i) % SHARDS, upper):
                yield inv
                given += 1
                if given >= limit:
                    return

    def contact(self, shop_id: str, key: str) -> Contact | None:
        item = self._db.get_item(
            TableName=self._table, Key=shop_key(shop_id, contact_sk(key)), ConsistentRead=True
        ).get("Item")
        if not item:
            return None

        plain = {name: value["S"] for name, value in item.items() if "S" in value}
        return Contact.model_validate(
            {
                "key": key,
                **{
                    f: plain.get(f)
                    for f in ("suppressed", "suppressed_at", "last_surveyed_at", "last_invite")
                },
            }
        )

    def suppress_contact(
        self, shop_id: str, key: str, reason: Reason, at: datetime, log: SuppressionEntry | None
    ) -> None:
        update = {
            "TableName": self._table,
            "Key": shop_key(shop_id, contact_sk(key)),
            "UpdateExpression": "SET suppressed = :r, suppressed_at = :at",
            "ConditionExpression": "attribute_not_exists(suppressed)",
            "ExpressionAttributeValues": {":r": {"S": reason.value}, ":at": {"S": sortable_time(at)}},
        }
        items: list[dict[str, Any]] = [{"Update": update}]
        if log is not None:
            items.append({"Put": {"TableName": self._table, "Item": _log_item(shop_id, log)}})
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._errors.TransactionCanceledException as e:
            if 0 not in failed_conditions(e):
                raise  # already suppressed is fine: the first reason stands

    def _query_prefix(
        self, shop_id: str, prefix: str, forward: bool, limit: int | None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}, ":p": {"S": prefix}},
            "ScanIndexForward": forward,
        }
        found: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(found)
            page = self._db.query(**kwargs)
            found.extend(page["Items"])
            if "LastEvaluatedKey" not in page or (limit is not None and len(found) >= limit):
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def suppressions(self, shop_id: str, limit: int = 100) -> list[SuppressionEntry]:
        items = self._query_prefix(shop_id, SUPPRESSIONS, forward=False, limit=limit)
        return [SuppressionEntry.model_validate_json(i["doc"]["S"]) for i in items]

    def suppressions_page(
        self, shop_id: str, limit: int, after: str | None = None
    ) -> tuple[list[SuppressionEntry], str | None]:
        """Newest first, one page, and the sort key to go on after (None: no more)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": shop_pk(shop_id)}, ":p": {"S": SUPPRESSIONS}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after:
            kwargs["ExclusiveStartKey"] = shop_key(shop_id, after)
        page = self._db.query(**kwargs)
        last = page.get("LastEvaluatedKey")
        entries = [SuppressionEntry.model_validate_json(i["doc"]["S"]) for i in page["Items"]]
        return entries, last["sk"]["S"] if last else None

    def invitations(self, shop_id: str) -> list[Invitation]:
        items = self._query_prefix(shop_id, invitation_sk(""), forward=True, limit=None)
        return [Invitation.model_validate_json(i["doc"]["S"]) for i in items]

    def unpublished(self, older_than: datetime, limit: int) -> list[Invitation]:
        page = self._db.query(
            TableName=self._table,
            IndexName="pending",
            KeyConditionExpression="pending_pk = :p AND pending_sk < :t",
            ExpressionAttributeValues={":p": {"S": PUBLISH}, ":t": {"S": sortable_time(older_than)}},
            Limit=limit,
        )
        found = []
        for item in page["Items"]:  # keys only: read each for its current state
            inv = self.invitation(shop_of(item["pk"]["S"]), item["sk"]["S"].removeprefix(invitation_sk("")))
            if inv is not None and inv.revision > inv.published_revision:
                found.append(inv)
        return found


class DynamoProgrammeStore:
    """Survey programmes, one item per shop beside its profile in the shops table."""

    def __init__(self, dynamodb: Any, table: str, cache_seconds: float = 0.0) -> None:
        self._db = dynamodb
        self._table = table
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[datetime, SurveyProgramme | None]] = {}

    def _key(self, shop_id: str) -> Item:
        return shop_key(shop_id, PROGRAMME)

    def get(self, shop_id: str) -> SurveyProgramme | None:
        now = utcnow()
        hit = self._cache.get(shop_id)
        if hit and (now - hit[0]).total_seconds() < self._cache_seconds:
            return hit[1]
        item = self._db.get_item(TableName=self._table, Key=self._key(shop_id)).get("Item")
        programme = SurveyProgramme.model_validate_json(item["doc"]["S"]) if item else None
        self._cache[shop_id] = (now, programme)
        return programme

    def put(self, shop_id: str, programme: SurveyProgramme) -> None:
        self._db.put_item(
            TableName=self._table, Item={**self._key(shop_id), "doc": {"S": programme.model_dump_json()}}
        )
        self._cache.pop(shop_id, None)

    def delete(self, shop_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=self._key(shop_id))
        self._cache.pop(shop_id, None)
