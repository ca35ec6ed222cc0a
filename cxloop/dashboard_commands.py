"""``cxloop keys issue|list|revoke``: a shop's API keys for the REST API and the dashboard's login;
``cxloop dashboard retally``: the days' totals for answers and reviews stored before they existed.

A key is printed once, when issued; only its digest is kept. Revoking one ends its API access and its
dashboard sessions at once.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.dashboard.domain import keys
from shared.clock import utcnow

AdminFactory = Callable[[argparse.Namespace], Any]


def _store(admin: Any) -> DynamoKeyStore:
    return DynamoKeyStore(admin.dynamodb, admin.resources.tables["shops"])


def _known_shop(admin: Any, shop_id: str) -> None:
    if admin.shops.get(shop_id) is None:
        raise ValueError(f"no shop {shop_id!r} (cxloop shop add ...)")


def cmd_issue(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    _known_shop(admin, args.shop)
    key, presented = keys.issue(_store(admin), args.shop, args.label, utcnow())
    if args.json:
        print(json.dumps({"shop_id": key.shop_id, "key_id": key.key_id, "key": presented}))
    else:
        print(f"API key {key.key_id} for {key.shop_id} (shown once; keep it safe):\n{presented}")
    return 0


def cmd_list(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    found = _store(admin).list(args.shop)
    if args.json:
        print(json.dumps([k.model_dump(mode="json") for k in found]))
        return 0
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(f"{k.key_id}  {state:<24} created {k.created_at:%Y-%m-%d %H:%M}  {k.label}")
    if not found:
        print(f"{args.shop} has no API keys (cxloop keys issue --shop {args.shop})")
    return 0


def cmd_revoke(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    key = _store(admin).revoke(args.shop, args.key_id, utcnow())
    if key is None:
        raise ValueError(
            f"key_id {args.key_id!r}: {args.shop} has no such key (cxloop keys list --shop {args.shop})"
        )
    print(f"revoked {key.key_id} of {key.shop_id}")
    return 0


def cmd_retally(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore

    admin = admin_of(args)
    shops = [args.shop] if args.shop else [s.shop_id for s in admin.shops.list()]
    store = DynamoNotifierStore(admin.dynamodb, admin.resources.tables["notifier"])
    for shop_id in shops:
        print(
            f"{shop_id}: {store.retally(shop_id)} answer(s), review(s) and case(s) "
            "brought up to date in the days' totals"
        )
    return 0


def add_commands(sub: Any, admin_of: AdminFactory) -> None:
    cmds = sub.add_parser("keys", help="API keys for the REST API and the dashboard").add_subparsers(
        dest="sub", required=True
    )
    issue = cmds.add_parser("issue", help="issue a new key (printed once)")
    issue.add_argument("--shop", required=True)
    issue.add_argument("--label", default="", help="what the key is for")
    issue.add_argument("--json", action="store_true")
    issue.set_defaults(func=lambda a: cmd_issue(admin_of, a))
    lst = cmds.add_parser("list", help="the shop's keys (never the keys themselves)")
    lst.add_argument("--shop", required=True)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=lambda a: cmd_list(admin_of, a))
    rev = cmds.add_parser("revoke", help="revoke a key: its API calls and dashboard sessions stop at once")
    rev.add_argument("--shop", required=True)
    rev.add_argument("key_id")
    rev.set_defaults(func=lambda a: cmd_revoke(admin_of, a))
    dash = sub.add_parser("dashboard", help="the dashboard's figures").add_subparsers(
        dest="sub", required=True
    )
    re = dash.add_parser(
        "retally",
        help="bring answers, reviews and cases stored before this release up to date in the days' totals "
        "(once each)",
    )
    group = re.add_mutually_exclusive_group(required=True)
    group.add_argument("--shop")
    group.add_argument("--all", action="store_true", help="every shop")
    re.set_defaults(func=lambda a: cmd_retally(admin_of, a))
