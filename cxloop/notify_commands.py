"""``cxloop notify ...``, ``cxloop cases ...``, ``cxloop digest``, ``cxloop churn list``: a shop's alerting
and closed-loop settings, its cases, the weekly digest and the customers at risk, from the command line.

A Slack webhook URL goes to Secrets Manager and is never printed; setting a destination again (after it
broke) releases the alerts it held.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cxloop.churn_commands import add_evaluate
from services.notifier.domain.model import (
    AlertSettings,
    Delivery,
    Destination,
    DestinationKind,
    ReplyMode,
    Rule,
    RuleKind,
)
from shared.clock import utcnow

AdminFactory = Callable[[argparse.Namespace], Any]


def built_notifier(admin: Any, args: argparse.Namespace) -> Any:
    """The notifier's composition against the stack the admin talks to (local: the SMTP sink)."""
    from services.notifier.bootstrap import build_notifier
    from shared.settings import NotifierSettings as Config
    from shared.settings import aws_from_env

    local = getattr(admin, "smtp", None)
    host, _, port = (local or "127.0.0.1:1025").partition(":")
    config = Config(
        aws=aws_from_env(),
        notifier_table=admin.resources.tables["notifier"],
        shops_table=admin.resources.tables["shops"],
        event_bus_name=admin.resources.bus_name,
        secrets_prefix=admin.resources.prefix,
        public_url=getattr(admin, "api_url", None) or "http://127.0.0.1:8080",
        mail_transport="smtp" if local else "ses",
        smtp_host=host,
        smtp_port=int(port),
    )
    return build_notifier(
        config, dynamodb=admin.dynamodb, secretsmanager=admin.secretsmanager, events=admin.events
    )


def _shop(admin: Any, shop_id: str) -> Any:
    shop = admin.shops.get(shop_id)
    if shop is None:
        raise SystemExit(f"no shop {shop_id!r}")
    return shop


def _save(built: Any, shop: Any, settings: AlertSettings) -> None:
    """Store the settings and show them as `notify show` does (`notify show --json` for the document)."""
    built.settings.put(shop.shop_id, settings)
    print("\n".join(summary(shop, settings, _health(built, shop.shop_id, settings))))


def _health(built: Any, shop_id: str, settings: AlertSettings) -> dict[str, Any]:
    return {d.name: built.store.destination_state(shop_id, d.name) for d in settings.destinations}


def cmd_show(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    shop = _shop(admin, args.shop)
    built = built_notifier(admin, args)
    settings = built.settings.get(args.shop)
    states = _health(built, args.shop, settings)
    if args.json:
        doc = {
            "settings": settings.model_dump(mode="json"),
            "destinations": {k: v.__dict__ for k, v in states.items()},
        }
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print("\n".join(summary(shop, settings, states)))
    return 0


def summary(shop: Any, settings: AlertSettings, states: dict[str, Any]) -> list[str]:
    """`notify show` for a person: where alerts go and whether it works, each rule in a line, replies."""
    lines = [f"Alerts for {shop.shop_id}", "Destinations:"]
    for d in settings.destinations:
        state = states[d.name]
        health = f"BROKEN: {state.reason}" if state.broken else "ok"
        lines.append(f"  {d.name:<12} {d.kind.value:<6} {d.address or '':<30} {health}")
    if not settings.destinations:
        add = f"cxloop notify destination --shop {shop.shop_id} --name team --slack URL"
        lines.append(
            f"  none: alerts go to the owner's e-mail, {shop.owner_email} ({add} adds one)"
            if shop.owner_email
            else f"  none, and no owner e-mail: alerts go nowhere. Add one: {add}"
        )
    lines.append("Rules:")
    for rule in settings.rules:
        where = ", ".join(rule.destinations) or "every destination"
        state = f"{rule.delivery.value:<9}" if rule.enabled else "off      "
        lines.append(f"  {rule.kind.value:<17} {state} {_condition(rule):<44} to {where}")
    reply = {
        ReplyMode.OFF: "off (no replies drafted)",
        ReplyMode.APPROVAL: "drafted, sent when you approve",
        ReplyMode.AUTOMATIC: f"sent {settings.reply_hold_minutes} min after drafting unless you stop them",
    }[settings.reply_mode]
    lines += [
        f"Replies: {reply}; first reply due within {settings.first_reply_target_hours:g} h",
        f"Churn: alert at risk >= {settings.churn_threshold:g}, for customers who spent at least "
        f"{settings.churn_min_spend:g} in a year",
        f"Everything, as JSON: cxloop notify show --shop {shop.shop_id} --json",
    ]
    return lines


def _condition(rule: Rule) -> str:
    """What makes the rule fire, in a few words."""
    words, stars = ", ".join(rule.keywords), rule.max_rating_share * 5
    said = {
        RuleKind.DETRACTOR: f"NPS 0-{rule.max_score}",
        RuleKind.UNHAPPY_CSAT: f"CSAT 1-{rule.max_score}",
        RuleKind.HIGH_EFFORT: f"CES {rule.min_score}-7",
        RuleKind.NEGATIVE_MENTION: f"<= {stars:g} stars, or negative at {rule.min_confidence:g}",
        RuleKind.KEYWORD: words if len(words) <= 44 else words[:41] + "...",
        RuleKind.THEME_SURGE: f"a theme >= {rule.surge_min} a day and {rule.surge_ratio:g}x usual",
        RuleKind.CHURN_RISK: "a valuable customer at risk",
        RuleKind.SOURCE_HEALTH: "a review source breaks or recovers",
    }
    return said.get(rule.kind, "")


def cmd_destination(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.notifier.domain.delivery import repair
    from shared.credentials import NOTIFIER, SecretsManagerCredentials

    admin = admin_of(args)
    shop = _shop(admin, args.shop)
    built = built_notifier(admin, args)
    settings = built.settings.get(args.shop)
    hooks = SecretsManagerCredentials(
        admin.secretsmanager, admin.resources.prefix, cache_seconds=0, area=NOTIFIER
    )
    urls = dict(hooks.get(args.shop, "slack") or {})
    kept = tuple(d for d in settings.destinations if d.name != args.name)
    if args.remove:
        urls.pop(args.name, None)
        hooks.put(args.shop, "slack", urls)
        _save(built, shop, settings.model_copy(update={"destinations": kept}))
        return 0
    if bool(args.slack) == bool(args.email):
        raise SystemExit("give one of --slack URL or --email ADDRESS (or --remove)")
    if args.slack:
        if not args.slack.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SystemExit("a Slack incoming-webhook URL starts with https://")
        urls[args.name] = args.slack
        hooks.put(args.shop, "slack", urls)
        destination = Destination(name=args.name, kind=DestinationKind.SLACK)
    else:
        destination = Destination(name=args.name, kind=DestinationKind.EMAIL, address=args.email)
    _save(built, shop, settings.model_copy(update={"destinations": (*kept, destination)}))
    released = repair(built.store, args.shop, args.name, utcnow())
    if released:
        print(f"{released} held batch(es) of alerts released to {args.name}", file=sys.stderr)
    return 0


def cmd_rule(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    shop = _shop(admin, args.shop)
    built = built_notifier(admin, args)
    settings = built.settings.get(args.shop)
    kind = RuleKind(args.kind)
    current = next((r for r in settings.rules if r.kind is kind), Rule(kind=kind))
    changes: dict[str, Any] = {}
    if args.off or args.on:
        changes["enabled"] = bool(args.on)
    if args.delivery:
        changes["delivery"] = Delivery(args.delivery)
    for name in ("max_score", "min_score", "min_confidence", "surge_min", "surge_ratio"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.keywords is not None:
        changes["keywords"] = tuple(k.strip() for k in args.keywords.split(",") if k.strip())
    if args.destinations is not None:
        changes["destinations"] = tuple(d.strip() for d in args.destinations.split(",") if d.strip())
    rule = Rule.model_validate(current.model_dump() | changes)
    rules = tuple(rule if r.kind is kind else r for r in settings.rules)
    if kind not in {r.kind for r in rules}:
        rules = (*rules, rule)
    _save(built, shop, settings.model_copy(update={"rules": rules}))
    return 0


def cmd_loop(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    shop = _shop(admin, args.shop)
    built = built_notifier(admin, args)
    settings = built.settings.get(args.shop)
    changes = {
        "reply_mode": ReplyMode(args.mode) if args.mode else None,
        "reply_hold_minutes": args.hold_minutes,
        "reply_from": args.reply_from,
        "reply_to": args.reply_to,
        "first_reply_target_hours": args.target_hours,
        "churn_threshold": args.churn_threshold,
        "churn_min_spend": args.churn_min_spend,
    }
    updated = AlertSettings.model_validate(
        settings.model_dump() | {k: v for k, v in changes.items() if v is not None}
    )
    _save(built, shop, updated)
    return 0


def _case_row(case: Any, at: datetime) -> dict[str, Any]:
    return {
        "case": case.case_id,
        "status": case.status.value,
        "reply": case.reply_state.value,
        "opened": case.opened_at.isoformat(timespec="minutes"),
        "overdue": case.overdue(at),
        "who": case.first_name or case.source or "",
        "score": case.score if case.score is not None else case.rating,
        "themes": [t.theme for t in case.themes if t.sentiment == "negative"],
        "comment": (case.comment or "")[:80],
    }


def cmd_cases(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    built = built_notifier(admin, args)
    at = utcnow()
    cases = sorted(built.store.cases(args.shop), key=lambda c: c.opened_at, reverse=True)
    if args.open:
        cases = [c for c in cases if c.status.value != "resolved"]
    rows = [_case_row(c, at) for c in cases[: args.limit]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        flag = " OVERDUE" if r["overdue"] else ""
        print(f"{r['case']:<40} {r['status']:<9} {r['reply']:<18} {r['who']:<12} {r['score']!s:<4}{flag}")
        if r["comment"]:
            print(f"    {r['comment']}")
    return 0


def cmd_case(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.notifier.domain import replies

    admin = admin_of(args)
    built = built_notifier(admin, args)
    case = built.store.case(args.shop, args.case)
    if case is None:
        raise SystemExit(f"no case {args.case!r} for shop {args.shop!r}")
    if args.action == "show":
        shop, settings = _shop(admin, args.shop), built.settings.get(args.shop)
        draft = replies.current_draft(case, shop, settings)
        link = built.approve_link(args.shop, case.case_id)
        hand = replies.by_hand(case) if case.by_hand else None
        extra = {"draft": draft.text, "approve_link": link, "by_hand": hand}
        print(json.dumps(case.model_dump(mode="json") | extra, indent=2))
        if hand and case.reply_state in replies.SENDABLE:
            print(f"{hand} (cxloop case posted {case.case_id} --shop {args.shop})", file=sys.stderr)
        return 0
    try:
        text = Path(args.text_file).read_text() if args.text_file else None
        if args.action == "close":
            done = replies.close(built.reply_deps(), args.shop, args.case, utcnow(), by="cli")
        elif args.action == "posted":
            done = replies.posted(built.reply_deps(), args.shop, args.case, utcnow(), text, by="cli")
        else:
            done = replies.approve(built.reply_deps(), args.shop, args.case, utcnow(), text, by="cli")
    except replies.ReplyRefused as e:
        raise SystemExit(f"not done: {e}") from e
    print(json.dumps(_case_row(done, utcnow()), indent=2))
    return 0


def cmd_digest(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.notifier.digests import preview, send_digest
    from services.notifier.domain import retention_snapshot
    from services.notifier.domain.churn_refresh import refresh

    admin = admin_of(args)
    shop = _shop(admin, args.shop)
    built = built_notifier(admin, args)
    if args.preview:
        Path(args.preview).write_text(preview(built, shop, utcnow()))
        print(f"digest written to {args.preview}")
        return 0
    at = utcnow()
    at_risk = refresh(built.intake(), shop.shop_id, at)
    retention_snapshot.refresh(built.store, built.retention(), shop.shop_id, at)  # as the daily run does
    sent = send_digest(built, shop, at, at_risk)
    print(f"digest sent to {sent} destination(s) that had not had this week's")
    return 0


def cmd_churn(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.notifier.domain.churn_refresh import refresh
    from shared.money import money

    admin = admin_of(args)
    _shop(admin, args.shop)
    rows = refresh(built_notifier(admin, args).intake(), args.shop, utcnow())
    out = [
        {"customer": r.customer_key, "name": r.name, "email": r.email, "risk": round(r.risk, 3),
         "orders": r.orders, "spent": money(r.spend_total, r.currency), "spend_total": r.spend_total,
         "spend_year": r.spend_year, "currency": r.currency, "reasons": list(r.reasons)}
        for r in rows[: args.top]
    ]  # fmt: skip
    print(json.dumps(out, indent=2))
    return 0


def _rule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=[k.value for k in RuleKind])
    p.add_argument("--on", action="store_true")
    p.add_argument("--off", action="store_true")
    p.add_argument("--delivery", choices=[d.value for d in Delivery])
    p.add_argument("--max-score", type=int)
    p.add_argument("--min-score", type=int)
    p.add_argument("--min-confidence", type=float)
    p.add_argument("--surge-min", type=int)
    p.add_argument("--surge-ratio", type=float)
    p.add_argument("--keywords", help="comma-separated words or phrases")
    p.add_argument("--destinations", help="comma-separated destination names (empty: all)")


def _loop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=[m.value for m in ReplyMode])
    p.add_argument("--hold-minutes", type=int)
    p.add_argument(
        "--reply-from",
        help="the address replies come from (a verified SES identity); default: the survey's sender",
    )
    p.add_argument("--reply-to", help="where customers' answers go (the owner's inbox)")
    p.add_argument("--target-hours", type=float, help="first reply due within this many hours")
    p.add_argument("--churn-threshold", type=float)
    p.add_argument("--churn-min-spend", type=float)


def add_commands(sub: Any, admin_of: AdminFactory) -> None:
    notify = sub.add_parser("notify", help="alerts: rules, destinations, replies").add_subparsers(
        dest="sub", required=True
    )
    sh = notify.add_parser("show", help="the shop's rules, destinations and their health")
    sh.add_argument("--shop", required=True)
    sh.add_argument("--json", action="store_true", help="the whole settings document, for tools")
    sh.set_defaults(func=lambda a: cmd_show(admin_of, a))
    de = notify.add_parser("destination", help="add, change or remove a Slack or e-mail destination")
    de.add_argument("--shop", required=True)
    de.add_argument("--name", required=True)
    de.add_argument("--slack", metavar="WEBHOOK_URL")
    de.add_argument("--email", metavar="ADDRESS")
    de.add_argument("--remove", action="store_true")
    de.set_defaults(func=lambda a: cmd_destination(admin_of, a))
    ru = notify.add_parser("rule", help="turn a rule on or off, batch it, tune it")
    ru.add_argument("--shop", required=True)
    _rule_args(ru)
    ru.set_defaults(func=lambda a: cmd_rule(admin_of, a))
    lo = notify.add_parser("loop", help="closed-loop replies and churn settings")
    lo.add_argument("--shop", required=True)
    _loop_args(lo)
    lo.set_defaults(func=lambda a: cmd_loop(admin_of, a))

    cases = sub.add_parser("cases", help="cases opened for unhappy customers and negative reviews")
    cases.add_argument("--shop", required=True)
    cases.add_argument("--open", action="store_true", help="only cases not resolved")
    cases.add_argument("--limit", type=int, default=50)
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(func=lambda a: cmd_cases(admin_of, a))
    case = sub.add_parser(
        "case",
        help="show a case, approve its reply (optionally edited), say you posted it yourself (a review "
        "site cxloop cannot post to), or close it",
    )
    case.add_argument("action", choices=["show", "approve", "posted", "close"])
    case.add_argument("case")
    case.add_argument("--shop", required=True)
    case.add_argument("--text-file", help="the reply to send (or that you posted) instead of the draft")
    case.set_defaults(func=lambda a: cmd_case(admin_of, a))

    dg = sub.add_parser("digest", help="send this week's digest now, or --preview it to an HTML file")
    dg.add_argument("--shop", required=True)
    dg.add_argument("--preview", metavar="FILE")
    dg.set_defaults(func=lambda a: cmd_digest(admin_of, a))
    churn_commands = sub.add_parser("churn", help="customers at risk of leaving").add_subparsers(
        dest="sub", required=True
    )
    ch = churn_commands.add_parser("list", help="refresh churn risk and list the valuable customers at risk")
    ch.add_argument("--shop", required=True)
    ch.add_argument("--top", type=int, default=20)
    ch.set_defaults(func=lambda a: cmd_churn(admin_of, a))
    add_evaluate(churn_commands)
