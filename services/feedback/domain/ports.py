"""The feedback domain's ports: what it needs from the outside, named in its own words."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from services.feedback.domain.model import ApplyReceipt, Change, PutReceipt, QueuedEvent, StoredEvent
from services.feedback.domain.surveys.invitations import (
    Contact,
    ContactGuard,
    Invitation,
    Reason,
    SuppressionEntry,
)
from services.feedback.domain.surveys.programme import SurveyProgramme
from shared.tenancy import Platform


class RawEventStore(Protocol):
    def put_new(self, event: StoredEvent, expires_at: datetime) -> PutReceipt:
        """Store the event unless one with the same identity exists (one conditional write)."""
        ...

    def forget(self, event: StoredEvent) -> None:
        """Undo :meth:`put_new` when the event could not be queued, so the platform's retry is new."""
        ...

    def pending(self, older_than: datetime, limit: int) -> list[StoredEvent]:
        """Events stored but never processed (lost between store and queue, or in the consumer)."""
        ...

    def give_up(self, event: StoredEvent, at: datetime) -> None:
        """The queue is dead-lettering the event: no longer pending, so the sweeper leaves it to the
        dead-letter queue (``cxloop dlq replay`` sends it again)."""
        ...

    def touch_pending(self, event: StoredEvent, at: datetime) -> None:
        """Note that a pending event was queued again, so the sweeper waits before the next try."""
        ...


class EventQueue(Protocol):
    def send(self, message: QueuedEvent) -> None: ...


class DeadLetters(Protocol):
    def send(self, message: QueuedEvent, reason: str) -> None:
        """Dead-letter a message at once, with why: a permanent defect that no retry can fix."""
        ...


class RecordStore(Protocol):
    def apply(
        self,
        shop_id: str,
        changes: Sequence[Change],
        processed: StoredEvent | None,
        now: datetime,
    ) -> ApplyReceipt:
        """Apply each change if newer; mark the raw event processed; all in one transaction."""
        ...

    def is_redacted(self, shop_id: str, customer_keys: Sequence[str]) -> bool: ...

    def items(self, shop_id: str, sk_prefix: str) -> list[dict[str, Any]]: ...

    def orders_of_customer(self, shop_id: str, customer_key: str) -> list[str]:
        """Sort keys of the orders that name this customer."""
        ...

    def raw_events_of(self, shop_id: str, platform: Platform, resource: str) -> list[str]:
        """Sort keys of the raw events about one resource (``order#123``) of one platform."""
        ...

    def erase_personal(self, shop_id: str, sk: str, fields: Sequence[str]) -> None: ...

    def delete(self, shop_id: str, sks: Sequence[str]) -> None: ...

    def put_tombstones(self, shop_id: str, customer_keys: Sequence[str], at: datetime) -> None: ...

    def put_export(
        self, shop_id: str, request_id: str, document: dict[str, Any], expires_at: datetime
    ) -> None: ...

    def erase_shop(self, shop_id: str) -> int:
        """Delete every record of the shop; return how many."""
        ...


class EventPublisher(Protocol):
    def publish(
        self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str
    ) -> None: ...


class OrderDetailsSource(Protocol):
    """BigCommerce webhooks are thin: the order and its shipments are fetched from the store's API."""

    def order(self, shop_id: str, order_id: str) -> dict[str, Any] | None: ...

    def shipments(self, shop_id: str, order_id: str) -> list[dict[str, Any]]: ...


class Written(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"  # the invitation changed since it was read (another writer won)
    BLOCKED = "blocked"  # the contact guard failed: suppressed, or surveyed too recently


class SurveyStore(Protocol):
    """Invitations (with their answers), contacts and the suppression log, per shop."""

    def invitation(self, shop_id: str, invite_id: str) -> Invitation | None:
        """A strongly consistent read."""
        ...

    def write(
        self,
        invitation: Invitation,
        expected_version: int | None,
        *,
        log: SuppressionEntry | None = None,
        guard: ContactGuard | None = None,
    ) -> Written:
        """Store the invitation (its ``version`` already bumped) if the stored one still has
        ``expected_version`` (None: there is none yet), with the log entry and the contact guard, in one
        transaction."""
        ...

    def due(self, now: datetime, limit: int, start: int = 0) -> Iterator[Invitation]:
        """Invitations whose send (or reminder, or retry, or expired lease) is due, read lazily.
        ``start`` spreads dispatchers running at once over different parts of the index."""
        ...

    def contact(self, shop_id: str, key: str) -> Contact | None: ...

    def suppress_contact(
        self, shop_id: str, key: str, reason: Reason, at: datetime, log: SuppressionEntry | None
    ) -> None:
        """Never mail this address again (for this shop): unsubscribed, bounced or complained."""
        ...

    def suppressions(self, shop_id: str, limit: int = 100) -> list[SuppressionEntry]:
        """The suppression log, newest first."""
        ...

    def invitations(self, shop_id: str) -> list[Invitation]: ...

    def unpublished(self, older_than: datetime, limit: int) -> list[Invitation]:
        """Answers recorded whose ResponseRecorded event was not confirmed published."""
        ...


class ProgrammeStore(Protocol):
    def get(self, shop_id: str) -> SurveyProgramme | None: ...
    def put(self, shop_id: str, programme: SurveyProgramme) -> None: ...
    def delete(self, shop_id: str) -> None: ...
