"""``cxloop shop add`` without ``--name``: the shop is called by its id, which customers would read in the
survey's question and the replies' signature, so it says so at once and how to set the name (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest

from cxloop import cli
from shared.tenancy import PlatformSecret, Shop, ShopSecrets

pytestmark = pytest.mark.unit


class _Admin:
    api_url = "http://127.0.0.1:8080"

    def __init__(self) -> None:
        self.added: list[Shop] = []

    def add_shop(self, shop: Shop, given: dict[Any, str], api: Any) -> ShopSecrets:
        self.added.append(shop)
        return ShopSecrets(platforms={p: PlatformSecret(current="s" * 32) for p in shop.platforms})


def _add(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[Shop, str, str]:
    admin = _Admin()
    monkeypatch.setattr(cli, "_admin", lambda _args: admin)
    monkeypatch.setattr(cli, "next_steps", lambda *_: [])  # what the shop still lacks: tested elsewhere
    args = cli.parser().parse_args(
        ["shop", "add", "my-shop", "--platform", "shopify", "--domain", "my-shop.myshopify.com", *extra]
    )
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    return admin.added[0], out, err


def test_a_shop_added_without_a_name_warns_what_customers_would_read_and_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, out, err = _add(monkeypatch, capsys)
    assert shop.name == "my-shop" and "secret " in out  # added all the same
    assert err.startswith("warning: no --name given")
    assert "How likely are you to recommend my-shop" in err
    assert 'cxloop survey set --shop my-shop --brand-name "Your Shop"' in err


def test_a_named_shop_adds_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, _, err = _add(monkeypatch, capsys, "--name", "My Shop")
    assert shop.name == "My Shop" and err == ""


def test_the_demo_shops_go_by_one_name_in_surveys_and_replies_with_no_platform_label() -> None:
    from cxloop.local.demo import DEMO_PROGRAMMES, DEMO_SHOPS, demo_programme

    for shop in DEMO_SHOPS:
        survey_type, follow_up = DEMO_PROGRAMMES[shop.shop_id]
        brand = demo_programme(shop, survey_type, follow_up).brand.name
        assert brand == shop.name, (brand, shop.name)  # public review replies are signed with shop.name
        assert all(p.value not in shop.name.lower() for p in shop.platforms)
