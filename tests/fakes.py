"""In-memory fakes of the feedback service's ports, with the DynamoDB adapters' semantics.

They mirror :class:`services.feedback.adapters.dynamo_store.DynamoFeedbackStore` item for item
(same sort keys, same attribute names, ``pk``, ``gsi1pk``/``gsi1sk``, ``pending_*``, the body
zlib-compressed as bytes), so a contract test can run the same scenarios against both and compare
``items()`` results. Where DynamoDB would refuse a value (a float), the fake refuses it too.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from services.feedback.adapters.dynamo_surveys import invitation_item
from services.feedback.domain.model import (
    SHOP_TOMBSTONE,
    ApplyReceipt,
    Change,
    PutReceipt,
    QueuedEvent,
    StoredEvent,
    apply_in_rounds,
    tombstone_keys,
)
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
from shared.events import Envelope
from shared.mail.message import OutgoingEmail
from shared.tenancy import Platform, Shop, ShopSecrets

PENDING = "PENDING"


def _pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _storable(value: Any, path: str = "value") -> Any:
    """What DynamoDB would store and hand back (tuples become lists); floats are refused like boto3 does."""
    if isinstance(value, float):
        raise TypeError(f"{path}: Float types are not supported. Use Decimal types instead.")
    if isinstance(value, dict):
        return {str(k): _storable(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, str | bool | int | bytes):
        return value
    raise TypeError(f"{path}: unsupported type {type(value).__name__} for DynamoDB")


class InMemoryFeedbackStore:
    """RawEventStore + RecordStore. One dict of items per shop partition, keyed by sort key."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[str, dict[str, Any]]] = {}

    # --- helpers for tests ---------------------------------------------------------------

    def _part(self, shop_id: str) -> dict[str, dict[str, Any]]:
        return self._parts.setdefault(shop_id, {})

    def dump(self, shop_id: str) -> dict[str, dict[str, Any]]:
        """Every item of the shop, by sort key (a deep copy)."""
        return copy.deepcopy(dict(sorted(self._parts.get(shop_id, {}).items())))

    def records(self, shop_id: str) -> dict[str, dict[str, Any]]:
        """Every item of the shop except raw events (the webhook bookkeeping)."""
        return {sk: item for sk, item in self.dump(shop_id).items() if item.get("kind") != "event"}

    def shops(self) -> list[str]:
        return sorted(shop for shop, part in self._parts.items() if part)

    # --- raw events ------------------------------------------------------------------------

    def _event_item(self, event: StoredEvent, expires_at: datetime) -> dict[str, Any]:
        received = _iso(event.received_at)
        return {
            "pk": _pk(event.shop_id),
            "sk": event.sort_key,
            "kind": "event",
            "platform": event.platform.value,
            "topic": event.topic,
            "dedupe_key": event.dedupe_key,
            "resource": event.resource,
            "triggered_at": _iso(event.triggered_at),
            "received_at": received,
            "source": event.source,
            "correlation_id": event.correlation_id or "-",
            "body": zlib.compress(event.body, 6),
            "ttl": int(expires_at.timestamp()),
            "gsi1pk": f"RES#{event.shop_id}#{event.platform.value}#{event.resource}",
            "gsi1sk": received,
            "pending_pk": PENDING,
            "pending_sk": f"{received}#{event.shop_id}#{event.sort_key}",
        }

    def put_new(self, event: StoredEvent, expires_at: datetime) -> PutReceipt:
        part = self._part(event.shop_id)
        if f"TOMBSTONE#{SHOP_TOMBSTONE}" in part:
            return PutReceipt(created=False, shop_erased=True)
        old = part.get(event.sort_key)
        if old is not None:
            received = old.get("received_at")
            return PutReceipt(
                created=False,
                processed="pending_pk" not in old,
                received_at=datetime.fromisoformat(received) if received else None,
                correlation_id=old.get("correlation_id", ""),
            )
        part[event.sort_key] = self._event_item(event, expires_at)
        return PutReceipt(created=True)

    def forget(self, event: StoredEvent) -> None:
        self._part(event.shop_id).pop(event.sort_key, None)

    def pending(self, older_than: datetime, limit: int) -> list[StoredEvent]:
        bound = _iso(older_than)
        candidates = sorted(
            (item["pending_sk"], item)
            for part in self._parts.values()
            for item in part.values()
            if item.get("pending_pk") == PENDING and item["pending_sk"] < bound
        )
        return [self._stored(item) for _, item in candidates[:limit]]

    def _stored(self, item: dict[str, Any]) -> StoredEvent:
        return StoredEvent(
            shop_id=item["pk"].removeprefix("SHOP#"),
            platform=Platform(item["platform"]),
            topic=item["topic"],
            dedupe_key=item["dedupe_key"],
            resource=item["resource"],
            triggered_at=datetime.fromisoformat(item["triggered_at"]),
            received_at=datetime.fromisoformat(item["received_at"]),
            source=item.get("source", ""),
            body=zlib.decompress(item["body"]) if "body" in item else b"{}",
            correlation_id=item.get("correlation_id", ""),
        )

    def give_up(self, event: StoredEvent, at: datetime) -> None:
        item = self._part(event.shop_id).get(event.sort_key)
        if item is not None and "pending_pk" in item:
            item.pop("pending_pk")
            item.pop("pending_sk", None)
            item["dead_lettered_at"] = _iso(at)

    def touch_pending(self, event: StoredEvent, at: datetime) -> None:
        item = self._part(event.shop_id).get(event.sort_key)
        if item is not None and "pending_pk" in item:
            item["pending_sk"] = f"{_iso(at)}#{event.shop_id}#{event.sort_key}"

    def get_event(self, shop_id: str, sort_key: str) -> StoredEvent | None:
        item = self._part(shop_id).get(sort_key)
        return self._stored(item) if item else None

    # --- records ---------------------------------------------------------------------------

    def apply(
        self, shop_id: str, changes: Sequence[Change], processed: StoredEvent | None, now: datetime
    ) -> ApplyReceipt:
        return apply_in_rounds(
            changes,
            processed,
            lambda batch, mark, receipt: self._apply_round(shop_id, batch, mark, now, receipt),
        )

    def _apply_round(
        self,
        shop_id: str,
        changes: list[Change],
        processed: StoredEvent | None,
        now: datetime,
        receipt: ApplyReceipt,
    ) -> str | None:
        part = self._part(shop_id)
        keys = tombstone_keys(changes)
        tombs = [k for k in keys if f"TOMBSTONE#{k}" in part]
        if tombs:  # the transaction's ConditionCheck failed: nothing of the round is written
            return tombs[0]
        attrs = [_storable(dict(c.attrs), c.sk) for c in changes]  # validate all before writing any
        for change, values in zip(changes, attrs, strict=True):
            item = part.get(change.sk)
            current = item.get(change.group) if item is not None else None
            if (
                item is not None
                and change.group in item
                and not (isinstance(current, str) and current <= change.version)
            ):
                receipt.stale.append(change.sk)
                continue
            if item is None:
                item = part[change.sk] = {"pk": _pk(shop_id), "sk": change.sk}
            item[change.group] = change.version
            item.update(values)
            if change.gsi1pk and change.gsi1sk:
                item["gsi1pk"] = change.gsi1pk
                item["gsi1sk"] = change.gsi1sk
            elif change.owns_gsi1:
                item.pop("gsi1pk", None)
                item.pop("gsi1sk", None)
            receipt.applied.append(change.sk)
        if processed is not None:
            event = part.get(processed.sort_key)
            if event is not None:  # attribute_exists(pk): a vanished raw event is not re-created
                event.pop("pending_pk", None)
                event.pop("pending_sk", None)
                event["processed_at"] = _iso(now)
        return None

    def is_redacted(self, shop_id: str, customer_keys: Sequence[str]) -> bool:
        part = self._part(shop_id)
        return any(f"TOMBSTONE#{k}" in part for k in customer_keys)

    def items(self, shop_id: str, sk_prefix: str) -> list[dict[str, Any]]:
        part = self._parts.get(shop_id, {})
        return [
            copy.deepcopy(part[sk])
            for sk in sorted(part)
            if not sk_prefix or sk == sk_prefix or sk.startswith(sk_prefix + "#")
        ]

    def _gsi1_sks(self, gsi1pk: str) -> list[str]:
        hits = sorted(
            (item["gsi1sk"], item["sk"])
            for part in self._parts.values()
            for item in part.values()
            if item.get("gsi1pk") == gsi1pk and "gsi1sk" in item
        )
        return [sk for _, sk in hits]

    def orders_of_customer(self, shop_id: str, customer_key: str) -> list[str]:
        return self._gsi1_sks(f"CUSTOMER#{shop_id}#{customer_key}")

    def raw_events_of(self, shop_id: str, platform: Platform, resource: str) -> list[str]:
        return self._gsi1_sks(f"RES#{shop_id}#{platform.value}#{resource}")

    def erase_personal(self, shop_id: str, sk: str, fields: Sequence[str]) -> None:
        item = self._part(shop_id).get(sk)
        if item is None:
            return  # attribute_exists(pk): nothing stored under that key
        removes = list(fields)
        if "customer_key" in fields:
            removes += ["gsi1pk", "gsi1sk"]
        for name in removes:
            item.pop(name, None)

    def delete(self, shop_id: str, sks: Sequence[str]) -> None:
        part = self._part(shop_id)
        for sk in set(sks):
            part.pop(sk, None)

    def put_tombstones(self, shop_id: str, customer_keys: Sequence[str], at: datetime) -> None:
        part = self._part(shop_id)
        for key in customer_keys:
            sk = f"TOMBSTONE#{key}"
            part[sk] = {"pk": _pk(shop_id), "sk": sk, "kind": "tombstone", "erased_at": _iso(at)}

    def put_export(
        self, shop_id: str, request_id: str, document: dict[str, Any], expires_at: datetime
    ) -> None:
        sk = f"EXPORT#{request_id}"
        self._part(shop_id)[sk] = {
            "pk": _pk(shop_id),
            "sk": sk,
            "kind": "export",
            "document": json.dumps(document, default=str),
            "ttl": int(expires_at.timestamp()),
        }

    def erase_shop(self, shop_id: str) -> int:
        part = self._parts.pop(shop_id, {})
        self.put_tombstones(shop_id, [SHOP_TOMBSTONE], datetime.now(tz=UTC))
        return len([sk for sk in part if sk != f"TOMBSTONE#{SHOP_TOMBSTONE}"])


class InMemoryShops:
    """ShopDirectory."""

    def __init__(self, *shops: Shop) -> None:
        self._shops: dict[str, Shop] = {s.shop_id: s for s in shops}

    def get(self, shop_id: str) -> Shop | None:
        return self._shops.get(shop_id)

    def put(self, shop: Shop) -> None:
        self._shops[shop.shop_id] = shop

    def list(self) -> list[Shop]:
        return sorted(self._shops.values(), key=lambda s: s.shop_id)

    def delete(self, shop_id: str) -> None:
        self._shops.pop(shop_id, None)


class InMemorySecrets:
    """SecretStore with a per-container cache, like SecretsManagerStore (without the rate limit).

    ``get()`` answers from the cache once a shop has been read; ``get(fresh=True)`` reads the stored
    value (counted in ``fresh_reads``) and refreshes the cache. ``rotate_elsewhere`` changes the stored
    value without touching this cache, as a rotation done by another container (or the CLI) would.
    """

    def __init__(self) -> None:
        self._stored: dict[str, ShopSecrets] = {}
        self._cache: dict[str, ShopSecrets | None] = {}
        self.reads = 0
        self.fresh_reads = 0

    def _read(self, shop_id: str) -> ShopSecrets | None:
        self.reads += 1
        value = self._stored.get(shop_id)
        self._cache[shop_id] = value.model_copy(deep=True) if value else None
        return self._cache[shop_id]

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets | None:
        if fresh:
            self.fresh_reads += 1
            return self._read(shop_id)
        if shop_id in self._cache:
            return self._cache[shop_id]
        return self._read(shop_id)

    def put(self, shop_id: str, secrets: ShopSecrets) -> None:
        self._stored[shop_id] = secrets.model_copy(deep=True)
        self._cache.pop(shop_id, None)

    def rotate_elsewhere(self, shop_id: str, secrets: ShopSecrets) -> None:
        self._stored[shop_id] = secrets.model_copy(deep=True)

    def delete(self, shop_id: str) -> None:
        self._stored.pop(shop_id, None)
        self._cache.pop(shop_id, None)

    def stored(self, shop_id: str) -> ShopSecrets | None:
        return self._stored.get(shop_id)


class QueueDown(RuntimeError):
    """What a failing ListQueue raises (an SQS outage)."""


class ListQueue:
    """EventQueue: keeps what was sent; ``fail_next(n)`` makes the next n sends raise."""

    def __init__(self) -> None:
        self.messages: list[QueuedEvent] = []
        self._failures = 0
        self.attempts = 0

    def fail_next(self, times: int = 1) -> None:
        self._failures = times

    def send(self, message: QueuedEvent) -> None:
        self.attempts += 1
        if self._failures:
            self._failures -= 1
            raise QueueDown("queue unavailable")
        # What SQS carries is the JSON of the message: make sure it survives the trip.
        self.messages.append(QueuedEvent.model_validate_json(message.model_dump_json()))


class ListDeadLetters:
    """DeadLetters: keeps each message sent at once, with its reason."""

    def __init__(self) -> None:
        self.sent: list[tuple[QueuedEvent, str]] = []

    def send(self, message: QueuedEvent, reason: str) -> None:
        self.sent.append((QueuedEvent.model_validate_json(message.model_dump_json()), reason))


class ListPublisher:
    """EventPublisher: keeps the envelopes it would have put on the bus."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def publish(self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str) -> None:
        envelope = Envelope(name=detail_type, shop_id=shop_id, correlation_id=correlation_id, data=detail)
        envelope.model_dump_json()  # what EventBridge would get: must be JSON
        self.events.append(envelope)

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def of(self, name: str) -> list[Envelope]:
        return [e for e in self.events if e.name == name]


class FakeDetails:
    """OrderDetailsSource: BigCommerce orders and shipments by (shop, order id)."""

    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], dict[str, Any]] = {}
        self.shipment_lists: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str, str]] = []

    def add(self, shop_id: str, order: dict[str, Any], shipments: list[dict[str, Any]] | None = None) -> None:
        key = (shop_id, str(order["id"]))
        self.orders[key] = order
        self.shipment_lists[key] = list(shipments or [])

    def order(self, shop_id: str, order_id: str) -> dict[str, Any] | None:
        self.calls.append(("order", shop_id, order_id))
        found = self.orders.get((shop_id, order_id))
        return copy.deepcopy(found) if found is not None else None

    def shipments(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        self.calls.append(("shipments", shop_id, order_id))
        return copy.deepcopy(self.shipment_lists.get((shop_id, order_id), []))


def _plain_item(typed: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB-typed item (only S and N here) as the plain dict the record fake keeps."""
    return {k: (v["S"] if "S" in v else int(v["N"])) for k, v in typed.items()}


class InMemorySurveyStore:
    """SurveyStore over the same partitions as an InMemoryFeedbackStore (erasure deletes through it),
    item for item like DynamoSurveyStore, with the same conditions."""

    def __init__(self, records: InMemoryFeedbackStore) -> None:
        self._records = records
        self.writes = 0  # conditional writes attempted (a transaction counts once)

    def _part(self, shop_id: str) -> dict[str, dict[str, Any]]:
        return self._records._part(shop_id)

    def invitation(self, shop_id: str, invite_id: str) -> Invitation | None:
        item = self._part(shop_id).get(invitation_sk(invite_id))
        return Invitation.model_validate_json(item["doc"]) if item else None

    def _guard_ok(self, shop_id: str, guard: ContactGuard) -> bool:
        contact = self._part(shop_id).get(f"CONTACT#{guard.key}") or {}
        if "suppressed" in contact:
            return False
        if guard.mode is not GuardMode.SURVEY:
            return True
        last = contact.get("last_surveyed_at")
        since = _iso(guard.since) if guard.since else ""
        return last is None or last < since or contact.get("last_invite") == guard.invite_id

    def write(
        self,
        invitation: Invitation,
        expected_version: int | None,
        *,
        log: SuppressionEntry | None = None,
        guard: ContactGuard | None = None,
    ) -> Written:
        self.writes += 1
        part = self._part(invitation.shop_id)
        sk = invitation_sk(invitation.invite_id)
        current = part.get(sk)
        if (current is None) != (expected_version is None) or (
            current is not None and current["ver"] != expected_version
        ):
            return Written.CONFLICT
        held = guard is not None and guard.mode is not GuardMode.RELEASE
        if guard is not None and held and not self._guard_ok(invitation.shop_id, guard):
            return Written.BLOCKED
        part[sk] = _plain_item(invitation_item(invitation))
        if log is not None:
            self._log(invitation.shop_id, log)
        if guard is not None:
            self._touch(invitation.shop_id, guard)
        return Written.OK

    def _touch(self, shop_id: str, guard: ContactGuard) -> None:
        sk = f"CONTACT#{guard.key}"
        part = self._part(shop_id)
        if guard.mode is GuardMode.SURVEY:  # an UpdateItem: creates the item
            contact = part.setdefault(sk, {"pk": _pk(shop_id), "sk": sk})
            contact.update(last_surveyed_at=_iso(guard.at), last_invite=guard.invite_id)
        elif guard.mode is GuardMode.RELEASE and part.get(sk, {}).get("last_invite") == guard.invite_id:
            part[sk].pop("last_surveyed_at", None)  # REMOVE keeps the (now empty) item
            part[sk].pop("last_invite", None)
        # REMINDER is a ConditionCheck: it writes nothing.

    def _log(self, shop_id: str, entry: SuppressionEntry) -> None:
        sk = f"SUPPRESSION#{_iso(entry.at)}#{entry.invite_id}"
        self._part(shop_id)[sk] = {
            "pk": _pk(shop_id),
            "sk": sk,
            "kind": "suppression",
            "doc": entry.model_dump_json(),
        }

    def due(self, now: datetime, limit: int, start: int = 0) -> Iterator[Invitation]:
        upper = _iso(now) + "$"
        found = sorted(
            (item["due_sk"], item["doc"])
            for part in self._records._parts.values()
            for item in part.values()
            if item.get("due_sk") and item["due_sk"] < upper
        )
        for _, doc in found[:limit]:
            yield Invitation.model_validate_json(doc)

    def contact(self, shop_id: str, key: str) -> Contact | None:
        item = self._part(shop_id).get(f"CONTACT#{key}")
        if item is None:
            return None
        fields = ("suppressed", "suppressed_at", "last_surveyed_at", "last_invite")
        return Contact.model_validate({"key": key, **{f: item.get(f) for f in fields}})

    def suppress_contact(
        self, shop_id: str, key: str, reason: Reason, at: datetime, log: SuppressionEntry | None
    ) -> None:
        sk = f"CONTACT#{key}"
        contact = self._part(shop_id).setdefault(sk, {"pk": _pk(shop_id), "sk": sk})
        if "suppressed" in contact:
            return
        contact.update(suppressed=reason.value, suppressed_at=_iso(at))
        if log is not None:
            self._log(shop_id, log)

    def suppressions(self, shop_id: str, limit: int = 100) -> list[SuppressionEntry]:
        part = self._part(shop_id)
        sks = sorted((sk for sk in part if sk.startswith("SUPPRESSION#")), reverse=True)[:limit]
        return [SuppressionEntry.model_validate_json(part[sk]["doc"]) for sk in sks]

    def invitations(self, shop_id: str) -> list[Invitation]:
        part = self._part(shop_id)
        return [
            Invitation.model_validate_json(part[sk]["doc"]) for sk in sorted(part) if sk.startswith("SURVEY#")
        ]

    def unpublished(self, older_than: datetime, limit: int) -> list[Invitation]:
        bound = _iso(older_than)
        found = sorted(
            (item["pending_sk"], item["doc"])
            for part in self._records._parts.values()
            for item in part.values()
            if item.get("pending_pk") == "PUBLISH" and item["pending_sk"] < bound
        )
        return [Invitation.model_validate_json(doc) for _, doc in found[:limit]]


class InMemoryProgrammes:
    def __init__(self) -> None:
        self._programmes: dict[str, SurveyProgramme] = {}

    def get(self, shop_id: str) -> SurveyProgramme | None:
        return self._programmes.get(shop_id)

    def put(self, shop_id: str, programme: SurveyProgramme) -> None:
        self._programmes[shop_id] = programme

    def delete(self, shop_id: str) -> None:
        self._programmes.pop(shop_id, None)


class SinkMailer:
    """Mailer that keeps what it sends; ``fail_with`` makes the next sends raise."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.failures: list[Exception] = []
        self.closed = 0

    def send(self, email: OutgoingEmail) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(email)
        return f"provider-{len(self.sent)}"

    def close(self) -> None:
        self.closed += 1
