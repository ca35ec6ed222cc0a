"""Batching as a property, on DynamoDB (moto): whatever the order, the duplicates, the delivery windows,
the sender's timing and the channel's refusals, every alert reaches each destination exactly once,
and no batch is delivered twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore
from services.notifier.domain.delivery import Outcome, Result, SenderDeps, send_due
from services.notifier.domain.intake import raise_alert
from services.notifier.domain.model import (
    Alert,
    AlertBatch,
    AlertSettings,
    Delivery,
    Destination,
    DestinationKind,
    RuleKind,
)
from shared.tenancy import Platform, Shop
from tests.integration.conftest import Moto

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHOP = Shop(shop_id="shop-a", name="A", platforms=(Platform.SHOPIFY,), owner_email="o@a.example")
SETTINGS = AlertSettings(
    destinations=(
        Destination(name="slack", kind=DestinationKind.SLACK),
        Destination(name="mail", kind=DestinationKind.EMAIL, address="team@a.example"),
    )
)


class Shops:
    def get(self, shop_id: str) -> Shop | None:
        return SHOP if shop_id == SHOP.shop_id else None

    def put(self, shop: Shop) -> None: ...
    def list(self) -> list[Shop]:
        return [SHOP]

    def delete(self, shop_id: str) -> None: ...


class Settings:
    def get(self, shop_id: str, *, fresh: bool = False) -> AlertSettings:
        return SETTINGS


@dataclass
class Channel:
    """Takes a batch, or refuses it as the script says (429, 5xx), then takes it on a later run."""

    refusals: list[Outcome]
    delivered: list[AlertBatch] = field(default_factory=list)

    def deliver(self, shop: Shop, destination: Destination, batch: AlertBatch) -> Result:
        if self.refusals:
            return Result(self.refusals.pop(0), "scripted", retry_after_s=5)
        self.delivered.append(batch)
        return Result(Outcome.DELIVERED)


class Pacer:
    def wait_s(self, hook: str) -> float:
        return 0.0

    def sent(self, hook: str) -> None: ...
    def defer(self, hook: str, seconds: float) -> None: ...


class Notice:
    def destination_broken(self, shop: Shop, destination: Destination, reason: str, held: int) -> None:
        raise AssertionError("no destination breaks here")


@contextmanager
def store(moto: Moto) -> Iterator[DynamoNotifierStore]:
    """The worker's moto, emptied for this example (provisioning one per example took most of the time)."""
    moto.reset()
    yield DynamoNotifierStore(moto.clients["dynamodb"], moto.resources.tables["notifier"])


events = st.lists(
    st.tuples(
        st.integers(0, 30),  # subject
        st.sampled_from([Delivery.IMMEDIATE, Delivery.HOURLY, Delivery.DAILY]),
        st.integers(0, 3 * 3600),  # seconds after T0 the event arrives
    ),
    min_size=1,
    max_size=40,
)
refusals = st.lists(st.sampled_from([Outcome.RATE_LIMITED, Outcome.RETRY]), max_size=4)
runs = st.lists(st.integers(0, 4 * 3600), max_size=8)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, refusals, runs)
def test_every_alert_reaches_every_destination_exactly_once(
    moto_world: Moto, raised: list[tuple[int, Delivery, int]], refused: list[Outcome], sender_runs: list[int]
) -> None:
    slack, mail = Channel(list(refused)), Channel([])
    with store(moto_world) as s:
        deps = SenderDeps(
            store=s, settings=Settings(), shops=Shops(),
            channels={DestinationKind.SLACK: slack, DestinationKind.EMAIL: mail},
            pacer=Pacer(), sleep=lambda _: None, notice=Notice(),
        )  # fmt: skip
        timeline = sorted([(at, "alert", (subject, delivery)) for subject, delivery, at in raised]
                          + [(at, "send", None) for at in sender_runs])  # fmt: skip
        for at, what, payload in timeline:
            now = T0 + timedelta(seconds=at)
            if what == "send":
                send_due(deps, now)
                continue
            subject, delivery = payload  # type: ignore[misc]
            alert = Alert(shop_id=SHOP.shop_id, key=f"detractor#response:{subject}", rule=RuleKind.DETRACTOR,
                          delivery=delivery, at=now, title=f"NPS 3 from {subject}")  # fmt: skip
            raise_alert(s, SETTINGS, SHOP, alert, ())
        # Long after: every window has closed, and every refusal (at most 4) has been retried.
        for hour in range(26, 32):
            send_due(deps, T0 + timedelta(hours=hour))
        assert s.due_batches(T0 + timedelta(days=30), 100) == []

    first_delivery = {}  # the first delivery mode of each subject decides its batch
    for subject, delivery, _ in sorted(raised, key=lambda r: r[2]):
        first_delivery.setdefault(subject, delivery)
    for channel in (slack, mail):
        windows = Counter(b.window for b in channel.delivered)
        assert all(n == 1 for n in windows.values()), "a batch was delivered twice"
        assert sum(b.count for b in channel.delivered) == len(first_delivery), "an alert was lost or doubled"
        for batch in channel.delivered:
            assert len(batch.samples) == min(batch.count, 10)
