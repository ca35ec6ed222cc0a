"""``cxloop reviews ...``: connect a shop's review sources, import a CSV, pull now, list, reply.

Settings (ids, brand terms) go with the connection in the reviews table; credentials go to Secrets
Manager and are never printed. ``connect`` stores, then checks with one authenticated call.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.reviews.domain.errors import SourceError
from services.reviews.domain.model import Source
from services.reviews.domain.state import SourceState
from shared.clock import utcnow

AdminFactory = Callable[[argparse.Namespace], Any]
PULLED = tuple(s.value for s in Source if s not in (Source.CSV, Source.WEBHOOK))


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} takes key=value, not {value!r}")
        out[key.strip()] = val
    return out


def _reviews(admin: Any) -> Any:
    import os

    from services.reviews.bootstrap import build_reviews
    from shared.credentials import SecretsManagerCredentials
    from shared.settings import ReviewsSettings

    settings = ReviewsSettings(
        reviews_table=admin.resources.tables["reviews"],
        event_bus_name=admin.resources.bus_name,
        secrets_prefix=admin.resources.prefix,
        sources_base_url=os.environ.get("CXLOOP_SOURCES_BASE_URL", ""),
    )
    credentials = SecretsManagerCredentials(admin.secretsmanager, admin.resources.prefix, cache_seconds=0)
    return build_reviews(settings, dynamodb=admin.dynamodb, events=admin.events, credentials=credentials)


def cmd_connect(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.reviews.domain.ports import Connection

    admin = admin_of(args)
    if admin.shops.get(args.shop) is None:
        raise ValueError(f"no shop {args.shop!r} (add it with `cxloop shop add`)")
    built = _reviews(admin)
    settings, secrets = _pairs(args.set, "--set"), _pairs(args.secret, "--secret")
    current = built.store.state(args.shop, args.source)
    if secrets:
        built.credentials.put(args.shop, args.source, secrets)
    state = (current or SourceState(shop_id=args.shop, source=args.source)).model_copy(
        update={
            "settings": {**(current.settings if current else {}), **settings},
            "every_s": args.every_minutes * 60,
            "enabled": True,
            "next_pull_at": None,
            "version": (current.version if current else 0) + 1,
        }
    )
    if not built.store.save_state(state, current.version if current else 0):
        raise ValueError("the connection changed meanwhile; run the command again")
    names = ", ".join(sorted(state.settings)) or "none"
    kept = ", ".join(sorted(secrets)) or "unchanged"
    print(f"{args.source} connected for {args.shop} (settings: {names}; credentials: {kept}; "
          f"pulled every {args.every_minutes} min)")  # fmt: skip
    if args.no_check:
        return 0
    credentials = built.credentials.get(args.shop, args.source) or {}
    try:
        line = built.deps.connectors[args.source].check(
            Connection(args.shop, args.source, state.settings, credentials)
        )
    except SourceError as e:
        print(f"check failed ({e.kind}): {e}", file=sys.stderr)
        return 1
    print(f"check: {line}")
    return 0


def cmd_disconnect(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    built = _reviews(admin_of(args))
    built.store.delete_state(args.shop, args.source)
    built.credentials.delete(args.shop, args.source)
    print(f"{args.source} disconnected for {args.shop}; stored reviews are kept")
    return 0


def cmd_status(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    built = _reviews(admin_of(args))
    states = [s for s in built.store.states() if s.shop_id == args.shop]
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in states], indent=2))
        return 0
    for s in states:
        health = f"failing since {s.failing_since:%Y-%m-%d %H:%M} ({s.last_error_kind}: {s.last_error})" if (
            s.failing_since) else "ok"  # fmt: skip
        last = f"{s.last_success_at:%Y-%m-%d %H:%M}" if s.last_success_at else "never"
        nxt = f"{s.next_pull_at:%Y-%m-%d %H:%M}" if s.next_pull_at else "now"
        print(f"{s.source:<11} last pull {last}  next {nxt}  {health}")
    if not states:
        print(f"shop {args.shop!r} has no review sources (cxloop reviews connect)")
    return 0


def cmd_pull(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.reviews.domain.pulling import pull

    built = _reviews(admin_of(args))
    states = [s for s in built.store.states() if s.shop_id == args.shop and args.source in (None, s.source)]
    for state in states:
        result = pull(built.deps, state, utcnow(), utcnow)
        counts = {k.value: v for k, v in result.ingested.counts.items()} if result.ingested else {}
        print(f"{state.source:<11} {result.outcome:<12} {json.dumps(counts)} {result.error}")
    return 0 if states else 1


def cmd_import(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.reviews.connectors.csv_import import Columns, RowError, open_csv
    from services.reviews.domain.ingest import Outcome, ingest

    built = _reviews(admin_of(args))
    columns = Columns(
        id=args.id_column, text=args.text_column, rating=args.rating_column, date=args.date_column,
        author=args.author_column, title=args.title_column, url=args.url_column,
    )  # fmt: skip
    items, errors = [], 0
    with Path(args.file).open(encoding="utf-8-sig", newline="") as stream:
        used, rows = open_csv(stream, args.source, columns)
        print("columns: " + ", ".join(f"{field}={name!r}" for field, name in used.items()), file=sys.stderr)
        if "date" not in used:
            print("no date column: each review is dated when it is imported (--date-column)", file=sys.stderr)
        for row in rows:
            if isinstance(row, RowError):
                errors += 1
                print(f"line {row.line}: {row.reason}", file=sys.stderr)
            else:
                items.append(row)
    result = ingest(built.store, built.deps.mentions, args.shop, items, utcnow())
    c = result.counts
    print(f"{len(items)} read, {errors} refused: {c[Outcome.NEW]} new, {c[Outcome.EDITED]} edited, "
          f"{c[Outcome.UNCHANGED]} already known")  # fmt: skip
    return 0


def cmd_list(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    built = _reviews(admin_of(args))
    reviews = built.store.newest(args.shop, args.limit)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in reviews], indent=2))
        return 0
    for r in reviews:
        item = r.item
        stars = f"{item.rating:g}/{item.rating_scale}" if item.rating is not None else "-"
        reading = _reading(r.reading)
        when = f"{item.moment:%Y-%m-%d}" if item.moment else "?"
        reply = f"  reply: {r.owner_reply.status.value}" if r.owner_reply else ""
        said = f"{(item.title or item.text)[:60]!r}" + (f" by {item.author}" if item.author else "")
        print(f"{when} {r.mention_id:<40} {stars:<5} {reading:<9} {said}{reply}")
    return 0


def _reading(reading: Any) -> str:
    """The model's label; ``stars`` for a review with no words (not read); ``flagged`` for a person."""
    if reading is None:
        return "unscored"
    if reading.sentiment is not None:
        return str(reading.sentiment.label)
    return "stars" if "no_text" in reading.flags else "flagged"


def cmd_reply(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    from services.reviews.domain.replies import post_reply

    built = _reviews(admin_of(args))
    try:
        reply = post_reply(built.store, built.deps.connectors, built.credentials, args.shop, args.review,
                           args.text, utcnow())  # fmt: skip
    except LookupError as e:
        raise ValueError(str(e)) from e
    print(f"{reply.status.value}{': ' + reply.detail if reply.detail else ''}")
    return 0 if reply.status.value == "posted" else 1


def cmd_webhook(admin_of: AdminFactory, args: argparse.Namespace) -> int:
    """The shop's review webhook secret (generic) or Trustpilot token: made once, rotated on request."""
    import base64
    import secrets as random_secrets

    admin = admin_of(args)
    if admin.shops.get(args.shop) is None:
        raise ValueError(f"no shop {args.shop!r} (add it with `cxloop shop add`)")
    built = _reviews(admin)
    source, key = ("trustpilot", "webhook_token") if args.trustpilot else ("webhook", "secret")
    current = dict(built.credentials.get(args.shop, source) or {})
    if key not in current or args.rotate:
        if key in current and source == "webhook":
            current["previous"] = current[key]  # accepted until the next rotation
        fresh = base64.b64encode(random_secrets.token_bytes(24)).decode()  # Standard Webhooks' whsec_ form
        current[key] = f"whsec_{fresh}" if source == "webhook" else random_secrets.token_urlsafe(32)
        built.credentials.put(args.shop, source, current)
    path = f"/reviews/{args.shop}/{source}"
    if source == "trustpilot":
        print(f"Trustpilot webhook URL: <ApiUrl>{path}?token={current[key]}")
    else:
        print(f"POST <ApiUrl>{path}  (signed as Standard Webhooks: webhook-id, -timestamp, -signature)")
        print(f"secret: {current[key]}")
    return 0


def add_commands(sub: Any, admin_of: AdminFactory) -> None:
    reviews = sub.add_parser("reviews", help="public reviews and mentions").add_subparsers(
        dest="sub", required=True
    )
    co = reviews.add_parser("connect", help="store a source's settings and credentials, then check them")
    co.add_argument("source", choices=PULLED)
    co.add_argument("--shop", required=True)
    co.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a setting (account, location, query ...)"
    )
    co.add_argument(
        "--secret", action="append", metavar="KEY=VALUE", help="a credential (kept in Secrets Manager)"
    )
    co.add_argument("--every-minutes", type=int, default=30)
    co.add_argument("--no-check", action="store_true")
    co.set_defaults(func=lambda a: cmd_connect(admin_of, a))
    dc = reviews.add_parser("disconnect", help="forget a source's connection and credentials")
    dc.add_argument("source", choices=PULLED)
    dc.add_argument("--shop", required=True)
    dc.set_defaults(func=lambda a: cmd_disconnect(admin_of, a))
    st = reviews.add_parser("status", help="each source's last pull, next pull and health")
    st.add_argument("--shop", required=True)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=lambda a: cmd_status(admin_of, a))
    pl = reviews.add_parser("pull", help="pull now (all of the shop's sources, or one)")
    pl.add_argument("--shop", required=True)
    pl.add_argument("--source", choices=PULLED)
    pl.set_defaults(func=lambda a: cmd_pull(admin_of, a))
    im = reviews.add_parser("import", help="import reviews from a CSV file (idempotent)")
    im.add_argument("file")
    im.add_argument("--shop", required=True)
    im.add_argument("--source", required=True, help="where they come from: judgeme, yotpo, amazon ...")
    for name in ("text", "id", "rating", "date", "author", "title", "url"):
        im.add_argument(
            f"--{name}-column", help="default: recognised from Judge.me, Yotpo, Trustpilot, Google names"
        )
    im.set_defaults(func=lambda a: cmd_import(admin_of, a))
    ls = reviews.add_parser("list", help="the shop's reviews, newest first, with their reading")
    ls.add_argument("--shop", required=True)
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=lambda a: cmd_list(admin_of, a))
    wh = reviews.add_parser("webhook", help="the shop's review webhook secret (or Trustpilot token) and URL")
    wh.add_argument("--shop", required=True)
    wh.add_argument("--trustpilot", action="store_true", help="the token for Trustpilot's review webhooks")
    wh.add_argument("--rotate", action="store_true", help="a new secret; the previous one keeps working once")
    wh.set_defaults(func=lambda a: cmd_webhook(admin_of, a))
    rp = reviews.add_parser("reply", help="post a public reply through the source, where it allows one")
    rp.add_argument("--shop", required=True)
    rp.add_argument("--review", required=True, help="the review's id as `reviews list` shows it")
    rp.add_argument("--text", required=True)
    rp.set_defaults(func=lambda a: cmd_reply(admin_of, a))
