"""From platform payloads to record changes: the ../shared samples and hand-made edge cases."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.feedback.domain.orders import normalise
from services.feedback.domain.orders.processing import changes_for
from shared.errors import BadRequest
from shared.tenancy import Platform
from tests.fakes import FakeDetails
from tests.unit.support import T0, stored_event

pytestmark = pytest.mark.unit

SHOP = "demo-shop"


def _by_sk(changes):
    by = {c.sk: c for c in changes}
    assert len(by) == len(changes), "one change per item"
    return by


# --- Shopify ------------------------------------------------------------------------------------


def test_shopify_order_fixture_gives_order_customer_and_fulfilment_changes(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    event = stored_event(SHOP, "orders/create", order, resource="order#450789469")
    changes = _by_sk(changes_for(event, order, None))
    assert set(changes) == {
        "ORDER#shopify#450789469",
        "CUSTOMER#shopify:207119551",
        "ORDER#shopify#450789469#FUL#255858046",
    }

    head = changes["ORDER#shopify#450789469"]
    assert head.group == "v"
    assert head.attrs["kind"] == "order"
    assert head.attrs["email"] == "bob.norman@hostmail.com"
    assert head.attrs["first_name"] == "Bob"
    assert head.attrs["last_name"] == "Norman"
    assert head.attrs["customer_key"] == "shopify:207119551"
    assert head.customer_keys[0] == "shopify:207119551"
    assert head.attrs["total"] == "409.94"
    assert head.attrs["currency"] == "USD"
    assert head.attrs["name"] == "#1001"
    # 2008-01-10T11:00:00-05:00 in UTC.
    assert head.attrs["source_updated_at"] == "2008-01-10T16:00:00.000000+00:00"
    assert head.version.startswith("2008-01-10T16:00:00.000000+00:00#")
    assert head.gsi1pk == f"CUSTOMER#{SHOP}#shopify:207119551"
    assert head.gsi1sk == "ORDER#shopify#450789469"
    assert set(head.personal) >= {"email", "first_name", "last_name", "customer_key"}
    assert [li["sku"] for li in head.attrs["line_items"]] == [li["sku"] for li in order["line_items"]]

    customer = changes["CUSTOMER#shopify:207119551"]
    assert customer.attrs["kind"] == "customer"
    assert customer.attrs["customer_id"] == "207119551"
    assert customer.attrs["email"] == "bob.norman@hostmail.com"
    assert customer.customer_keys[0] == "shopify:207119551"
    # The customer's own updated_at (2014-01-22T15:58:27-05:00) versions the customer record.
    assert customer.version.startswith("2014-01-22T20:58:27.000000+00:00#")

    ful = changes["ORDER#shopify#450789469#FUL#255858046"]
    assert ful.attrs["kind"] == "fulfilment"
    assert ful.attrs["fulfilment_id"] == "255858046"
    assert ful.attrs["order_id"] == "450789469"
    assert ful.attrs["status"] == "failure"
    assert ful.attrs["tracking_numbers"] == ["1Z2345"]
    assert ful.attrs["updated_at"] == "2014-01-22T20:58:27.000000+00:00"
    assert ful.personal == ()
    assert ful.customer_keys == ("ORDER#shopify#450789469",)  # only the order's tombstone applies


def test_shopify_fulfillment_fixture(load_fixture):
    ful = load_fixture("shopify_fulfillment.json")["fulfillment"]
    event = stored_event(SHOP, "fulfillments/update", ful, resource="order#450789469")
    (change,) = changes_for(event, ful, None)
    assert change.sk == "ORDER#shopify#450789469#FUL#255858046"
    assert change.group == "v"
    assert change.attrs["status"] == "pending"
    assert change.attrs["tracking_company"] == "null-company"
    assert change.attrs["updated_at"] == "2013-11-01T20:06:08.000000+00:00"


def test_shopify_fulfillment_event_fixture_goes_to_the_tracking_group(load_fixture):
    ev = load_fixture("shopify_fulfillment_event.json")["fulfillment_event"]
    event = stored_event(SHOP, "fulfillment_events/create", ev, resource="order#2776493818019")
    (change,) = changes_for(event, ev, None)
    assert change.sk == "ORDER#shopify#2776493818019#FUL#2608403447971"
    assert change.group == "tv"
    assert change.attrs["tracking_status"] == "label_printed"
    assert change.attrs["tracking_at"] == "2021-01-25T21:32:23.000000+00:00"
    assert change.attrs["estimated_delivery_at"] is None
    # The tracking group never touches the resource group's attributes.
    assert not {"status", "shipment_status", "updated_at"} & set(change.attrs)


def test_shopify_order_deletion_is_its_own_group():
    event = stored_event(
        SHOP, "orders/delete", {"id": 450789469}, resource="order#450789469", triggered_at=T0
    )
    (change,) = changes_for(event, {"id": 450789469}, None)
    assert change.sk == "ORDER#shopify#450789469"
    assert change.group == "dv"
    assert change.attrs["deleted_at"] == T0.isoformat(timespec="microseconds")
    assert "email" not in change.attrs


def test_shopify_guest_order_is_keyed_by_email_digest():
    order = {"id": 5, "updated_at": "2025-01-01T00:00:00Z", "email": " Guest@Example.COM "}
    (change,) = normalise.shopify_order(SHOP, order)
    expected = "email:" + hashlib.sha256(b"guest@example.com").hexdigest()[:32]
    assert change.customer_keys[0] == expected
    assert change.gsi1pk == f"CUSTOMER#{SHOP}#{expected}"


def test_shopify_order_without_anyone_has_no_customer_index():
    (change,) = normalise.shopify_order(SHOP, {"id": 6, "updated_at": "2025-01-01T00:00:00Z"})
    assert change.customer_keys == ("ORDER#shopify#6",)  # no person; the order's own tombstone only
    assert change.gsi1pk is None
    assert change.attrs["email"] is None


def test_shopify_order_without_updated_at_is_a_bad_request():
    with pytest.raises(BadRequest, match="updated_at"):
        normalise.shopify_order(SHOP, {"id": 7})


def test_shopify_customers_update():
    customer = {
        "id": 42,
        "email": "a@example.com",
        "first_name": "Ann",
        "updated_at": "2025-01-01T10:00:00+02:00",
    }
    event = stored_event(SHOP, "customers/update", customer, resource="customer#42")
    (change,) = changes_for(event, customer, None)
    assert change.sk == "CUSTOMER#shopify:42"
    assert change.version.startswith("2025-01-01T08:00:00.000000+00:00#")
    assert change.attrs["first_name"] == "Ann"


def test_line_items_are_capped():
    order = {
        "id": 8,
        "updated_at": "2025-01-01T00:00:00Z",
        "line_items": [{"title": f"t{i}"} for i in range(80)],
    }
    (change,) = normalise.shopify_order(SHOP, order)
    assert len(change.attrs["line_items"]) == normalise.MAX_LINE_ITEMS


# --- WooCommerce --------------------------------------------------------------------------------


def test_woocommerce_guest_order_is_keyed_by_email_digest(load_fixture):
    order = load_fixture("woocommerce_order.json")
    assert order["customer_id"] == 0
    event = stored_event(SHOP, "order.updated", order, platform=Platform.WOOCOMMERCE, resource="order#727")
    changes = _by_sk(changes_for(event, order, None))
    key = "email:" + hashlib.sha256(b"john.doe@example.com").hexdigest()[:32]
    assert set(changes) == {"ORDER#woocommerce#727", f"CUSTOMER#{key}"}
    head = changes["ORDER#woocommerce#727"]
    assert head.customer_keys[0] == key
    assert head.attrs["customer_key"] == key
    assert head.attrs["email"] == "john.doe@example.com"
    assert head.attrs["first_name"] == "John"
    assert head.attrs["total"] == "29.35"
    assert head.attrs["status"] == "processing"
    assert head.attrs["source_updated_at"] == "2017-03-22T19:28:08.000000+00:00"
    assert head.gsi1pk == f"CUSTOMER#{SHOP}#{key}"
    assert changes[f"CUSTOMER#{key}"].attrs["customer_id"] is None


def test_woocommerce_registered_customer_is_keyed_by_id(load_fixture):
    order = {**load_fixture("woocommerce_order.json"), "customer_id": 31}
    changes = _by_sk(normalise.woocommerce_order(SHOP, order))
    assert changes["ORDER#woocommerce#727"].customer_keys[0] == "woocommerce:31"
    assert changes["CUSTOMER#woocommerce:31"].attrs["customer_id"] == "31"


@pytest.mark.parametrize(
    ("status", "field", "value"),
    [
        ("completed", "fulfillment_status", "fulfilled"),
        ("cancelled", "cancelled_at", "2017-03-22T19:28:08.000000+00:00"),
        ("refunded", "financial_status", "refunded"),
    ],
)
def test_woocommerce_status_mapping(load_fixture, status, field, value):
    order = {**load_fixture("woocommerce_order.json"), "status": status}
    head = _by_sk(normalise.woocommerce_order(SHOP, order))["ORDER#woocommerce#727"]
    assert head.attrs[field] == value


def test_woocommerce_completion_time_counts_only_for_a_completed_order(load_fixture):
    # A reopened order keeps its old completion time; the status says it is not done.
    order = {**load_fixture("woocommerce_order.json"), "date_completed_gmt": "2017-03-22T19:28:08"}
    head = _by_sk(normalise.woocommerce_order(SHOP, order))["ORDER#woocommerce#727"]
    assert head.attrs["fulfilled_at"] is None
    done = _by_sk(normalise.woocommerce_order(SHOP, {**order, "status": "completed"}))[
        "ORDER#woocommerce#727"
    ]
    assert done.attrs["fulfilled_at"] == "2017-03-22T19:28:08.000000+00:00"


def test_woocommerce_deletion():
    event = stored_event(
        SHOP, "order.deleted", {"id": 727}, platform=Platform.WOOCOMMERCE, resource="order#727"
    )
    (change,) = changes_for(event, {"id": 727}, None)
    assert (change.sk, change.group) == ("ORDER#woocommerce#727", "dv")


# --- BigCommerce --------------------------------------------------------------------------------


def test_bigcommerce_status_ping_fixture(load_fixture):
    payload = load_fixture("bigcommerce_store_order_statusUpdated.json")
    at = datetime.fromtimestamp(payload["created_at"], tz=UTC)
    event = stored_event(
        SHOP, payload["scope"], payload, platform=Platform.BIGCOMMERCE, resource="order#250", triggered_at=at
    )
    (change,) = changes_for(event, payload, None)
    assert change.sk == "ORDER#bigcommerce#250"
    assert change.group == "sv"
    assert change.attrs["status_ping"] == "awaiting_fulfillment"  # new_status_id 11
    assert change.attrs["status_ping_at"] == at.isoformat(timespec="microseconds")


def test_bigcommerce_created_without_details_changes_nothing(load_fixture):
    payload = load_fixture("bigcommerce_store_order_created.json")
    event = stored_event(SHOP, payload["scope"], payload, platform=Platform.BIGCOMMERCE, resource="order#250")
    assert changes_for(event, payload, None) == []
    assert changes_for(event, payload, FakeDetails()) == []  # the store no longer has the order


def test_bigcommerce_fetches_the_order_and_its_shipments(load_fixture):
    payload = load_fixture("bigcommerce_store_shipment_created.json")
    details = FakeDetails()
    details.add(
        SHOP,
        {
            "id": 251,
            "customer_id": 0,
            "status_id": 2,
            "date_created": "Tue, 25 Jun 2019 16:15:35 +0000",
            "date_modified": "Tue, 25 Jun 2019 17:14:17 +0000",
            "date_shipped": "Tue, 25 Jun 2019 17:14:17 +0000",
            "currency_code": "USD",
            "total_inc_tax": "30.0000",
            "billing_address": {"first_name": "Jane", "email": "jane@example.com"},
        },
        [
            {
                "id": 12,
                "date_created": "Tue, 25 Jun 2019 17:14:17 +0000",
                "tracking_number": "TRK1",
                "shipping_provider": "ups",
            }
        ],
    )
    event = stored_event(SHOP, payload["scope"], payload, platform=Platform.BIGCOMMERCE, resource="order#251")
    changes = _by_sk(changes_for(event, payload, details))
    key = "email:" + hashlib.sha256(b"jane@example.com").hexdigest()[:32]
    assert set(changes) == {"ORDER#bigcommerce#251", f"CUSTOMER#{key}", "ORDER#bigcommerce#251#FUL#12"}
    head = changes["ORDER#bigcommerce#251"]
    assert head.attrs["status"] == "shipped"
    assert head.attrs["fulfillment_status"] == "fulfilled"
    assert head.attrs["source_updated_at"] == "2019-06-25T17:14:17.000000+00:00"
    assert head.attrs["total"] == "30.0000"
    ful = changes["ORDER#bigcommerce#251#FUL#12"]
    assert ful.attrs["tracking_numbers"] == ["TRK1"]
    assert ful.attrs["tracking_company"] == "ups"
    assert ("order", SHOP, "251") in details.calls


# --- Times and versions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-01T12:00:00+02:00", datetime(2025, 3, 1, 10, 0, tzinfo=UTC)),
        ("2025-03-01T12:00:00Z", datetime(2025, 3, 1, 12, 0, tzinfo=UTC)),
        ("2025-03-01T12:00:00", datetime(2025, 3, 1, 12, 0, tzinfo=UTC)),  # naive ISO: UTC
        ("2025-03-01T12:00:00.123456-05:00", datetime(2025, 3, 1, 17, 0, 0, 123456, tzinfo=UTC)),
        ("Tue, 25 Jun 2019 16:15:35 +0000", datetime(2019, 6, 25, 16, 15, 35, tzinfo=UTC)),  # RFC 2822
        ("Tue, 25 Jun 2019 16:15:35 -0300", datetime(2019, 6, 25, 19, 15, 35, tzinfo=UTC)),
        (1561479335, datetime(2019, 6, 25, 16, 15, 35, tzinfo=UTC)),  # epoch seconds
        (1561479335.5, datetime(2019, 6, 25, 16, 15, 35, 500000, tzinfo=UTC)),
    ],
)
def test_to_utc(value, expected):
    got = normalise.to_utc(value)
    assert got == expected
    assert got.utcoffset() == timedelta(0)
    assert got.tzinfo is not None


@pytest.mark.parametrize("value", [None, ""])
def test_to_utc_empty_is_none(value):
    assert normalise.to_utc(value) is None


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45", True, [2025], {"t": 1}])
def test_to_utc_refuses_non_times(value):
    with pytest.raises(BadRequest, match="not a time"):
        normalise.to_utc(value, "when")


def test_version_orders_by_time_then_is_stable_per_content():
    attrs = {"a": 1, "b": "x"}
    v1 = normalise.version(T0, attrs)
    assert v1 == normalise.version(T0, {"b": "x", "a": 1})  # key order does not matter
    assert v1 != normalise.version(T0, {"a": 2, "b": "x"})
    assert v1.split("#")[0] == normalise.version(T0, {"a": 2}).split("#")[0]
    later = normalise.version(T0 + timedelta(microseconds=1), attrs)
    assert later > v1
    # The same instant in another offset is the same version.
    assert normalise.version(T0.astimezone(timezone(timedelta(hours=5))), attrs) == v1


# --- Erased people ----------------------------------------------------------------------------------


def test_strip_personal_removes_personal_fields_and_customer_changes(load_fixture):
    order = load_fixture("shopify_order.json")["order"]
    changes = normalise.shopify_order(SHOP, order)
    stripped = normalise.strip_personal(changes)
    assert [c.sk for c in stripped] == [c.sk for c in changes if not c.sk.startswith("CUSTOMER#")]
    head = next(c for c in stripped if c.sk == "ORDER#shopify#450789469")
    for field in ("email", "first_name", "last_name", "customer_key"):
        assert head.attrs[field] is None
    assert head.customer_keys == ()
    assert head.gsi1pk is None and head.gsi1sk is None
    # The order facts stay, and so does the version (the same event, just without the person).
    original = next(c for c in changes if c.sk == "ORDER#shopify#450789469")
    assert head.attrs["total"] == "409.94"
    assert head.version == original.version
    assert "bob" not in json.dumps(head.model_dump(mode="json")).lower()
    # The input is left alone.
    assert original.attrs["email"] == "bob.norman@hostmail.com"
