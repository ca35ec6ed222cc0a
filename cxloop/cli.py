"""``cxloop``: run the local stack, manage shops and secrets, replay webhooks and dead letters.

Commands other than ``run`` talk to AWS: to the running local stack when ``.cxloop/stack.json``
names one that is alive (or ``--local``), else to the AWS account of the usual boto3 credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cxloop import cli_types
from cxloop.cli_errors import CliError, explain, leaf
from shared.tenancy import BigCommerceApi, Platform, Shop

STATE = Path(".cxloop/stack.json")


def _local_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "stack.json"
    if not path.exists():
        return None
    state: dict[str, Any] = json.loads(path.read_text())
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError):
        return None
    return state


def _admin(args: argparse.Namespace) -> Any:
    import boto3

    from cxloop.admin import Admin
    from cxloop.resources import resolve

    state = _local_state(Path(args.state_dir))
    if args.local and state is None:
        raise SystemExit("no local stack is running (start it with `cxloop run`)")
    endpoint = state["moto_url"] if state else os.environ.get("AWS_ENDPOINT_URL")
    if state:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        print(f"(local stack at {state.get('api_url')}, AWS at {endpoint})", file=sys.stderr)
    region = (
        (state or {}).get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    session = boto3.session.Session(region_name=region or "us-east-1")
    clients = {
        n: session.client(n, endpoint_url=endpoint) for n in ("dynamodb", "sqs", "secretsmanager", "events")
    }
    admin = Admin(
        clients["dynamodb"],
        clients["sqs"],
        clients["secretsmanager"],
        clients["events"],
        resolve(clients["sqs"], args.prefix),
    )
    admin.api_url = (state or {}).get("api_url") or args.api_url  # type: ignore[attr-defined]
    admin.smtp = (state or {}).get("smtp")  # type: ignore[attr-defined]
    _known_shop(admin, getattr(args, "shop", None))
    return admin


def _known_shop(admin: Any, shop_id: str | None, option: str = "--shop") -> None:
    """Every command's ``--shop`` names a shop that exists: an empty answer about a shop that is not
    there (a typo) reads as "no surveys sent"."""
    if shop_id is None or admin.shops.get(shop_id) is not None:
        return
    known = ", ".join(s.shop_id for s in admin.shops.list()) or "none yet"
    raise CliError(f"{option} {shop_id!r}: no such shop (the shops: {known}; add one with `cxloop shop add`)")


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def cmd_run(args: argparse.Namespace) -> int:
    from cxloop.local.stack import StackConfig, run

    return run(
        StackConfig(
            state_dir=Path(args.state_dir),
            api_port=args.api_port,
            moto_port=args.moto_port,
            smtp_port=args.smtp_port,
            prefix=args.prefix,
            log_level=args.log_level,
            demo=not args.no_demo,
            exit_after_demo=args.exit_after_demo,
            durability=args.durability,
            fresh=args.fresh,
            day_seconds=args.day_seconds,
            dispatch_every_s=args.dispatch_every,
            notify_every_s=args.notify_every,
        )
    )


def _domains(values: list[str], platforms: tuple[Platform, ...]) -> dict[Platform, str]:
    """``--domain D`` for a one-platform shop, else ``--domain PLATFORM=D`` per platform."""
    domains: dict[Platform, str] = {}
    for value in values:
        name, sep, domain = value.partition("=")
        if sep and name in {p.value for p in Platform}:
            domains[Platform(name)] = domain
        elif len(platforms) == 1:
            domains[platforms[0]] = value
        else:
            raise ValueError(f"--domain {value!r}: say which platform it is for (PLATFORM=DOMAIN)")
    return domains


def cmd_shop_add(args: argparse.Namespace) -> int:
    platforms = tuple(Platform(p) for p in args.platform)
    given = {Platform(p): v for p, v in args.secret or []}
    if stray := [p.value for p in given if p not in platforms]:
        raise CliError(
            f"--secret: the shop is on {', '.join(p.value for p in platforms)}, not {', '.join(stray)}: "
            "give a secret only for a platform in --platform"
        )
    admin = _admin(args)
    shop = Shop(
        shop_id=args.shop_id,
        name=args.name or args.shop_id,
        platforms=platforms,
        domains=_domains(args.domain or [], platforms),
        timezone=args.timezone,
        owner_email=args.owner_email,
    )
    api = None
    if args.bigcommerce_store_hash:
        api = BigCommerceApi(
            store_hash=args.bigcommerce_store_hash,
            access_token=args.bigcommerce_token or "",
            base_url=args.bigcommerce_api_url,
        )
    stored = admin.add_shop(shop, given, api)
    base = admin.api_url or "<ApiUrl>"
    print(f"Shop {shop.shop_id} added.")
    for platform, secret in stored.platforms.items():
        print(f"  {platform.value}: webhook URL {base}/webhooks/{platform.value}/{shop.shop_id}")
        print(f"  {platform.value}: secret {secret.current}")
    if not args.name:
        print(unnamed_warning(shop.shop_id), file=sys.stderr)
    print("\n".join(next_steps(admin, shop, args)))
    return 0


def next_steps(admin: Any, shop: Shop, args: argparse.Namespace) -> list[str]:
    """What a new shop still lacks before cxloop does anything for it: a survey programme (nothing is
    sent without one) and somewhere for alerts to go."""
    from cxloop.notify_commands import built_notifier
    from cxloop.survey_commands import stores

    lines = []
    if stores(admin)[0].get(shop.shop_id) is None:
        lines += [
            "No survey goes out until the shop has a survey programme; set one with:",
            f"  cxloop survey set --shop {shop.shop_id} --type nps --sender surveys@your-shop.example",
        ]
    if not built_notifier(admin, args).settings.get(shop.shop_id).destinations:
        add = f"cxloop notify destination --shop {shop.shop_id} --name team --slack URL (or --email ADDRESS)"
        lines += [
            f"Alerts go to {shop.owner_email} (the owner's e-mail) until you add a destination:"
            if shop.owner_email
            else "No alert destination yet: alerts about unhappy customers go nowhere. Add one with:",
            f"  {add}",
        ]
    return lines


def unnamed_warning(shop_id: str) -> str:
    """A shop added without --name is called by its id, and customers would read that id."""
    return (
        f"warning: no --name given, so the shop is named {shop_id!r} and customers will read that: "
        f'surveys would ask "How likely are you to recommend {shop_id} to a friend or colleague?" '
        f"and drafted replies are signed {shop_id!r}.\n"
        f'  Set the name your customers know: cxloop survey set --shop {shop_id} --brand-name "Your Shop" '
        f"(surveys and e-mail replies use it; public review replies are drafted with the shop's name, "
        f"edit them before posting)."
    )


def cmd_shop_list(args: argparse.Namespace) -> int:
    for shop in _admin(args).shops.list():
        platforms = ",".join(p.value for p in shop.platforms)
        domains = ",".join(shop.domains.values())
        print(f"{shop.shop_id:<24} {platforms:<24} {domains:<36} {shop.name}")
    return 0


def cmd_shop_rotate(args: argparse.Namespace) -> int:
    admin = _admin(args)
    _known_shop(admin, args.shop_id, "shop_id")
    secret = admin.rotate_secret(
        args.shop_id, Platform(args.platform), timedelta(hours=args.grace_hours), args.secret
    )
    print(f"New {args.platform} secret for {args.shop_id}: {secret}")
    if args.grace_hours:
        print(f"The previous secret stays valid for {args.grace_hours} h: update the platform before then.")
    return 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    messages = _admin(args).dlq_list(args.queue)
    if not messages:
        print(f"The {args.queue} dead-letter queue is empty.")
    for m in messages:
        print(
            f"{m['message_id']}  {m['shop_id']}  {m['platform']}  {m['topic']}  received {m['received_at']}"
            f"  receives {m['receive_count']}" + (f"  reason: {m['reason']}" if m["reason"] else "")
        )
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    moved = _admin(args).dlq_replay(args.queue, args.id)
    print(f"Moved {moved} message(s) back to {args.queue}.")
    return 0 if moved or not args.id else 1


def _unwrap(payload: Any, topic: str) -> Any:
    """Accept the platforms' sample files as they are: ``{"order": {...}}`` or a map keyed by topic."""
    if isinstance(payload, dict) and topic in payload and isinstance(payload[topic], dict):
        return payload[topic]
    if isinstance(payload, dict) and len(payload) == 1:
        ((key, inner),) = payload.items()
        if key in ("order", "fulfillment", "fulfillment_event", "customer", "refund") and isinstance(
            inner, dict
        ):
            return inner
    return payload


def cmd_replay(args: argparse.Namespace) -> int:
    from cxloop.local.demo import post
    from cxloop.signing import webhook_headers

    admin = _admin(args)
    platform = Platform(args.platform)
    shop = admin.shops.get(args.shop)
    secrets = admin.secrets.get(args.shop)
    if shop is None or secrets is None or platform not in secrets.platforms:
        raise SystemExit(f"shop {args.shop!r} has no {platform.value} secret")
    body = json.dumps(_unwrap(json.loads(Path(args.file).read_text()), args.topic)).encode()
    if platform is Platform.BIGCOMMERCE:
        payload = json.loads(body)
        payload["scope"] = args.topic
        body = json.dumps(payload).encode()
    fallback = f"{shop.shop_id}.myshopify.com" if platform is Platform.SHOPIFY else ""
    source = shop.domain_for(platform) or fallback
    headers = webhook_headers(
        platform, args.topic, body, secrets.platforms[platform].current, source, args.event_id
    )
    url = f"{(args.url or admin.api_url).rstrip('/')}/webhooks/{platform.value}/{args.shop}"
    status, text = post(url, body, headers)
    print(f"{status} {text}")
    return 0 if status < 400 else 1


def _ref(args: argparse.Namespace) -> Any:
    from services.feedback.domain.compliance import CustomerRef

    if not (args.email or args.customer_id):
        raise SystemExit("give --email or --customer-id")
    return CustomerRef(
        platform=Platform(args.platform),
        customer_id=args.customer_id,
        email=args.email,
        order_ids=tuple(args.order or ()),
    )


def cmd_customer_export(args: argparse.Namespace) -> int:
    _print(_admin(args).export_customer(args.shop, _ref(args)))
    return 0


def cmd_customer_erase(args: argparse.Namespace) -> int:
    report = _admin(args).erase_customer(args.shop, _ref(args))
    anonymised, deleted = len(report.orders_anonymised), report.records_deleted
    print(f"Erased: {anonymised} order(s) anonymised, {deleted} record(s) deleted.")
    return 0


def cmd_customer_exports(args: argparse.Namespace) -> int:
    _print(_admin(args).exports(args.shop))
    return 0


def cmd_order_show(args: argparse.Namespace, admin_of: Callable[[argparse.Namespace], Any] = _admin) -> int:
    from cxloop.admin import order_document

    admin, platform = admin_of(args), Platform(args.platform)
    order = admin.order(args.shop, platform, args.order_id)
    if order is None:
        # The number people see (#1042, as the demo and the dashboard print it) is a name, not the id.
        name = "#" + args.order_id.lstrip("#")
        named = [o for o in admin.orders(args.shop) if o.platform == platform.value and o.name == name]
        order = named[0] if len(named) == 1 else None
    if order is None:
        print(
            f"cxloop order show: error: order_id: no {platform.value} order {args.order_id!r} in shop "
            f"{args.shop!r}: give the platform's order "
            "id or its name as shown (#1042)",
            file=sys.stderr,
        )
        return 1
    doc = order_document(order)
    if args.json:
        _print(doc)
        return 0
    totals = doc["totals"]
    print(
        f"{order.platform} order {order.order_id} {order.name or ''}".rstrip()
        + (" (test)" if order.test else "")
    )
    print(
        f"  {doc['state']}, {doc['financial_state']}: {totals['total']} {totals['currency'] or ''}".rstrip()
    )
    for f in doc["fulfilments"]:
        print(f"  fulfilment {f['fulfilment_id']}: shipped {f['created_at']}, delivered {f['delivered_at']}")
    for r in doc["refunds"]:
        amount = "amount unknown" if r["amount"] is None else f"{r['amount']} {r['currency'] or ''}".rstrip()
        shop = f" ({r['shop_amount']} {r['shop_currency']})" if r["shop_currency"] else ""
        print(
            f"  refund {r['refund_id']}: {amount}{shop} at {r['refunded_at']}"
            + (" (deleted in the shop, not counted)" if r["deleted"] else "")
        )
    for w in doc["warnings"] + [
        dict(w, field=f"refund {r['refund_id']} {w['field']}") for r in doc["refunds"] for w in r["warnings"]
    ]:
        print(f"  warning: {w['field']} {w['value']}: {w['action']}")
    return 0


def _customer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True)
    p.add_argument("--platform", required=True, choices=[x.value for x in Platform])
    p.add_argument("--email")
    p.add_argument("--customer-id")
    p.add_argument("--order", action="append", help="an order id to include (repeatable)")


def parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one declaration per command
    root = argparse.ArgumentParser(prog="cxloop", description=__doc__)
    root.add_argument("--prefix", default="cxloop", help="resource name prefix (default cxloop)")
    root.add_argument("--state-dir", default=".cxloop", help="local stack state folder")
    root.add_argument("--local", action="store_true", help="require the running local stack")
    root.add_argument("--api-url", default=None, help="the API's base URL (for printed webhook URLs)")
    root.add_argument("--debug", action="store_true", help="on an error, show the traceback")
    sub = root.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the whole system locally (no AWS account)")
    run.add_argument("--api-port", type=int, default=8080)
    run.add_argument("--moto-port", type=int, default=5055)
    run.add_argument("--smtp-port", type=int, default=1025)
    run.add_argument(
        "--log-level", default="INFO", help="level of the functions' logs (.cxloop/functions.log)"
    )
    run.add_argument("--no-demo", action="store_true", help="start empty: no demo shops or orders")
    run.add_argument("--exit-after-demo", action="store_true", help="stop once the demo has run")
    run.add_argument(
        "--fresh", action="store_true", help="forget the stored state (shops, orders, answers) and start over"
    )
    run.add_argument(
        "--durability",
        choices=("full", "normal"),
        default="full",
        help="full: every write reaches the disk before it is acknowledged (survives a power cut); "
        "normal: faster, survives kill -9 of any process but not a power cut (default full)",
    )
    run.add_argument(
        "--day-seconds", type=float, help="length of a survey rule's day (default: 2 in the demo, else 86400)"
    )
    run.add_argument(
        "--dispatch-every",
        type=float,
        help="seconds between dispatcher runs (default: 2 in the demo, else 60)",
    )
    run.add_argument(
        "--notify-every",
        type=float,
        help="seconds between runs of the notifier's sender (default: 3 in the demo, else 60)",
    )
    run.set_defaults(func=cmd_run)

    shop = sub.add_parser("shop", help="manage shops (tenants) and their secrets").add_subparsers(
        dest="sub", required=True
    )
    add = shop.add_parser("add", help="add a shop; prints its webhook URLs and secrets")
    add.add_argument(
        "shop_id", type=cli_types.shop_id, help="3-40 characters of a-z, 0-9 and '-' (e.g. blue-kiln)"
    )
    add.add_argument("--name")
    add.add_argument("--platform", action="append", required=True, choices=[x.value for x in Platform])
    add.add_argument(
        "--domain",
        action="append",
        metavar="[PLATFORM=]DOMAIN",
        help="*.myshopify.com, the WooCommerce site URL or the BigCommerce store id (PLATFORM= for several)",
    )
    add.add_argument("--timezone", default="UTC")
    add.add_argument("--owner-email")
    add.add_argument(
        "--secret",
        action="append",
        type=cli_types.platform_secret,
        metavar="PLATFORM=SECRET",
        help="use this signing secret (Shopify: the app's client secret) instead of a generated one",
    )
    add.add_argument("--bigcommerce-store-hash")
    add.add_argument("--bigcommerce-token")
    add.add_argument("--bigcommerce-api-url", default="https://api.bigcommerce.com")
    add.set_defaults(func=cmd_shop_add)
    lst = shop.add_parser("list", help="list shops")
    lst.set_defaults(func=cmd_shop_list)
    rot = shop.add_parser(
        "rotate-secret", help="replace a platform secret, keeping the old one valid for a while"
    )
    rot.add_argument("shop_id", type=cli_types.shop_id)
    rot.add_argument("--platform", required=True, choices=[x.value for x in Platform])
    rot.add_argument("--grace-hours", type=float, default=24.0)
    rot.add_argument("--secret", help="the new secret (default: generated)")
    rot.set_defaults(func=cmd_shop_rotate)
    from cxloop.connect import commands as connect_commands

    connect_commands.add_to(shop, _admin)

    from shared.topology import QUEUES

    queues = [q.logical for q in QUEUES]
    dlq = sub.add_parser("dlq", help="dead-lettered messages").add_subparsers(dest="sub", required=True)
    dl = dlq.add_parser("list")
    dl.add_argument("--queue", default="feedback-events", choices=queues)
    dl.set_defaults(func=cmd_dlq_list)
    dr = dlq.add_parser("replay")
    dr.add_argument("--queue", default="feedback-events", choices=queues)
    dr.add_argument("--id", help="one message id (default: all)")
    dr.set_defaults(func=cmd_dlq_replay)

    rp = sub.add_parser("replay", help="sign and post a stored payload to a running stack")
    rp.add_argument("file")
    rp.add_argument("--platform", required=True, choices=[x.value for x in Platform])
    rp.add_argument("--shop", required=True)
    rp.add_argument("--topic", required=True)
    rp.add_argument("--event-id", help="the platform event id (default: new); reuse it to send a duplicate")
    rp.add_argument("--url", help="the API base URL (default: the running local stack)")
    rp.set_defaults(func=cmd_replay)

    cust = sub.add_parser("customer", help="privacy requests").add_subparsers(dest="sub", required=True)
    ex = cust.add_parser("export", help="print everything held about a customer")
    _customer_args(ex)
    ex.set_defaults(func=cmd_customer_export)
    er = cust.add_parser("erase", help="erase a customer's personal data")
    _customer_args(er)
    er.set_defaults(func=cmd_customer_erase)
    exs = cust.add_parser("exports", help="list exports made for Shopify data requests")
    exs.add_argument("--shop", required=True)
    exs.set_defaults(func=cmd_customer_exports)

    order = sub.add_parser("order", help="orders").add_subparsers(dest="sub", required=True)
    show = order.add_parser("show", help="an order as cxloop holds it")
    show.add_argument("--shop", required=True)
    show.add_argument("--platform", required=True, choices=[x.value for x in Platform])
    show.add_argument("order_id")
    show.add_argument("--json", action="store_true", help="the normalised order, for tools")
    show.set_defaults(func=cmd_order_show)

    from cxloop import (
        dashboard_commands,
        deploy_commands,
        doctor_commands,
        model_commands,
        notify_commands,
        review_commands,
        survey_commands,
    )

    dashboard_commands.add_commands(sub, _admin)
    deploy_commands.add_commands(sub, _admin)
    doctor_commands.add_commands(sub, _admin)
    model_commands.add_commands(sub, _admin)
    notify_commands.add_commands(sub, _admin)
    review_commands.add_commands(sub, _admin)
    survey_commands.add_commands(sub, _admin)
    return root


def main(argv: list[str] | None = None) -> int:
    root = parser()
    args = root.parse_args(argv)
    try:
        return int(args.func(args))
    except SystemExit as e:  # a command's own `raise SystemExit("message")`
        if args.debug or not isinstance(e.code, str):
            raise
        print(f"{leaf(root, args).prog}: error: {e.code}", file=sys.stderr)
        return 1
    except Exception as e:  # the one place an error becomes a message (cli_errors)
        if args.debug:
            raise
        command = leaf(root, args)
        message, status = explain(e, command, args)
        print(f"{command.prog}: error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
