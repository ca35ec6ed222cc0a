"""Every WooCommerce webhook API version a shop can choose gives the same records (issue 15, item 3).

The fixtures (tests/fixtures/woocommerce/) are the WooCommerce REST API docs' own examples in each
version's shape, trimmed, carrying one order's (and one customer's) values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.records import order_from_items
from services.feedback.domain.webhooks.intake import Outcome
from services.feedback.domain.webhooks.parsing import parse_woocommerce
from shared.tenancy import Platform
from tests.unit.support import T0, World, body_of, stored_event, woo_headers

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce"
SHOP = "woo-shop"
SECRET = "woo-secret-0001"
OTHER_VERSIONS = ["legacy_v3", "wp_v1", "wp_v2"]


def _order(version: str):
    return json.loads((FIXTURES / f"{version}_order.json").read_text(encoding="utf-8"))


def _customer(version: str):
    return json.loads((FIXTURES / "customers.json").read_text(encoding="utf-8"))[version]


def _records(topic: str, payload: dict[str, Any], received: datetime = T0) -> list[dict[str, Any]]:
    resource = topic.split(".", 1)[0]
    event = parse_woocommerce(topic, woo_headers(SECRET, topic, body_of(payload)), body_of(payload), received)
    stored = stored_event(
        SHOP, topic, payload, platform=Platform.WOOCOMMERCE, resource=event.resource, triggered_at=received
    )
    assert event.resource.startswith(resource + "#")
    return [c.model_dump() for c in normalise.woocommerce(SHOP, stored, payload)]


def _but_the_refund_list(records: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """The records, with the head's ``refund_ids`` taken out: legacy v3 lists no refunds, so it says
    nothing about which were deleted (None), where the others list theirs (here none)."""
    head = records[0]["attrs"]
    assert head["refund_ids"] == (None if version == "legacy_v3" else [])
    without = {k: v for k, v in head.items() if k != "refund_ids"}
    return [{**records[0], "attrs": without, "version": records[0]["version"].split("#")[0]}, *records[1:]]


@pytest.mark.parametrize("version", OTHER_VERSIONS)
def test_an_order_in_any_version_gives_the_v3_records(version):
    records = _records("order.updated", _order(version))
    v3 = _records("order.updated", _order("wp_v3"))
    assert _but_the_refund_list(records, version) == _but_the_refund_list(v3, "wp_v3")
    head = records[0]["attrs"]
    assert head["order_id"] == "727"
    assert head["name"] == "#727"
    assert head["source_updated_at"] == "2017-03-22T19:28:08.000000+00:00"
    assert head["created_at"] == "2017-03-22T19:28:02.000000+00:00"
    assert head["email"] == "john.doe@example.com"
    assert head["fulfilled_at"] is None  # legacy and v1 show a completion time on a processing order
    assert [(li["title"], li["quantity"], li["sku"]) for li in head["line_items"]] == [
        ("Woo Single #1", 2, ""),
        ("Ship Your Idea &ndash; Color: Black, Size: M Test", 1, "Bar3"),
    ]


@pytest.mark.parametrize("version", OTHER_VERSIONS)
def test_an_event_in_any_version_has_the_v3_identity_and_time(version):
    def parsed(payload: dict[str, Any]):
        body = body_of(payload)
        return parse_woocommerce("order.updated", woo_headers(SECRET, "order.updated", body), body, T0)

    event, v3 = parsed(_order(version)), parsed(_order("wp_v3"))
    assert (event.resource, event.triggered_at, event.dedupe_key) == (
        v3.resource,
        v3.triggered_at,
        v3.dedupe_key,
    )
    assert event.triggered_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


def test_a_completed_legacy_order_is_fulfilled_at_its_utc_completion():
    legacy = _order("legacy_v3")
    legacy["order"].update(
        status="completed", updated_at="2017-03-23T10:00:05Z", completed_at="2017-03-23T10:00:00Z"
    )
    v3 = {
        **_order("wp_v3"),
        "status": "completed",
        "date_modified_gmt": "2017-03-23T10:00:05",
        "date_completed_gmt": "2017-03-23T10:00:00",
    }
    assert _but_the_refund_list(_records("order.updated", legacy), "legacy_v3") == _but_the_refund_list(
        _records("order.updated", v3), "wp_v3"
    )
    assert _records("order.updated", legacy)[0]["attrs"]["fulfilled_at"] == "2017-03-23T10:00:00.000000+00:00"


@pytest.mark.parametrize(
    ("local", "fulfilled"),
    [
        # A site east of UTC (+3): 13:00 local is 10:00 UTC, later than the change itself: capped there.
        ("2017-03-23T13:00:00", "2017-03-23T10:00:00.000000+00:00"),
        # West of UTC (-3): 07:00 local is read as UTC, early by the site's offset.
        ("2017-03-23T07:00:00", "2017-03-23T07:00:00.000000+00:00"),
    ],
)
def test_a_v1_completion_in_the_sites_time_is_never_later_than_the_change(local, fulfilled):
    v1 = {
        **_order("wp_v1"),
        "status": "completed",
        "date_modified": "2017-03-23T10:00:00",
        "date_completed": local,
    }
    assert _records("order.updated", v1)[0]["attrs"]["fulfilled_at"] == fulfilled


def test_v1_refunds_are_read_like_v3():
    refunds = [{"id": 730, "reason": "", "total": "-10.00"}]
    v1, v3 = {**_order("wp_v1"), "refunds": refunds}, {**_order("wp_v3"), "refunds": refunds}
    assert _records("order.updated", v1) == _records("order.updated", v3)
    assert _records("order.updated", v1)[0]["attrs"]["financial_status"] == "partially_refunded"


@pytest.mark.parametrize("version", ["legacy_v3", "wp_v1"])
def test_a_customer_in_any_version_gives_the_v3_record(version):
    (record,) = _records("customer.updated", _customer(version))
    assert [record] == _records("customer.updated", _customer("wp_v3"))
    assert record["sk"] == "CUSTOMER#woocommerce:25"
    assert record["version"].startswith("2017-03-21T19:09:30.000000+00:00#")


def test_a_legacy_customer_without_last_update_is_versioned_by_its_delivery():
    customer = _customer("legacy_v3")
    del customer["customer"]["last_update"]
    received = T0 + timedelta(minutes=3)
    (record,) = _records("customer.updated", customer, received)
    assert record["version"].startswith(received.isoformat(timespec="microseconds"))
    assert record["attrs"]["email"] == "john.doe@example.com"


def test_a_legacy_deletion_names_the_order():
    (record,) = _records("order.deleted", {"order": {"id": 727}})
    assert (record["sk"], record["group"]) == ("ORDER#woocommerce#727", "dv")


@pytest.mark.parametrize("version", [*OTHER_VERSIONS, "wp_v3"])
def test_the_intake_accepts_every_version_and_stores_the_same_order(version):
    world = World()
    world.add_shop(SHOP, {Platform.WOOCOMMERCE: SECRET})
    body = body_of(_order(version))
    outcome = world.post(Platform.WOOCOMMERCE, SHOP, woo_headers(SECRET, "order.updated", body), body).outcome
    assert outcome is Outcome.ACCEPTED  # 200, where legacy v3 and v1 got a permanent 400
    world.consume()
    order = order_from_items(world.store.items(SHOP, "ORDER#woocommerce#727"))
    assert order is not None
    assert (order.state, order.email, order.total) == ("open", "john.doe@example.com", "29.35")
    assert order.source_updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
