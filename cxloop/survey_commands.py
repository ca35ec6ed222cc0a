"""``cxloop survey ...`` and ``cxloop report``: a shop's survey programme, its suppression log, its results.

``survey set`` changes only the options given, on top of what is stored (or the defaults), and the
whole programme is validated before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cxloop.cli_types import days_or_off, moment, quiet_hours
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
from services.feedback.domain.surveys.programme import SurveyProgramme
from services.feedback.domain.surveys.report import survey_report

AdminFactory = Callable[[argparse.Namespace], Any]

# CLI option → where it goes in the programme document.
TOP = {"type": "survey_type", "question": "question", "follow_up": "follow_up_question"}
TOP |= {"language": "language", "timezone": "timezone"}
BRAND = {"brand_name": "name", "colour": "colour", "logo_url": "logo_url", "sender": "sender"}
BRAND |= {"reply_to": "reply_to"}
RULES = {
    "days_after_delivery": "days_after_delivery",
    "days_after_fulfilment": "days_after_fulfilment",
    "throttle_days": "throttle_days",
    "sample_percent": "sample_percent",
    "max_lateness_days": "max_lateness_days",
    "answer_days": "answer_days",
}
# The programme's field → the option that sets it, for errors (cli_errors names the option).
FIELDS = {
    f"{prefix}{key}": "--" + opt.replace("_", "-")
    for prefix, names in (("", TOP), ("brand.", BRAND), ("rules.", RULES))
    for opt, key in names.items()
} | {"rules.quiet_hours": "--quiet-hours", "rules.reminder_after_days": "--reminder-days"}


def stores(admin: Any) -> tuple[DynamoProgrammeStore, DynamoSurveyStore]:
    return (
        DynamoProgrammeStore(admin.dynamodb, admin.resources.tables["shops"]),
        DynamoSurveyStore(admin.dynamodb, admin.resources.tables["feedback"]),
    )


def merged(
    current: dict[str, Any], args: argparse.Namespace, shop_name: str, timezone: str
) -> dict[str, Any]:
    """The stored programme (as a document) with the options given on the command line; a new one
    starts from the shop's name and time zone."""
    doc: dict[str, Any] = json.loads(json.dumps(current))
    doc.setdefault("brand", {}).setdefault("name", shop_name[:100])
    doc.setdefault("timezone", timezone)
    doc.setdefault("rules", {})
    given = {k: v for k, v in vars(args).items() if v is not None}
    for target, names in ((doc, TOP), (doc["brand"], BRAND), (doc["rules"], RULES)):
        target.update({key: given[opt] for opt, key in names.items() if opt in given})
    # Given (parsed by cli_types) or absent: `off` is None, so these two are not in `given`.
    if hasattr(args, "quiet_hours"):
        doc["rules"]["quiet_hours"] = args.quiet_hours
    if hasattr(args, "reminder_days"):
        doc["rules"]["reminder_after_days"] = args.reminder_days
    if args.enable or args.disable:
        doc["enabled"] = bool(args.enable)
    return doc


def cmd_set(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    admin = admin_of(args)
    shop = admin.shops.get(args.shop)
    if shop is None:
        raise ValueError(f"no shop {args.shop!r} (add it with `cxloop shop add`)")
    programmes, _ = stores(admin)
    current = programmes.get(args.shop)
    doc = merged(current.model_dump(mode="json") if current else {}, args, shop.name, shop.timezone)
    programme = SurveyProgramme.model_validate(doc)  # a ValidationError names the options (cli_errors)
    programmes.put(args.shop, programme)
    print(programme.model_dump_json(indent=2))
    return 0


def cmd_show(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    programme = stores(admin_of(args))[0].get(args.shop)
    if programme is None:
        print(
            f"shop {args.shop!r} has no survey programme (set one with `cxloop survey set`)", file=sys.stderr
        )
        return 1
    print(programme.model_dump_json(indent=2))
    return 0


def cmd_suppressions(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    entries = stores(admin_of(args))[1].suppressions(args.shop, args.limit)
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return 0
    for e in entries:
        detail = f"  ({e.detail})" if e.detail else ""
        print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.reason.value:<13} {e.order_name:<10} {e.email_masked}{detail}")
    if not entries:
        print("no decisions not to send recorded")
    return 0


def cmd_invitations(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    for inv in stores(admin_of(args))[1].invitations(args.shop):
        print(
            json.dumps(
                inv.model_dump(mode="json", exclude={"email", "first_name", "customer_key", "contact_key"}),
                default=str,
            )
        )
    return 0


def cmd_report(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    since, until = args.since, args.until or datetime.now(tz=UTC) + timedelta(seconds=1)
    if until <= since:
        raise ValueError(f"--until ({until:%Y-%m-%d %H:%M}) must be after --since ({since:%Y-%m-%d %H:%M})")
    report = survey_report(args.shop, stores(admin_of(args))[1].invitations(args.shop), since, until)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print("\n".join(report.lines()))
    return 0


def _set_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", choices=["nps", "csat", "ces"])
    p.add_argument("--question", help="the wording (default: the type's standard question)")
    p.add_argument("--follow-up", help="a second, open question on the thank-you page")
    p.add_argument("--language", help="en, de or fr")
    p.add_argument("--timezone", help="IANA time zone for quiet hours, e.g. Europe/Berlin")
    p.add_argument("--brand-name")
    p.add_argument("--colour", help="#rrggbb")
    p.add_argument("--logo-url", help="https:// URL of the logo")
    p.add_argument("--sender", help="the From address (a verified SES identity in AWS)")
    p.add_argument("--reply-to")
    p.add_argument("--days-after-delivery", type=int)
    p.add_argument("--days-after-fulfilment", type=int, help="when the carrier never reports delivery")
    p.add_argument("--throttle-days", type=int, help="never survey one person twice within this")
    p.add_argument(
        "--sample-percent", type=float, help="share of orders surveyed, more than 0 and at most 100"
    )
    p.add_argument("--quiet-hours", type=quiet_hours, default=argparse.SUPPRESS,
                   help="HH:MM-HH:MM in the shop's time zone, or off")  # fmt: skip
    p.add_argument("--reminder-days", type=days_or_off, default=argparse.SUPPRESS,
                   help="days until the one reminder, or off")  # fmt: skip
    p.add_argument("--max-lateness-days", type=int, help="older deliveries are not surveyed")
    p.add_argument("--answer-days", type=int, help="how long score links work")
    on = p.add_mutually_exclusive_group()
    on.add_argument("--enable", action="store_true", default=None)
    on.add_argument("--disable", action="store_true", default=None)


def add_commands(sub: Any, admin_of: AdminFactory) -> None:
    survey = sub.add_parser("survey", help="a shop's survey programme").add_subparsers(
        dest="sub", required=True
    )
    st = survey.add_parser("set", help="create or change the programme (only the options given change)")
    st.add_argument("--shop", required=True)
    _set_args(st)
    st.set_defaults(func=lambda a: cmd_set(admin_of, a), fields=FIELDS)
    sh = survey.add_parser("show", help="print the programme")
    sh.add_argument("--shop", required=True)
    sh.set_defaults(func=lambda a: cmd_show(admin_of, a))
    su = survey.add_parser("suppressions", help="the log of surveys not sent, and why (newest first)")
    su.add_argument("--shop", required=True)
    su.add_argument("--limit", type=int, default=100)
    su.add_argument("--json", action="store_true")
    su.set_defaults(func=lambda a: cmd_suppressions(admin_of, a))
    iv = survey.add_parser("invitations", help="the shop's invitations, one JSON line each (no addresses)")
    iv.add_argument("--shop", required=True)
    iv.set_defaults(func=lambda a: cmd_invitations(admin_of, a))

    rp = sub.add_parser("report", help="NPS/CSAT/CES and response rate with 95%% intervals")
    rp.add_argument("--shop", required=True)
    rp.add_argument(
        "--since", type=moment, required=True, help="2026-11-01, an ISO time, or 7d / 24h / 2w back from now"
    )
    rp.add_argument("--until", type=moment, help="the end of the period, as --since (default: now)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=lambda a: cmd_report(admin_of, a))
