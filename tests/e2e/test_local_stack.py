"""The local stack as a user drives it: signed webhooks over HTTP, the CLI, the pages."""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from pathlib import Path

import pytest

from cxloop.local.demo import post
from shared.tenancy import Platform, Shop
from tests.e2e.conftest import LiveStack

SHOPIFY = Shop(
    shop_id="e2e-shopify",
    name="E2E Shopify",
    platforms=(Platform.SHOPIFY,),
    domains={Platform.SHOPIFY: "e2e.myshopify.com"},
)
WOO = Shop(
    shop_id="e2e-woo",
    name="E2E Woo",
    platforms=(Platform.WOOCOMMERCE,),
    domains={Platform.WOOCOMMERCE: "https://woo.example"},
)
BIGC = Shop(
    shop_id="e2e-bigc",
    name="E2E BigCommerce",
    platforms=(Platform.BIGCOMMERCE,),
    domains={Platform.BIGCOMMERCE: "1025646"},
)
OTHER = Shop(
    shop_id="e2e-other",
    name="Another tenant",
    platforms=(Platform.SHOPIFY,),
    domains={Platform.SHOPIFY: "other.myshopify.com"},
)


@pytest.fixture(scope="module")
def secrets(live: LiveStack) -> dict[str, str]:
    out = {}
    for shop in (SHOPIFY, WOO, BIGC, OTHER):
        stored = live.admin.add_shop(shop)
        out[shop.shop_id] = stored.platforms[shop.platforms[0]].current
    return out


def _load(fixtures: Path, name: str) -> dict:
    return json.loads((fixtures / name).read_text())


def test_shopify_order_to_delivered(live: LiveStack, secrets: dict[str, str], webhook_fixtures: Path) -> None:
    order = _load(webhook_fixtures, "shopify_order.json")["order"]
    # The order embeds this fulfilment as failed (2014); a newer update says it shipped after all.
    fulfilment = _load(webhook_fixtures, "shopify_fulfillment.json")["fulfillment"]
    fulfilment = dict(fulfilment, status="success", updated_at="2014-01-23T09:00:00-05:00")
    event = _load(webhook_fixtures, "shopify_fulfillment_event.json")["fulfillment_event"]
    # The fixture's event belongs to another order; point it at ours and say the parcel arrived.
    delivered = dict(
        event,
        order_id=order["id"],
        fulfillment_id=fulfilment["id"],
        status="delivered",
        happened_at="2014-01-25T16:32:23-05:00",
    )
    in_transit = dict(delivered, id=1, status="in_transit", happened_at="2014-01-24T10:00:00-05:00")
    s = secrets[SHOPIFY.shop_id]
    assert live.send(Platform.SHOPIFY, SHOPIFY, s, "orders/create", order, "e2e-1")[0] == 200
    assert live.send(Platform.SHOPIFY, SHOPIFY, s, "fulfillments/update", fulfilment, "e2e-2")[0] == 200
    assert live.send(Platform.SHOPIFY, SHOPIFY, s, "fulfillment_events/create", delivered, "e2e-3")[0] == 200
    # Late and duplicated deliveries change nothing.
    assert live.send(Platform.SHOPIFY, SHOPIFY, s, "fulfillment_events/create", in_transit, "e2e-4")[0] == 200
    dup = live.send(Platform.SHOPIFY, SHOPIFY, s, "fulfillment_events/create", delivered, "e2e-3")
    assert dup == (200, '{"status": "duplicate"}')
    live.wait_idle()
    stored = live.admin.order(SHOPIFY.shop_id, Platform.SHOPIFY, str(order["id"]))
    assert stored is not None
    assert stored.state == "delivered"
    assert stored.delivered_at is not None and stored.delivered_at.isoformat() == "2014-01-25T21:32:23+00:00"
    assert stored.email == "bob.norman@hostmail.com"


def test_woocommerce_ping_and_order(live: LiveStack, secrets: dict[str, str], webhook_fixtures: Path) -> None:
    ping = post(
        f"{live.api}/webhooks/woocommerce/{WOO.shop_id}",
        b"webhook_id=7",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping[0] == 200
    order = _load(webhook_fixtures, "woocommerce_order.json")
    done = dict(
        order,
        status="completed",
        date_modified_gmt="2017-03-23T10:00:00",
        date_completed_gmt="2017-03-23T10:00:00",
    )
    s = secrets[WOO.shop_id]
    # Out of order: the completed update arrives before the creation.
    assert live.send(Platform.WOOCOMMERCE, WOO, s, "order.updated", done)[0] == 200
    assert live.send(Platform.WOOCOMMERCE, WOO, s, "order.created", order)[0] == 200
    live.wait_idle()
    stored = live.admin.order(WOO.shop_id, Platform.WOOCOMMERCE, "727")
    assert stored is not None and stored.state == "shipped"
    assert stored.email == "john.doe@example.com"


def test_bigcommerce_thin_webhooks(live: LiveStack, secrets: dict[str, str], webhook_fixtures: Path) -> None:
    s = secrets[BIGC.shop_id]
    for name in ("bigcommerce_store_order_created.json", "bigcommerce_store_order_statusUpdated.json"):
        payload = _load(webhook_fixtures, name)
        assert live.send(Platform.BIGCOMMERCE, BIGC, s, payload["scope"], payload, payload["hash"])[0] == 200
    live.wait_idle()
    stored = live.admin.order(BIGC.shop_id, Platform.BIGCOMMERCE, "250")
    assert stored is not None and stored.status_ping == "awaiting_fulfillment"


def test_bad_inputs_over_http(live: LiveStack, secrets: dict[str, str]) -> None:
    url = f"{live.api}/webhooks/shopify/{SHOPIFY.shop_id}"
    assert live.send(Platform.SHOPIFY, SHOPIFY, "a-wrong-secret-value", "orders/create", {"id": 1})[0] == 401
    status, text = live.send(Platform.SHOPIFY, SHOPIFY, secrets[SHOPIFY.shop_id], "orders/create", [1, 2])
    assert status == 400 and "JSON object" in text
    assert post(url.replace(SHOPIFY.shop_id, "nobody"), b"{}", {})[0] == 404
    assert post(f"{live.api}/nowhere", b"{}", {})[0] == 404


def test_tenant_isolation_over_http(live: LiveStack, secrets: dict[str, str], webhook_fixtures: Path) -> None:
    order = _load(webhook_fixtures, "shopify_order.json")["order"]
    theirs = copy.deepcopy(order) | {"id": 990001}
    status, _ = live.send(Platform.SHOPIFY, OTHER, secrets[SHOPIFY.shop_id], "orders/create", theirs)
    assert status == 401
    live.wait_idle()
    assert live.admin.order(OTHER.shop_id, Platform.SHOPIFY, "990001") is None
    assert live.admin.order(SHOPIFY.shop_id, Platform.SHOPIFY, "990001") is None


def test_cli_replay_shop_list_and_dlq(
    live: LiveStack, secrets: dict[str, str], webhook_fixtures: Path
) -> None:
    listed = live.cli("shop", "list")
    assert listed.returncode == 0 and SHOPIFY.shop_id in listed.stdout and WOO.shop_id in listed.stdout
    replay = live.cli(
        "replay",
        str(webhook_fixtures / "shopify_order.json"),
        "--platform",
        "shopify",
        "--shop",
        OTHER.shop_id,
        "--topic",
        "orders/updated",
        "--event-id",
        "cli-1",
    )
    assert replay.returncode == 0, replay.stderr
    assert '"accepted"' in replay.stdout
    again = live.cli(
        "replay",
        str(webhook_fixtures / "shopify_order.json"),
        "--platform",
        "shopify",
        "--shop",
        OTHER.shop_id,
        "--topic",
        "orders/updated",
        "--event-id",
        "cli-1",
    )
    assert '"duplicate"' in again.stdout
    live.wait_idle()
    assert live.admin.order(OTHER.shop_id, Platform.SHOPIFY, "450789469") is not None
    assert "is empty" in live.cli("dlq", "list").stdout


def test_cli_rotate_secret_keeps_the_old_one_for_the_grace_period(
    live: LiveStack, secrets: dict[str, str]
) -> None:
    rotated = live.cli("shop", "rotate-secret", OTHER.shop_id, "--platform", "shopify", "--grace-hours", "1")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.split(": ", 1)[1].split()[0]
    old = secrets[OTHER.shop_id]
    ok = {"id": 4242, "updated_at": "2026-01-01T00:00:00Z"}
    # A warm intake learns the new secret on its next fresh read (at most one per 2 s and shop), as a
    # platform's retry would find.
    deadline = time.monotonic() + 5
    while live.send(Platform.SHOPIFY, OTHER, new, "orders/updated", ok)[0] != 200:
        assert time.monotonic() < deadline, "the new secret was not accepted within 5 s"
        time.sleep(0.5)
    assert live.send(Platform.SHOPIFY, OTHER, old, "orders/updated", ok | {"id": 4243})[0] == 200
    assert live.send(Platform.SHOPIFY, OTHER, "not-" + new, "orders/updated", ok | {"id": 4244})[0] == 401


def test_local_pages(live: LiveStack) -> None:
    assert post(f"{live.api}/_local/slack/owner-alerts", b'{"text": "hello"}', {})[0] == 200
    assert post(f"{live.api}/_local/slack/owner-alerts", b"not json", {})[0] == 400
    for path in ("/", "/_local/inbox", "/_local/slack"):
        with urllib.request.urlopen(live.api + path, timeout=5) as r:
            assert r.status == 200
    with urllib.request.urlopen(live.api + "/_local/slack.json", timeout=5) as r:
        mine = [m for m in json.loads(r.read()) if m["hook"] == "owner-alerts"]  # the stack is shared
    assert mine[-1]["payload"]["text"] == "hello"


def test_cli_export_and_erase_a_woocommerce_customer(live: LiveStack, secrets: dict[str, str]) -> None:
    order = {
        "id": 5150,
        "customer_id": 0,
        "status": "processing",
        "total": "12.00",
        "date_created_gmt": "2026-02-01T10:00:00",
        "date_modified_gmt": "2026-02-01T10:00:00",
        "billing": {"first_name": "Erin", "last_name": "Vale", "email": "erin.vale@example.com"},
    }
    assert live.send(Platform.WOOCOMMERCE, WOO, secrets[WOO.shop_id], "order.created", order)[0] == 200
    live.wait_idle()
    who = ["--shop", WOO.shop_id, "--platform", "woocommerce", "--email", "Erin.Vale@example.com"]
    exported = live.cli("customer", "export", *who)
    assert exported.returncode == 0, exported.stderr
    assert any(o.get("email") == "erin.vale@example.com" for o in json.loads(exported.stdout)["orders"])
    erased = live.cli("customer", "erase", *who)
    assert erased.returncode == 0 and "1 order(s) anonymised" in erased.stdout
    stored = live.admin.order(WOO.shop_id, Platform.WOOCOMMERCE, "5150")
    assert (
        stored is not None and stored.email is None and stored.first_name is None and stored.total == "12.00"
    )
    assert json.loads(live.cli("customer", "export", *who).stdout)["orders"] == []


def test_pausing_the_consumer_holds_messages_until_resumed(live: LiveStack, secrets: dict[str, str]) -> None:
    assert post(f"{live.api}/_local/pump/feedback-events/pause", b"", {})[0] == 200
    order = {"id": 777001, "updated_at": "2026-01-01T00:00:00Z", "email": "held@example.com"}
    assert live.send(Platform.SHOPIFY, SHOPIFY, secrets[SHOPIFY.shop_id], "orders/create", order)[0] == 200
    time.sleep(1.5)
    assert live.status()["queues"][0]["visible"] == 1
    assert live.admin.order(SHOPIFY.shop_id, Platform.SHOPIFY, "777001") is None
    assert post(f"{live.api}/_local/pump/feedback-events/resume", b"", {})[0] == 200
    live.wait_idle()
    assert live.admin.order(SHOPIFY.shop_id, Platform.SHOPIFY, "777001") is not None
    assert post(f"{live.api}/_local/pump/no-such-function/pause", b"", {})[0] == 404
