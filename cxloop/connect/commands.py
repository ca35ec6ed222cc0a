"""``cxloop shop connect S [--check]``: prints per platform what it found and did, and says "connected"
only when the platform confirmed every subscription. Exit 0 when all is in place, 1 otherwise."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from cxloop.cli_errors import CliError
from cxloop.connect.access import (
    BIGCOMMERCE_TOKEN,
    SHOPIFY_CLIENT_ID,
    SHOPIFY_TOKEN,
    WOO_KEY,
    WOO_SECRET,
    Options,
    is_loopback,
)
from cxloop.connect.http import PlatformError
from cxloop.connect.model import Change
from cxloop.connect.plan import webhook_url
from cxloop.connect.service import Report
from shared.tenancy import Platform

COMPLIANCE_NOTE = (
    "  compliance topics (customers/data_request, customers/redact, shop/redact): the Admin API cannot "
    "subscribe them; they are declared in an app's configuration (shopify.app.toml compliance_topics). "
    "See docs/connect.md."
)
BIGCOMMERCE_NOTE = (
    "  BigCommerce signs every delivery with the API account's client secret: the shop's bigcommerce "
    "secret in cxloop must be that client secret (cxloop shop rotate-secret {shop} --platform bigcommerce "
    "--secret ... --grace-hours 0)."
)


def _line(change: Change, check: bool) -> str:
    said = {
        "keep": "in place",
        "create": "missing: would create" if check else "created",
        "update": ("needs an update: " if check else "updated: ") + "; ".join(change.reasons),
        "delete": ("duplicate: would delete " if check else "deleted duplicate ")
        + (change.existing.id if change.existing else ""),
    }[change.kind]
    warn = "".join(f"\n      warning: {w}" for w in change.warnings)
    return f"  {change.topic:<28} {said}{warn}"


def _print(report: Report, check: bool, shop_id: str, address: str) -> bool:
    print(f"{report.platform} ({report.where}), webhooks to {address}:")
    for change in report.plan.changes:
        print(_line(change, check))
    if report.platform == Platform.SHOPIFY.value:
        print(COMPLIANCE_NOTE)
    if report.platform == Platform.BIGCOMMERCE.value:
        print(BIGCOMMERCE_NOTE.format(shop=shop_id))
    wanted = sum(1 for c in report.plan.changes if c.kind != "delete")
    if check:
        pending = len(report.plan.pending)
        if pending:
            print(
                f"Not connected: {pending} change(s) needed; run cxloop shop connect {shop_id} "
                f"--platform {report.platform}"
            )
        else:
            print(f"In place: all {wanted} subscriptions, as the platform lists them.")
        return not pending
    if report.connected:
        print(f"Connected: {wanted} subscriptions confirmed by {report.platform}'s own list.")
        return True
    assert report.confirmed is not None
    left = "; ".join(f"{c.topic} {c.kind}" for c in report.confirmed.pending)
    print(f"Not connected: after the changes {report.platform} still lists differences ({left}).")
    return False


def cmd_connect(args: argparse.Namespace, admin_factory: Callable[[argparse.Namespace], Any]) -> int:
    from cxloop.connect import connect_platform

    admin = admin_factory(args)
    shop = admin.shops.get(args.shop_id)
    if shop is None:
        known = ", ".join(s.shop_id for s in admin.shops.list()) or "none yet"
        raise CliError(
            f"shop_id {args.shop_id!r}: no such shop (the shops: {known}; add one with `cxloop shop add`)"
        )
    platforms = (Platform(args.platform),) if args.platform else shop.platforms
    options = Options(store_url=args.store_url, store_hash=args.store_hash, platform_url=args.platform_url)
    if (
        admin.api_url
        and not admin.api_url.startswith("https://")
        and not (args.platform_url and is_loopback(args.platform_url))
    ):
        if admin.api_url != args.api_url:  # the running local stack's address, not one the owner gave
            raise CliError(
                f"the local stack ({admin.api_url}) cannot receive a platform's webhooks: connect the shops "
                "of your deployed stack, with its AWS credentials and no local stack running (or "
                "--state-dir pointing elsewhere), and --api-url https://<its ApiUrl>"
            )
        raise CliError(
            f"--api-url {admin.api_url!r}: a platform delivers webhooks only to a public https address; give "
            "the deployed stack's ApiUrl (https://...)"
        )
    prompt = getpass.getpass if args.prompt else None
    ok = True
    for platform in platforms:
        try:
            report = connect_platform(
                admin,
                args.shop_id,
                platform,
                check=args.check,
                options=options,
                env=os.environ,
                prompt=prompt,
            )
        except PlatformError as e:
            print(f"cxloop shop connect: error: {e}", file=sys.stderr)
            ok = False
            continue
        address = webhook_url(admin.api_url, platform, args.shop_id)
        ok = _print(report, args.check, args.shop_id, address) and ok
    return 0 if ok else 1


def add_to(shop: Any, admin_factory: Callable[[argparse.Namespace], Any]) -> None:
    """``shop connect`` under the ``shop`` command's subparsers."""
    from cxloop import cli_types

    p = shop.add_parser(
        "connect",
        help="register the shop's webhook subscriptions at its platform through the platform's API "
        "(--check: only compare, changing nothing)",
        description=(
            f"Credentials come from the environment ({WOO_KEY} and {WOO_SECRET}, {SHOPIFY_CLIENT_ID} or "
            f"{SHOPIFY_TOKEN}, "
            f"{BIGCOMMERCE_TOKEN}) or, with --prompt, are typed unseen; else the ones stored for the shop "
            "by an earlier connect are used. A confirmed connect stores what it was given in the shop's "
            "secret (Secrets Manager). See docs/connect.md for how to obtain them."
        ),
    )
    p.add_argument("shop_id", type=cli_types.shop_id)
    p.add_argument(
        "--platform", choices=[x.value for x in Platform], help="one platform (default: all of the shop's)"
    )
    p.add_argument(
        "--check", action="store_true", help="only compare with what the platform holds; change nothing"
    )
    p.add_argument("--prompt", action="store_true", help="ask for the platform credential (input hidden)")
    p.add_argument(
        "--store-url",
        help="WooCommerce: the store's https URL (default: the shop's stored one or its domain)",
    )
    p.add_argument("--store-hash", help="BigCommerce: the store hash (default: the one given to shop add)")
    p.add_argument(
        "--platform-url", help="the platform API's base URL instead of the real one (a local stand-in)"
    )
    p.set_defaults(func=lambda args: cmd_connect(args, admin_factory))
