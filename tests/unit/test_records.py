"""The order view: delivery, shipping, cancellation and deletion derived from the stored items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.domain.orders.records import Fulfilment, Order, order_from_items

pytestmark = pytest.mark.unit

T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _head(**extra) -> dict:
    item = {
        "pk": "SHOP#s",
        "sk": "ORDER#shopify#1",
        "kind": "order",
        "platform": "shopify",
        "order_id": "1",
        "source_updated_at": _iso(T),
        "created_at": _iso(T - timedelta(days=1)),
        "email": None,  # stored as NULL by DynamoDB
    }
    item.update(extra)
    return item


def _ful(fid: str, **extra) -> dict:
    return {
        "sk": f"ORDER#shopify#1#FUL#{fid}",
        "kind": "fulfilment",
        "fulfilment_id": fid,
        "status": "success",
        "created_at": _iso(T + timedelta(hours=1)),
        **extra,
    }


def test_no_order_item_gives_no_view():
    assert order_from_items([]) is None
    assert order_from_items([_ful("1")]) is None


def test_open_order():
    order = order_from_items([_head()])
    assert order is not None
    assert order.state == "open"
    assert order.delivered_at is None
    assert order.shipped_at is None
    assert order.email is None
    assert order.source_updated_at == T


def test_shipped_when_a_live_fulfilment_exists():
    order = order_from_items([_head(), _ful("1")])
    assert order.state == "shipped"
    assert order.shipped_at == T + timedelta(hours=1)


def test_delivered_only_when_every_live_fulfilment_is_delivered():
    d1, d2 = T + timedelta(days=2), T + timedelta(days=3)
    one = _ful("1", tracking_status="delivered", tracking_at=_iso(d1))
    other_in_transit = _ful("2", tracking_status="in_transit", tracking_at=_iso(d1))
    order = order_from_items([_head(), one, other_in_transit])
    assert order.delivered_at is None
    assert order.state == "shipped"
    other_delivered = _ful("2", shipment_status="delivered", updated_at=_iso(d2))
    order = order_from_items([_head(), one, other_delivered])
    assert order.delivered_at == d2  # the last of them
    assert order.state == "delivered"


def test_tracking_status_takes_precedence_over_shipment_status():
    at = T + timedelta(days=2)
    ful = Fulfilment(
        fulfilment_id="1",
        tracking_status="delivered",
        tracking_at=at,
        shipment_status="delivered",
        updated_at=at + timedelta(hours=5),
    )
    assert ful.delivered_at == at
    assert Fulfilment(fulfilment_id="1", shipment_status="delivered", updated_at=at).delivered_at == at
    assert Fulfilment(fulfilment_id="1", tracking_status="in_transit", tracking_at=at).delivered_at is None


@pytest.mark.parametrize("status", ["cancelled", "error", "failure"])
def test_cancelled_fulfilments_are_ignored(status):
    delivered = _ful("1", tracking_status="delivered", tracking_at=_iso(T + timedelta(days=2)))
    dead = _ful("2", status=status, created_at=_iso(T + timedelta(minutes=5)))
    order = order_from_items([_head(), delivered, dead])
    assert order.state == "delivered"
    assert order.delivered_at == T + timedelta(days=2)
    assert order.shipped_at == T + timedelta(hours=1)  # the cancelled one's earlier time does not count
    # Only cancelled fulfilments: neither shipped nor delivered.
    only_dead = order_from_items([_head(), dead])
    assert only_dead.delivered_at is None
    assert only_dead.shipped_at is None
    assert only_dead.state == "open"


def test_deletion_newer_than_the_last_update_means_deleted():
    order = order_from_items([_head(deleted_at=_iso(T + timedelta(minutes=1)))])
    assert order.deleted
    assert order.state == "deleted"
    same_time = order_from_items([_head(deleted_at=_iso(T))])
    assert same_time.deleted


def test_restored_order_update_after_delete_is_not_deleted():
    order = order_from_items([_head(deleted_at=_iso(T - timedelta(minutes=1)))])
    assert not order.deleted
    assert order.state == "open"


def test_deletion_without_any_order_resource_is_deleted():
    head = {"kind": "order", "platform": "shopify", "order_id": "1", "deleted_at": _iso(T)}
    order = order_from_items([head])
    assert order.deleted
    assert order.state == "deleted"


def test_deleted_wins_over_delivered_and_cancelled_over_delivered():
    delivered = _ful("1", tracking_status="delivered", tracking_at=_iso(T + timedelta(days=2)))
    assert order_from_items([_head(deleted_at=_iso(T + timedelta(days=3))), delivered]).state == "deleted"
    assert order_from_items([_head(cancelled_at=_iso(T)), delivered]).state == "cancelled"
    assert order_from_items([_head(financial_status="refunded"), delivered]).state == "cancelled"


def test_shipped_from_order_level_facts():
    assert order_from_items([_head(fulfilled_at=_iso(T))]).shipped_at == T
    ping = _head(status_ping="shipped", status_ping_at=_iso(T + timedelta(hours=2)))
    assert order_from_items([ping]).state == "shipped"
    awaiting = _head(status_ping="awaiting_fulfillment", status_ping_at=_iso(T))
    assert order_from_items([awaiting]).state == "open"


def test_view_reads_rfc2822_and_offset_times():
    order = order_from_items(
        [_head(source_updated_at="Tue, 25 Jun 2019 17:14:17 +0000", created_at="2019-06-25T12:00:00-05:00")]
    )
    assert order.source_updated_at == datetime(2019, 6, 25, 17, 14, 17, tzinfo=UTC)
    assert order.created_at == datetime(2019, 6, 25, 17, 0, tzinfo=UTC)


def test_order_model_state_directly():
    order = Order(
        platform="shopify",
        order_id="9",
        fulfilments=[
            Fulfilment(
                fulfilment_id="a", status="success", created_at=T, tracking_status="delivered", tracking_at=T
            ),
        ],
    )
    assert order.state == "delivered"
    assert order.delivered_at == T


def test_the_test_flag_is_read_back_only_when_set():
    assert order_from_items([_head(test=True)]).test is True
    assert order_from_items([_head(test=False)]).test is False
    assert order_from_items([_head()]).test is False
