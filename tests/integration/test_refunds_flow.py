"""Refunds through the intake and the consumer on moto (issue 15, item 2): a Shopify ``refunds/create``
is kept and recorded (it was answered 200 "ignored"), a partial refund leaves the planned survey, a
full one cancels it before the send, and a redelivery changes nothing. A BigCommerce store whose API
token may not read refunds still has its order applied, with a warning `cxloop order show` prints."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from cxloop.cli import cmd_order_show, parser
from cxloop.local.demo import bigcommerce_orders
from cxloop.local.pages import Pages
from cxloop.local.sinks import SlackSink
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
from services.feedback.domain.surveys.invitations import Reason, Status
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme
from shared.tenancy import BigCommerceApi, Platform, Shop
from tests.integration.conftest import SHOP_A, Stack

pytestmark = pytest.mark.integration

ORDER_ID = "450789469"
PROGRAMME = SurveyProgramme(
    brand=Brand(name="Brand A", sender="surveys@brand-a.example"), rules=Rules(quiet_hours=None)
)


def _delivered_order(webhook_fixtures: Path, delivered: datetime) -> dict[str, Any]:
    order = copy.deepcopy(json.loads((webhook_fixtures / "shopify_order.json").read_text())["order"])
    order.update(updated_at=delivered.isoformat(), financial_status="paid")
    order["fulfillments"][0].update(
        status="success",
        shipment_status="delivered",
        created_at=(delivered - timedelta(days=1)).isoformat(),
        updated_at=delivered.isoformat(),
    )
    return order


def _refund(refund_id: int, amount: str, at: datetime) -> dict[str, Any]:
    """A ``refunds/create`` body in Shopify's documented shape."""
    return {
        "id": refund_id,
        "order_id": int(ORDER_ID),
        "created_at": at.isoformat(),
        "processed_at": at.isoformat(),
        "note": None,
        "restock": False,
        "refund_line_items": [],
        "transactions": [
            {
                "id": refund_id * 10,
                "order_id": int(ORDER_ID),
                "kind": "refund",
                "status": "success",
                "amount": amount,
                "currency": "USD",
            }
        ],
        "order_adjustments": [],
    }


def _accepted(stack: Stack, topic: str, payload: dict[str, Any], event_id: str) -> None:
    response = stack.signed(Platform.SHOPIFY, SHOP_A, topic, payload, event_id=event_id)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["status"] == "accepted"
    assert stack.drain() == 1


def test_refunds_are_recorded_and_a_full_one_cancels_the_planned_survey(
    stack: Stack, webhook_fixtures: Path
) -> None:
    db = boto3.session.Session(region_name="us-east-1").client("dynamodb")
    DynamoProgrammeStore(db, stack.resources.tables["shops"]).put(SHOP_A.shop_id, PROGRAMME)
    surveys = DynamoSurveyStore(db, stack.resources.tables["feedback"])
    delivered = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(days=1)

    _accepted(stack, "orders/updated", _delivered_order(webhook_fixtures, delivered), "order-1")
    [planned] = surveys.invitations(SHOP_A.shop_id)
    assert planned.status is Status.PLANNED

    # A partial refund: recorded, the survey still planned.
    _accepted(stack, "refunds/create", _refund(1, "9.94", delivered), "refund-1")
    order = stack.admin.order(SHOP_A.shop_id, Platform.SHOPIFY, ORDER_ID)
    assert order is not None
    assert [(r.refund_id, r.amount, r.currency) for r in order.refunds] == [("1", "9.94", "USD")]
    assert order.financial_state == "partially_refunded"
    [still] = surveys.invitations(SHOP_A.shop_id)
    assert still.status is Status.PLANNED

    # Its redelivery (Shopify's retry: the same event id) is a duplicate; a replay of the body under a
    # new id is processed and changes nothing.
    items = stack.admin.store.items(SHOP_A.shop_id, f"ORDER#shopify#{ORDER_ID}")
    retry = stack.signed(
        Platform.SHOPIFY, SHOP_A, "refunds/create", _refund(1, "9.94", delivered), "refund-1"
    )
    assert json.loads(retry["body"]) == {"status": "duplicate"}
    _accepted(stack, "refunds/create", _refund(1, "9.94", delivered), "refund-1-replayed")
    assert stack.admin.store.items(SHOP_A.shop_id, f"ORDER#shopify#{ORDER_ID}") == items

    # The rest of the total (409.94): a full refund before the send cancels the survey.
    _accepted(stack, "refunds/create", _refund(2, "400.00", delivered), "refund-2")
    order = stack.admin.order(SHOP_A.shop_id, Platform.SHOPIFY, ORDER_ID)
    assert order is not None and order.financial_state == "refunded" and order.state == "cancelled"
    [cancelled] = surveys.invitations(SHOP_A.shop_id)
    assert (cancelled.status, cancelled.reason) == (Status.CANCELLED, Reason.REFUNDED)


BC_SHOP = Shop(
    shop_id="shop-bc",
    name="BC",
    platforms=(Platform.BIGCOMMERCE,),
    domains={Platform.BIGCOMMERCE: "1001"},
)


@pytest.fixture
def refusing_bigcommerce(tmp_path: Path) -> Iterator[str]:
    """The local stack's fake BigCommerce API over HTTP, answering 403 for order 301's refunds as it
    does for a token without the scope."""
    orders = bigcommerce_orders()
    orders["301"]["refunds_status"] = 403
    pages = Pages(
        tmp_path, SlackSink(tmp_path / "slack.jsonl"), orders, dict, lambda _: None, lambda *_: None
    )

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            response = pages.dispatch(Request(environ))
        except HTTPException as e:
            response = e.get_response()
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/_local/bigcommerce"
    finally:
        server.shutdown()


def test_a_refund_the_token_may_not_read_still_applies_the_order_with_a_warning(
    stack: Stack, refusing_bigcommerce: str, capsys: pytest.CaptureFixture[str]
) -> None:
    api = BigCommerceApi(
        store_hash="demo1001", access_token="local-bigcommerce-token", base_url=refusing_bigcommerce
    )
    secret = stack.admin.add_shop(BC_SHOP, bigcommerce_api=api).platforms[Platform.BIGCOMMERCE].current
    ping = {
        "scope": "store/order/refund/created",
        "store_id": "1001",
        "data": {"type": "order", "id": 301, "refund": {"refund_id": 5}},
        "hash": "5d1f6a0e",
        "created_at": int(datetime.now(tz=UTC).timestamp()),
        "producer": "stores/demo1001",
    }
    answer = stack.signed(Platform.BIGCOMMERCE, BC_SHOP, ping["scope"], ping, secret=secret)
    assert json.loads(answer["body"])["status"] == "accepted", answer
    assert stack.drain() == 1  # one delivery: applied, not retried

    order = stack.admin.order(BC_SHOP.shop_id, Platform.BIGCOMMERCE, "301")
    assert order is not None and order.state == "shipped" and order.email == "sam.okafor@example.com"
    [warning] = [w for w in order.warnings if w["field"] == "refunds"]
    assert warning["value"] == "403" and "store_v2_transactions_read_only" in warning["action"]
    assert stack.admin.dlq_list() == []
    assert stack.admin.store.pending(older_than=datetime(2100, 1, 1, tzinfo=UTC), limit=10) == []

    args = parser().parse_args(
        ["order", "show", "--shop", BC_SHOP.shop_id, "--platform", "bigcommerce", "301"]
    )
    assert cmd_order_show(args, lambda _: stack.admin) == 0
    assert (
        "warning: refunds 403: refunds not read: the store's API account lacks the scope"
        in capsys.readouterr().out
    )


def test_a_woocommerce_refund_deleted_in_the_shop_stops_counting(
    stack: Stack, webhook_fixtures: Path
) -> None:
    """The newer order (the refund deleted) arrives first, the older one listing it after: on DynamoDB
    too, the refund is kept as deleted, not counted, and the order is paid."""
    secret = stack.admin.secrets.get(SHOP_A.shop_id)
    assert secret is not None
    woo_secret = secret.platforms[Platform.WOOCOMMERCE].current
    order = json.loads((webhook_fixtures / "woocommerce_order.json").read_text())
    listed = {
        **order,
        "refunds": [{"id": 730, "reason": "", "total": "-10.00"}],
        "date_modified_gmt": "2026-11-06T10:00:00",
    }
    deleted = {**order, "refunds": [], "date_modified_gmt": "2026-11-06T11:00:00"}
    for body in (deleted, listed):
        answer = stack.signed(Platform.WOOCOMMERCE, SHOP_A, "order.updated", body, secret=woo_secret)
        assert json.loads(answer["body"])["status"] == "accepted", answer
        assert stack.drain() == 1
    view = stack.admin.order(SHOP_A.shop_id, Platform.WOOCOMMERCE, str(order["id"]))
    assert view is not None
    assert [(r.refund_id, r.amount, r.deleted) for r in view.refunds] == [("730", "10.00", True)]
    assert view.refunded == 0 and view.financial_state == "paid"
