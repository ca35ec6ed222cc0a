"""Four past weeks of the Shopify demo shop and this week's, played during the demo through the
product's own doors, so that the dashboard it hands a key for shows a trend, cases, reviews and
customers at risk.

Survey answers are dated by the clock of the function that records them, so each past week is played
with the stack's clock moved to it (``time_machine``, this process only: the functions run here;
moto keeps the real time): that week's orders arrive as signed Shopify webhooks, are delivered, the
dispatcher sends their surveys, and the customers click a score (and write a comment) over HTTP, as
they would in the e-mail. Regulars who stopped ordering months ago arrive as webhooks with their
platform dates; the reviews are imported as ``cxloop reviews import`` would, with their own dates.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources as pkg
from typing import TYPE_CHECKING, Any

from cxloop.local.demo import DEMO_SHOPS, SCORE_LINK, deliveries, post, review_ingest
from cxloop.local.sinks import read_inbox
from cxloop.signing import webhook_headers
from shared.tenancy import Platform

if TYPE_CHECKING:
    from cxloop.local.stack import LocalStack

SHOP = DEMO_SHOPS[0]  # demo-shopify: the shop whose key the demo prints
FIRST_ORDER_ID = 830000000000000000
STAMP = "%Y-%m-%dT%H:%M:%SZ"
DETRACTOR = 6  # NPS 0-6


@dataclass
class Played:
    """What the history left behind, for the demo's summary."""

    orders: int = 0
    surveys: int = 0
    answers: list[int] = field(default_factory=list)
    reviews: int = 0


def history() -> dict[str, Any]:
    return json.loads(pkg.files("cxloop.local").joinpath("demo/history.json").read_text())  # type: ignore[no-any-return]


def _template(topic: str) -> dict[str, Any]:
    """The demo's own Shopify bodies (Maya's order) as the shape of every past order."""
    found = next(d for d in deliveries() if d["shop"] == SHOP.shop_id and d["topic"] == topic)
    body: dict[str, Any] = copy.deepcopy(found["body"])
    return body


def _order(n: int, who: dict[str, Any], placed: datetime, total: str) -> dict[str, Any]:
    body = _template("orders/create")
    email = f"{who['first']}.{who['last']}@example.com".lower()
    customer_id = FIRST_ORDER_ID + 500_000 + zlib.crc32(email.encode()) % 100_000
    body.update(id=FIRST_ORDER_ID + n, name=f"#{900 + n}", email=email, total_price=total,
                created_at=placed.strftime(STAMP), updated_at=placed.strftime(STAMP))  # fmt: skip
    body["customer"].update(id=customer_id, email=email, first_name=who["first"], last_name=who["last"],
                            updated_at=placed.strftime(STAMP))  # fmt: skip
    body["billing_address"].update(first_name=who["first"], last_name=who["last"])
    body["line_items"] = [{**body["line_items"][0], "price": total}]
    return body


def _delivered(
    order: dict[str, Any], n: int, shipped: datetime, delivered: datetime
) -> list[tuple[str, Any]]:
    fulfilled = copy.deepcopy(order)
    fulfillment = {**_template("orders/fulfilled")["fulfillments"][0], "id": 7000 + n,
                   "order_id": order["id"], "created_at": shipped.strftime(STAMP),
                   "updated_at": shipped.strftime(STAMP)}  # fmt: skip
    fulfilled.update(
        fulfillment_status="fulfilled", updated_at=shipped.strftime(STAMP), fulfillments=[fulfillment]
    )
    event = {"id": 90000 + n, "fulfillment_id": fulfillment["id"], "order_id": order["id"],
             "status": "delivered", "happened_at": delivered.strftime(STAMP),
             "estimated_delivery_at": None}  # fmt: skip
    return [("orders/fulfilled", fulfilled), ("fulfillment_events/create", event)]


def _send(stack: LocalStack, secret: str, topic: str, body: Any) -> None:
    raw = json.dumps(body).encode()
    event_id = f"demo-history-{topic}-{body['id']}"
    headers = webhook_headers(
        Platform.SHOPIFY, topic, raw, secret, SHOP.domain_for(Platform.SHOPIFY), event_id
    )
    status, text = post(f"{stack.api_url}/webhooks/shopify/{SHOP.shop_id}", raw, headers)
    if status != 200:
        raise RuntimeError(f"demo history: {topic} refused with {status}: {text[:200]}")


def _survey_links(stack: LocalStack, emails: set[str], wait_s: float = 20.0) -> dict[str, str]:
    """The score link of each survey e-mail sent to ``emails``, running the dispatcher (as its schedule
    would, only sooner) until each has one or the time is up."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and len(found) < len(emails):
        if stack.pump:
            stack.pump.fire("feedback-dispatcher")
        for _, mail in read_inbox(stack.config.state_dir / "mail"):
            to = str(mail.get("To", ""))
            email = next((e for e in emails - found.keys() if e in to), None)
            if email is None or ".invite@" not in str(mail.get("Message-ID", "")):
                continue
            text = mail.get_body(preferencelist=("plain",))
            links = SCORE_LINK.findall(text.get_content() if text else "")
            if links:
                found[email] = str(links[0][0])
        time.sleep(0.3)
    return found


def _answer(url: str, score: int, comment: str) -> None:
    """What the customer's clicks do: the score from the e-mail, then the comment form."""
    urllib.request.urlopen(f"{url}?score={score}", timeout=10).read()  # noqa: S310 - the local stack's page
    if not comment:
        return
    form = urllib.parse.urlencode({"comment": comment}).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10).read()  # noqa: S310


def _week(stack: LocalStack, secret: str, customers: list[dict[str, Any]], now: datetime, first: int,
          played: Played) -> None:  # fmt: skip
    """One past week, played at its own time: orders placed ten demo-days ago, delivered four ago (the
    survey is due), sent by the dispatcher, answered."""
    day = timedelta(seconds=stack.config.day)
    orders = []
    for i, who in enumerate(customers):
        n = first + i
        order = _order(n, who, now - 10 * day, "89.00")
        orders.append((order, who))
        for topic, body in [("orders/create", order), *_delivered(order, n, now - 8 * day, now - 4 * day)]:
            _send(stack, secret, topic, body)
            played.orders += topic == "orders/create"
    if stack.pump:  # last week's alerts go out in last week, not when the demo comes back to now
        stack.pump.fire("notifier-sender")
    links = _survey_links(stack, {order["email"] for order, _ in orders})
    played.surveys += len(links)
    for order, who in orders:
        if who["score"] is not None and order["email"] in links:
            _answer(links[order["email"]], who["score"], who["comment"])
            played.answers.append(who["score"])
    if any(who["score"] is not None and who["score"] <= DETRACTOR for who in customers):
        stack.wait_idle(15.0)  # a detractor's case opens this week, not the next


def _regulars(stack: LocalStack, secret: str, regulars: list[dict[str, Any]], now: datetime, first: int,
              played: Played) -> None:  # fmt: skip
    """Earlier orders: regulars who ordered every month or so for most of a year, then stopped, and
    some of the past weeks' customers, who had ordered before."""
    n = first
    for who in regulars:
        for days_ago, total in who["orders"]:
            _send(stack, secret, "orders/create", _order(n, who, now - timedelta(days=days_ago), total))
            played.orders += 1
            n += 1


def _reviews(stack: LocalStack, reviews: list[dict[str, Any]], now: datetime, played: Played) -> None:
    from services.reviews.domain.model import Source, SourceItem

    items = [SourceItem(source=Source.CSV, source_id=f"demo:{r['id']}", text=r["text"], rating=r["stars"],
                        rating_scale=5, published_at=now - timedelta(days=r["days_ago"]))
             for r in reviews]  # fmt: skip
    review_ingest(stack, SHOP.shop_id, items)
    played.reviews += len(items)


def play_history(stack: LocalStack, secret: str) -> Played:
    """The shop's past weeks, oldest first, each at its own time; then, back at now, the lapsed
    customers' orders and the older reviews (their cases open now, when they are imported)."""
    import time_machine

    data, played = history(), Played()
    now = datetime.now(tz=UTC)
    first = 1
    for week in sorted(data["weeks"], key=lambda w: -w["weeks_ago"]):
        at = now - timedelta(weeks=week["weeks_ago"])
        with time_machine.travel(at, tick=True):
            _week(stack, secret, week["customers"], datetime.now(tz=UTC), first, played)
        first += len(week["customers"])
    _regulars(stack, secret, data["regulars"], datetime.now(tz=UTC), 100, played)
    _reviews(stack, data["reviews"], datetime.now(tz=UTC), played)
    return played
