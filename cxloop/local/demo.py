"""The demo that ``cxloop run`` plays: three shops, a few orders, duplicates and late events."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from importlib import resources as pkg
from typing import TYPE_CHECKING, Any

from cxloop.admin import Admin
from cxloop.local.sinks import SlackSink, read_inbox
from cxloop.signing import webhook_headers
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore
from services.feedback.domain.surveys.programme import Brand, QuietHours, Rules, SurveyProgramme, SurveyType
from shared.events import FEEDBACK_SCORED
from shared.tenancy import BigCommerceApi, Platform, Shop

if TYPE_CHECKING:
    from cxloop.local.stack import LocalStack

DEMO_SHOPS = (
    Shop(
        shop_id="demo-shopify",
        name="Sandpiper Linen",
        platforms=(Platform.SHOPIFY,),
        domains={Platform.SHOPIFY: "sandpiper-linen.myshopify.com"},
        timezone="Europe/Lisbon",
        owner_email="owner@sandpiper.example",
    ),
    Shop(
        shop_id="demo-woo",
        name="Blue Kiln Pottery",
        platforms=(Platform.WOOCOMMERCE,),
        domains={Platform.WOOCOMMERCE: "https://bluekiln.example"},
        timezone="Europe/Lisbon",
        owner_email="owner@bluekiln.example",
    ),
    Shop(
        shop_id="demo-bigcommerce",
        name="Trailhead Gear",
        platforms=(Platform.BIGCOMMERCE,),
        domains={Platform.BIGCOMMERCE: "1001"},
        timezone="America/Denver",
        owner_email="owner@trailhead.example",
    ),
)


def demo_programme(shop: Shop, survey_type: SurveyType, follow_up: str | None) -> SurveyProgramme:
    """The defaults a shop gets, except quiet hours: the demo runs whatever the time of day."""
    domain = shop.shop_id.removeprefix("demo-")
    quiet: QuietHours | None = None
    return SurveyProgramme(
        survey_type=survey_type,
        follow_up_question=follow_up,
        timezone=shop.timezone,
        brand=Brand(
            name=shop.name,
            colour={"shopify": "#2f6f5e", "woo": "#1f4e9e", "bigcommerce": "#b4541a"}[domain],
            sender=f"hello@{domain}.example",
            reply_to=shop.owner_email,
        ),
        rules=Rules(quiet_hours=quiet),
    )


DEMO_PROGRAMMES = {
    "demo-shopify": (SurveyType.NPS, "What is the one thing we could do better?"),
    "demo-woo": (SurveyType.CSAT, None),
    "demo-bigcommerce": (SurveyType.CES, None),
}

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} ")


@dataclass(frozen=True)
class DemoClock:
    """Moves the demo data's timeline to now, compressed like the stack's days: a delivery three days
    after shipping lands three demo-days (seconds) after it, and the last event happens just now."""

    latest: datetime
    now: datetime
    day_seconds: float

    def shift(self, at: datetime) -> datetime:
        back = (self.latest - at).total_seconds() * self.day_seconds / 86400
        return self.now - timedelta(seconds=back)

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, str) and _ISO.match(value):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            naive = parsed.tzinfo is None
            moved = self.shift(parsed.replace(tzinfo=UTC) if naive else parsed).astimezone(UTC)
            # Microseconds: compressed, events minutes apart are milliseconds apart, and must stay
            # in order (their versions are their times).
            if naive:
                return moved.replace(tzinfo=None).isoformat(timespec="microseconds")
            return moved.isoformat(timespec="microseconds").replace("+00:00", "Z")
        if isinstance(value, str) and _RFC2822.match(value):
            return format_datetime(self.shift(parsedate_to_datetime(value)).astimezone(UTC))
        return value


def _times(value: Any) -> list[datetime]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _times(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v)]
    if isinstance(value, str) and _ISO.match(value):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return [parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)]
    if isinstance(value, str) and _RFC2822.match(value):
        return [parsedate_to_datetime(value)]
    return []


def demo_clock(day_seconds: float, now: datetime | None = None) -> DemoClock:
    latest = max(_times(deliveries()) + _times(bigcommerce_orders()))
    return DemoClock(
        latest=latest, now=(now or datetime.now(tz=UTC)) - timedelta(seconds=1), day_seconds=day_seconds
    )


def bigcommerce_orders() -> dict[str, Any]:
    return json.loads(pkg.files("cxloop.local").joinpath("demo/bigcommerce_api.json").read_text())  # type: ignore[no-any-return]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_for(stack: LocalStack) -> Admin:
    assert stack.resources is not None
    c = stack.clients
    return Admin(c["dynamodb"], c["sqs"], c["secretsmanager"], c["events"], stack.resources)


def seed(stack: LocalStack) -> dict[str, str]:
    admin = admin_for(stack)
    secrets = {}
    for shop in DEMO_SHOPS:
        api = None
        if Platform.BIGCOMMERCE in shop.platforms:
            api = BigCommerceApi(
                store_hash="demo1001",
                access_token="local-bigcommerce-token",  # noqa: S106
                base_url=f"{stack.api_url}/_local/bigcommerce",
            )
        stored = admin.add_shop(shop, bigcommerce_api=api)
        secrets[shop.shop_id] = stored.platforms[shop.platforms[0]].current
        survey_type, follow_up = DEMO_PROGRAMMES[shop.shop_id]
        programmes = DynamoProgrammeStore(admin.dynamodb, admin.resources.tables["shops"])
        programmes.put(shop.shop_id, demo_programme(shop, survey_type, follow_up))
        notify_demo(admin, shop, stack.api_url)
    return secrets


DEMO_HOOK = "demo-team"


def notify_demo(admin: Admin, shop: Shop, api_url: str) -> None:
    """Each demo owner hears of unhappy customers and bad reviews in one Slack workspace (the local sink)
    and by e-mail, at once rather than hourly, so the demo shows them within seconds."""
    from services.notifier.adapters.dynamo_settings import DynamoAlertSettings
    from services.notifier.domain.model import AlertSettings, Delivery, Destination, DestinationKind
    from shared.credentials import NOTIFIER, SecretsManagerCredentials

    hooks = SecretsManagerCredentials(admin.secretsmanager, admin.resources.prefix, area=NOTIFIER)
    hooks.put(shop.shop_id, "slack", {"team": f"{api_url}/_local/slack/{DEMO_HOOK}"})
    defaults = AlertSettings()
    settings = defaults.model_copy(
        update={
            "destinations": (
                Destination(name="team", kind=DestinationKind.SLACK),
                Destination(name="owner", kind=DestinationKind.EMAIL, address=shop.owner_email),
            ),
            "rules": tuple(r.model_copy(update={"delivery": Delivery.IMMEDIATE}) for r in defaults.rules),
        }
    )
    DynamoAlertSettings(admin.dynamodb, admin.resources.tables["shops"]).put(shop.shop_id, settings)


def deliveries() -> list[dict[str, Any]]:
    return json.loads(pkg.files("cxloop.local").joinpath("demo/deliveries.json").read_text())  # type: ignore[no-any-return]


def shops_present(stack: LocalStack) -> bool:
    """Whether this state already holds a demo shop (a demo ran here, perhaps cut short)."""
    return any(admin_for(stack).shops.get(shop.shop_id) is not None for shop in DEMO_SHOPS)


def run_demo(stack: LocalStack) -> None:
    started = datetime.now(tz=UTC).isoformat()
    secrets = seed(stack)
    clock = stack.demo_clock
    shops = {s.shop_id: s for s in DEMO_SHOPS}
    print("\nDemo shops (webhook URL, secret):")
    for shop in DEMO_SHOPS:
        platform = shop.platforms[0].value
        print(f"  {shop.name}\n    {stack.api_url}/webhooks/{platform}/{shop.shop_id}")
        print(f"    secret: {secrets[shop.shop_id]}")
    print("\nReplaying demo webhooks:")
    for d in deliveries():
        shop = shops[d["shop"]]
        platform = Platform(d["platform"])
        body = json.dumps(clock.apply(d["body"]) if clock else d["body"]).encode()
        headers = webhook_headers(
            platform, d["topic"], body, secrets[shop.shop_id], shop.domain_for(platform), d.get("event_id")
        )
        status, text = post(f"{stack.api_url}/webhooks/{platform.value}/{shop.shop_id}", body, headers)
        outcome = json.loads(text).get("status", text) if text.startswith("{") else text
        print(f"  {status} {outcome:<10} {platform.value:<12} {d['topic']:<26} {d.get('note', '')}")
    print("  ...and one with a forged signature:", end=" ")
    forged = webhook_headers(
        Platform.SHOPIFY,
        "orders/create",
        b"{}",
        "not-the-secret",
        shops["demo-shopify"].domain_for(Platform.SHOPIFY),
    )
    print(post(f"{stack.api_url}/webhooks/shopify/demo-shopify", b"{}", forged)[0])
    stack.wait_idle()
    admin = admin_for(stack)
    print("\nOrders as cxloop now holds them:")
    for shop in DEMO_SHOPS:
        for order in sorted(admin.orders(shop.shop_id), key=lambda o: o.order_id):
            delivered = order.delivered_at.isoformat() if order.delivered_at else "-"
            print(
                f"  {shop.shop_id:<17} {order.name or order.order_id:<7} {order.state:<10} "
                f"customer={order.first_name or '-':<6} delivered_at={delivered}"
            )
    show_surveys(stack, since=started)
    show_reviews(stack)
    show_history(stack, secrets["demo-shopify"])
    show_alerts(stack, since=started)
    show_dashboard(stack)
    print()


def show_history(stack: LocalStack, secret: str) -> None:
    """The Shopify shop's past weeks (see demo_history), played while this minute's alerts wait to go."""
    from cxloop.local.demo_history import play_history

    began = time.monotonic()
    played = play_history(stack, secret)
    scores = ", ".join(str(s) for s in played.answers)
    took = time.monotonic() - began
    print(f"\nThe past four weeks and this week of demo-shopify, each played at its own time ({took:.0f} s):")
    print(f"  {played.orders} orders by webhook (two regulars who stopped months ago among them),")
    print(f"  {played.surveys} surveys sent and answered {scores}; {played.reviews} older reviews imported")


def show_alerts(stack: LocalStack, since: str, wait_s: float = 90.0) -> None:
    """What reached the owner's Slack (the local sink) during this run: the detractor and the one-star
    review, each with a case and an approve link for the reply. Immediate alerts go when their minute
    is over, so this waits up to a minute and a half."""
    sink = SlackSink(stack.config.state_dir / "slack.jsonl")
    deadline = time.monotonic() + wait_s
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [
            str(m["payload"].get("text", ""))
            for m in sink.messages()
            if m["hook"] == DEMO_HOOK and m["received_at"] >= since
        ]
        if all(any(what in t for t in texts) for what in ("detractor", "negative review")):
            break
        time.sleep(0.5)
    print(
        f"\nAlerts in the owner's Slack ({stack.api_url}/_local/slack) and inbox (sent as their minute ends):"
    )
    for text in texts or ["(none yet)"]:
        print(f"  {text[:100]}")
    for row in cases_of(stack):
        print(f"  case {row}")
    print("Each alert has an approve link: it opens the case with a drafted reply to send or edit.")
    print("`cxloop cases --shop demo-shopify` lists a shop's cases, and")
    print("`cxloop digest --shop demo-shopify --preview digest.html` writes this week's digest.")


def show_dashboard(stack: LocalStack, shop_id: str = "demo-shopify") -> None:
    """A key for the owner's dashboard and API, issued as `cxloop keys issue` would, and what it opens."""
    from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
    from services.dashboard.domain import keys
    from services.notifier.bootstrap import notifier
    from services.notifier.domain import retention_snapshot
    from services.notifier.domain.churn_refresh import refresh

    admin = admin_for(stack)
    stack.wait_idle()  # every order and answer the demo sent has reached the notifier
    # What the daily function (and `cxloop churn list`) does: every customer's risk from their orders.
    at_risk = refresh(notifier().intake(), shop_id, datetime.now(tz=UTC))
    # ...and its retention snapshot, which the dashboard's Retention page reads (decision 119)
    retention_snapshot.refresh(notifier().store, notifier().retention(), shop_id, datetime.now(tz=UTC))
    _, presented = keys.issue(
        DynamoKeyStore(admin.dynamodb, admin.resources.tables["shops"]), shop_id, "demo", datetime.now(tz=UTC)
    )
    status, body = get_json(f"{stack.api_url}/api/v1/overview", presented)
    total = body.get("metrics", {}).get("total", {}) if status == 200 else {}
    print(f"\nThe owner's dashboard: {stack.api_url}/dashboard  (log in with {shop_id}'s API key)")
    print(f"  key: {presented}")
    print(
        f"  REST API: {stack.api_url}/api/v1 (Authorization: Bearer <key>), described at /api/v1/openapi.json"
    )
    print(f"  GET /api/v1/overview -> {status}: {total.get('responses', 0)} answer(s), "
          f"{total.get('reviews', 0)} review(s) in the last 12 weeks")  # fmt: skip
    print(f"  {len(at_risk)} customer(s) at risk of not coming back (as the daily refresh found them)")


def get_json(url: str, key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {key}"})  # noqa: S310 (the stack's URL)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


def cases_of(stack: LocalStack) -> list[str]:
    from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore

    assert stack.resources is not None
    store = DynamoNotifierStore(stack.clients["dynamodb"], stack.resources.tables["notifier"])
    return [
        f"{shop.shop_id:<17} {c.case_id:<36} {c.status.value:<7} reply {c.reply_state.value}"
        for shop in DEMO_SHOPS
        for c in sorted(store.cases(shop.shop_id), key=lambda c: c.opened_at)
    ]


def show_surveys(stack: LocalStack, since: str = "", wait_s: float = 45.0) -> None:
    """Wait for the dispatcher's first e-mails (days are seconds here) and say where to answer them."""
    day = stack.config.day
    print(f"\nSurveys: a day lasts {day:g} s here, so each delivered order's survey goes out")
    print("3 demo-days after delivery (7 after shipping when no delivery is reported), with one reminder.")
    root = stack.config.state_dir / "mail"
    deadline = time.monotonic() + wait_s
    mails: list[Any] = []
    while time.monotonic() < deadline:
        # First e-mails only (a reminder may come before the slower WooCommerce survey).
        # This run's first e-mails only: the inbox folder keeps earlier runs' mail.
        mails = [m for _, m in read_inbox(root) if ".invite@" in str(m.get("Message-ID", ""))
                 and str(m.get("X-Local-Received-At", "")) >= since]  # fmt: skip
        if len(mails) >= 3:
            break
        time.sleep(1.0)
    for m in mails:
        print(f"  sent to {m['To']}: {m['Subject']}")
    if mails:
        print(f"Open {stack.api_url}/_local/inbox and click a score: the answer page takes a comment,")
        print("and `cxloop report --shop demo-shopify --since 1d` shows the NPS it makes.")
        answer_one(stack, mails)
    else:
        print(f"  none yet; they will appear at {stack.api_url}/_local/inbox")


DEMO_CUSTOMER = "maya.lopez@example.net"
DEMO_COMMENT = "Fast delivery, but the seams ripped after one wash."
SCORE_LINK = re.compile(r"(https?://\S+/r/[\w.-]+)\?score=(\d+)")


def answer_one(stack: LocalStack, mails: list[Any], wait_s: float = 30.0) -> None:
    """Answer one survey as a customer would (a low score, a comment) and show the model's reading.
    Only this run's links count: the state folder's inbox may hold mail of earlier runs."""
    links = []
    # Maya's first: hers is demo-shopify's, the shop whose dashboard key the demo prints.
    for mail in sorted(mails, key=lambda m: DEMO_CUSTOMER not in str(m.get("To", ""))):
        text = mail.get_body(preferencelist=("plain",))
        links += [
            u
            for u, _ in SCORE_LINK.findall(text.get_content() if text else "")
            if u.startswith(stack.api_url)
        ]
    if not links:
        return
    url = links[0]
    urllib.request.urlopen(f"{url}?score=2", timeout=10).read()  # noqa: S310 - the local stack's own page
    form = urllib.parse.urlencode({"comment": DEMO_COMMENT}).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10).read()  # noqa: S310
    print(f'\nMaya answered 2 with "{DEMO_COMMENT}"; the scoring function reads it as:')
    reading = wait_for_reading(stack, wait_s)
    if reading is None:
        print(f"  (not scored within {wait_s:g} s; see {stack.config.state_dir / 'functions.log'})")
        return
    sentiment = reading.get("sentiment") or {}
    print(
        f"  sentiment {sentiment.get('label')} ({sentiment.get('score'):+.2f}), "
        f"language {reading['language']}"
    )
    for theme in reading.get("themes", []):
        print(f"  theme {theme['theme']:<18} {theme['sentiment']} ({theme['score']:+.2f})")


def wait_for_reading(stack: LocalStack, wait_s: float) -> dict[str, Any] | None:
    """The first FeedbackScored seen on the bus (the local tap queue gets every cxloop event)."""
    assert stack.resources is not None and stack.resources.tap_queue_url
    sqs, url = stack.clients["sqs"], stack.resources.tap_queue_url
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            event = json.loads(m["Body"])
            if event.get("detail-type") == FEEDBACK_SCORED:
                data: dict[str, Any] = event["detail"]["data"]
                return data
    return None


DEMO_REVIEWS = (
    ("r1", "Arrived in two days and the quality is lovely.", 5),
    ("r2", "The zip broke after a week and nobody answered my emails.", 1),
    ("r3", "Die Größe passt perfekt, gerne wieder.", 5),
)


def review_ingest(stack: LocalStack, shop_id: str, items: list[Any]) -> Any:
    """``items`` (reviews.domain SourceItems) stored and announced as `cxloop reviews import` does;
    returns the reviews composition, to read them back."""
    from services.reviews.bootstrap import build_reviews
    from services.reviews.domain.ingest import ingest
    from shared.credentials import SecretsManagerCredentials
    from shared.settings import ReviewsSettings

    assert stack.resources is not None
    prefix = stack.resources.prefix
    settings = ReviewsSettings(
        reviews_table=stack.resources.tables["reviews"],
        event_bus_name=stack.resources.bus_name,
        secrets_prefix=prefix,
    )
    credentials = SecretsManagerCredentials(stack.clients["secretsmanager"], prefix)
    built = build_reviews(settings, dynamodb=stack.clients["dynamodb"], events=stack.clients["events"],
                          credentials=credentials)  # fmt: skip
    ingest(built.store, built.deps.mentions, shop_id, items, datetime.now(tz=UTC))
    return built


def show_reviews(stack: LocalStack, wait_s: float = 30.0) -> None:
    """Three reviews imported for the Shopify shop (as `cxloop reviews import` would), then read back
    with the scoring service's reading once the pump has carried them through."""
    from services.reviews.domain.model import Source, SourceItem

    shop = "demo-shopify"
    items = [SourceItem(source=Source.CSV, source_id=f"demo:{rid}", text=text, rating=stars, rating_scale=5)
             for rid, text, stars in DEMO_REVIEWS]  # fmt: skip
    built = review_ingest(stack, shop, items)
    print("\nReviews imported for demo-shopify (`cxloop reviews import`), read by the scoring function:")
    deadline = time.monotonic() + wait_s
    reviews = []
    while time.monotonic() < deadline:
        reviews = [built.store.get(shop, f"csv:demo:{rid}") for rid, _, _ in DEMO_REVIEWS]
        if all(r is not None and r.reading is not None for r in reviews):
            break
        time.sleep(0.5)
    for review in reviews:
        if review is None:
            continue
        reading = review.reading
        if reading is None:
            label = "not scored yet"
        elif reading.sentiment is None:
            label = f"not scored: {reading.language}, {', '.join(reading.flags)}"
        else:
            themes = ", ".join(f"{t.theme} {t.sentiment}" for t in reading.themes) or "no theme"
            label = f"{reading.sentiment.label} ({themes})"
        print(f"  {review.item.rating:g}★ {review.item.text[:58]!r:<62} {label}")
    print("`cxloop reviews list --shop demo-shopify` shows them; `cxloop reviews connect` adds live sources.")
