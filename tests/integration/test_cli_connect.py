"""``cxloop shop connect`` as the owner runs it: credentials from the environment (never on the command
line, never printed), "Connected" only after the platform confirmed, ``--check`` changing nothing, and
non-zero exits with the platform's refusal explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.cli import main
from tests.integration.conftest import Stack
from tests.platform_standins import ShopifyStandIn, WooCommerceStandIn

pytestmark = pytest.mark.integration

API = "https://cx.example.com"


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["--state-dir", str(tmp_path), "--api-url", API, *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def woo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXLOOP_WOO_CONSUMER_KEY", WooCommerceStandIn.KEY)
    monkeypatch.setenv("CXLOOP_WOO_CONSUMER_SECRET", WooCommerceStandIn.SECRET)


def test_connect_then_check_then_a_drifted_hook(
    stack: Stack,
    woo_standin: WooCommerceStandIn,
    woo_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = ["--platform", "woocommerce", "--store-url", woo_standin.url]
    status, out, err = run(capsys, tmp_path, "shop", "connect", "shop-a", *where, "--check")
    assert status == 1 and "order.created" in out and "missing: would create" in out
    assert "Not connected: 6 change(s) needed; run cxloop shop connect shop-a --platform woocommerce" in out
    assert woo_standin.hooks == {}  # --check changed nothing

    status, out, err = run(capsys, tmp_path, "shop", "connect", "shop-a", *where)
    assert status == 0, err
    assert f"woocommerce ({woo_standin.url}), webhooks to {API}/webhooks/woocommerce/shop-a:" in out
    assert "Connected: 6 subscriptions confirmed by woocommerce's own list." in out
    for secret in (WooCommerceStandIn.KEY, WooCommerceStandIn.SECRET):
        assert secret not in out + err

    status, out, _ = run(
        capsys, tmp_path, "shop", "connect", "shop-a", "--platform", "woocommerce", "--check"
    )
    assert status == 0 and "In place: all 6 subscriptions" in out  # the stored store URL and key are used

    hook = next(h for h in woo_standin.hooks.values() if h["topic"] == "order.updated")
    hook["status"] = "disabled"  # five failed deliveries later
    status, out, _ = run(capsys, tmp_path, "shop", "connect", "shop-a", "--platform", "woocommerce")
    assert (
        status == 0 and "order.updated                updated: inactive" in out and hook["status"] == "active"
    )


def test_shopify_connect_says_what_the_admin_api_cannot_subscribe(
    stack: Stack,
    shopify_standin: ShopifyStandIn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CXLOOP_SHOPIFY_ACCESS_TOKEN", ShopifyStandIn.TOKEN)
    status, out, err = run(
        capsys,
        tmp_path,
        "shop",
        "connect",
        "shop-a",
        "--platform",
        "shopify",
        "--platform-url",
        shopify_standin.url,
    )
    assert status == 0, err
    assert "Connected: 13 subscriptions confirmed by shopify's own list." in out
    assert "compliance topics (customers/data_request, customers/redact, shop/redact)" in out
    assert ShopifyStandIn.TOKEN not in out + err


def test_a_refused_key_exits_1_with_the_reason_and_no_connected(
    stack: Stack,
    woo_standin: WooCommerceStandIn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CXLOOP_WOO_CONSUMER_KEY", "ck_typo")
    monkeypatch.setenv("CXLOOP_WOO_CONSUMER_SECRET", "cs_typo")
    status, out, err = run(
        capsys,
        tmp_path,
        "shop",
        "connect",
        "shop-a",
        "--platform",
        "woocommerce",
        "--store-url",
        woo_standin.url,
    )
    assert status == 1 and "Connected" not in out
    assert "cxloop shop connect: error: woocommerce: GET /wp-json/wc/v3/webhooks was refused: HTTP 401" in err
    assert "ck_typo" not in err and "cs_typo" not in err


def test_bad_input_names_the_option(stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, tmp_path, "shop", "connect", "shop-a", "--platform", "woocommerce")
    assert status == 2 and "no store URL for shop 'shop-a': give --store-url" in err
    status, _, err = run(
        capsys,
        tmp_path,
        "shop",
        "connect",
        "shop-a",
        "--platform",
        "woocommerce",
        "--store-url",
        "http://shop.example.com",
    )
    assert status == 2 and "only over https" in err
    status, _, err = run(capsys, tmp_path, "shop", "connect", "shop-a", "--platform", "bigcommerce")
    assert status == 2 and "--platform bigcommerce: shop 'shop-a' is on shopify, woocommerce only" in err
    status, _, err = run(capsys, tmp_path, "shop", "connect", "nope-shop")
    assert status == 2 and "shop_id 'nope-shop': no such shop" in err
    capsys.readouterr()
    assert (
        main(
            ["--state-dir", str(tmp_path), "--api-url", "http://127.0.0.1:8080", "shop", "connect", "shop-a"]
        )
        == 2
    )
    assert (
        "--api-url 'http://127.0.0.1:8080': a platform delivers webhooks only to a public https"
        in capsys.readouterr().err
    )
    status, _, err = run(capsys, tmp_path, "shop", "connect", "shop-a", "--platform", "shopify")
    assert status == 2 and "CXLOOP_SHOPIFY_ACCESS_TOKEN" in err and "--prompt" in err


def test_against_the_local_stack_it_says_the_local_stack_cannot_be_connected(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner tried it on `make run`: the refusal names the local stack, not an --api-url they never
    gave (and which the local stack's address would override anyway)."""
    import json
    import os

    local = {"pid": os.getpid(), "moto_url": None, "api_url": "http://127.0.0.1:8080", "region": "us-east-1"}
    (tmp_path / "stack.json").write_text(json.dumps(local))
    capsys.readouterr()
    assert main(["--state-dir", str(tmp_path), "shop", "connect", "shop-a", "--check"]) == 2
    err = capsys.readouterr().err
    assert "the local stack (http://127.0.0.1:8080) cannot receive a platform's webhooks" in err, err
    assert "--api-url 'http" not in err
