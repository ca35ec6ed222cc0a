"""The deployed shape of cxloop, as data: tables, queues, the bus, functions and their triggers.

Both the CDK app (infra/) and the local stack (cxloop/local/) are built from this one description,
so what runs on a laptop is what runs in AWS. Pure data: no boto3, no CDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import events as ev


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str
    # Attributes projected besides the keys: () means KEYS_ONLY, None means ALL.
    include: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    logical: str
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = "ttl"


@dataclass(frozen=True)
class Queue:
    logical: str
    visibility_timeout_s: int
    max_receive_count: int
    # Local stack only: a failed message becomes visible again after this many seconds instead of the
    # full visibility timeout, so retries and the DLQ can be watched in a demo.
    local_retry_delay_s: int = 2


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway HTTP API syntax: /webhooks/{platform}/{shop_id}


@dataclass(frozen=True)
class QueueTrigger:
    queue: str
    batch_size: int = 10
    max_batching_window_s: int = 0


@dataclass(frozen=True)
class Schedule:
    expression: str  # rate(5 minutes)
    every_s: int  # the same, in seconds, for the local pump


@dataclass(frozen=True)
class Function:
    logical: str
    service: str
    handler: str  # module:function, importable from the package root
    memory_mb: int = 256
    timeout_s: int = 10
    routes: tuple[Route, ...] = ()
    queue: QueueTrigger | None = None
    schedule: Schedule | None = None
    # What the function may touch: (resource logical name, access) with access in read/write/send/...
    grants: tuple[tuple[str, str], ...] = ()
    environment: tuple[str, ...] = field(default_factory=tuple)
    # "zip": the shared code asset on the Python runtime. "image": a container image built from
    # infra/images/<service>.Dockerfile, for a function whose dependencies (spaCy) are too big for a zip.
    package: str = "zip"
    # At most this many instances at once (None: no limit). The notifier's sender is one, so its pacing
    # of each Slack webhook is never undone by a second sender running beside it.
    reserved_concurrency: int | None = None
    # The events it puts on the cxloop bus (shared/events.py), for docs/events.md.
    publishes: tuple[str, ...] = ()
    # A zip function's third-party packages: the names of LAYERS it gets on top of RUNTIME_LAYER, sized
    # to what its handler imports (tests/infra/test_layers.py derives that from the imports).
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule that feeds a queue: on the cxloop bus, or on the account's default bus for
    events AWS services publish there (SES can only send its events to the default bus)."""

    logical: str
    detail_types: tuple[str, ...]
    queue: str
    source: str | None = None  # e.g. aws.ses
    default_bus: bool = False


SHOPS = Table("shops")
FEEDBACK = Table(
    "feedback",
    indexes=(
        # Overloaded lookup index: raw events by resource, orders by customer.
        Index("gsi1", "gsi1pk", "gsi1sk", include=()),
        # Sparse: raw events not yet processed (PENDING), answers not yet announced (PUBLISH).
        Index("pending", "pending_pk", "pending_sk", include=()),
        # Sparse: survey invitations with a send due (first e-mail, reminder, retry or lease), with the
        # whole invitation projected so the dispatcher reads nothing else.
        Index("due", "due_pk", "due_sk", include=None),
    ),
)
REVIEWS = Table(
    "reviews",
    indexes=(
        # A shop's reviews, newest first.
        Index("gsi1", "gsi1pk", "gsi1sk", include=()),
        # Sparse: reviews stored but not yet announced as MentionIngested.
        Index("pending", "pending_pk", "pending_sk", include=()),
        # Sparse: every shop's source connections, whole, for the puller.
        Index("sources", "sources_pk", "sources_sk", include=None),
    ),
)
NOTIFIER = Table(
    "notifier",
    indexes=(
        # A shop's answers, mentions and cases by time (digest, lists), whole.
        Index("gsi1", "gsi1pk", "gsi1sk", include=None),
        # Sparse: alert batches and automatic replies that are due, for the sender.
        Index("due", "due_pk", "due_sk", include=None),
        # Sparse: a person's answers, cases and order history, for erasure.
        Index("customer", "cust_pk", "cust_sk", include=()),
        # Overloaded, whole: the dashboard's feed (a shop's answers and mentions by time) and the customers
        # at risk of churning, riskiest first. One index: a deployed table gains one index per update.
        Index("feed", "feed_pk", "feed_sk", include=None),
    ),
)
TABLES = (SHOPS, FEEDBACK, REVIEWS, NOTIFIER)

FEEDBACK_EVENTS = Queue("feedback-events", visibility_timeout_s=60, max_receive_count=5)
# SES bounce and complaint notifications (EventBridge default bus, or an SNS topic subscribed to it).
MAIL_EVENTS = Queue("mail-events", visibility_timeout_s=60, max_receive_count=5)
# Survey comments and mentions to score (from the bus).
SCORING_EVENTS = Queue("scoring-events", visibility_timeout_s=120, max_receive_count=5)
# The scoring service's readings of survey answers, kept on the invitations (the feedback service owns them).
FEEDBACK_READINGS = Queue("feedback-readings", visibility_timeout_s=60, max_receive_count=5)
# What the reviews service hears from the bus: readings of its reviews, shops erased.
REVIEWS_EVENTS = Queue("reviews-events", visibility_timeout_s=60, max_receive_count=5)
# What the notifier hears from the bus: answers, readings, orders, sends, unsubscribes, erasures.
NOTIFIER_EVENTS = Queue("notifier-events", visibility_timeout_s=60, max_receive_count=5)
QUEUES = (FEEDBACK_EVENTS, MAIL_EVENTS, SCORING_EVENTS, FEEDBACK_READINGS, REVIEWS_EVENTS, NOTIFIER_EVENTS)

BUS = "bus"


@dataclass(frozen=True)
class Layer:
    """A Lambda layer of third-party distributions, at the versions of constraints.txt (with what they
    require, less what RUNTIME_LAYER already ships)."""

    name: str
    distributions: tuple[str, ...]


# Every zip function: what each handler imports. boto3 too: the runtime's own boto3 is not what we test.
RUNTIME_LAYER = Layer("runtime", ("aws-lambda-powertools", "pydantic", "boto3", "urllib3"))
MAIL_LAYER = "mail"
CRYPTO_LAYER = "crypto"
SLACK_LAYER = "slack"
CHARTS_LAYER = "charts"
LAYERS: dict[str, Layer] = {
    # jinja2 renders e-mails and pages; tzdata backs zoneinfo (the Lambda OS may lack tz data).
    MAIL_LAYER: Layer(MAIL_LAYER, ("jinja2", "tzdata")),
    # App Store Connect's ES256 tokens (review sources).
    CRYPTO_LAYER: Layer(CRYPTO_LAYER, ("cryptography",)),
    # Block Kit messages to Slack incoming webhooks.
    SLACK_LAYER: Layer(SLACK_LAYER, ("slack-sdk",)),
    # The weekly digest's charts (with numpy, Pillow, fonttools): only the daily function.
    CHARTS_LAYER: Layer(CHARTS_LAYER, ("matplotlib",)),
}
FEEDBACK_LAYERS = (MAIL_LAYER,)
REVIEWS_LAYERS = (CRYPTO_LAYER,)
NOTIFIER_LAYERS = (MAIL_LAYER, SLACK_LAYER)

# Environment variable names each function gets, resolved by infra or the local stack.
ENV_SHOPS_TABLE = "CXLOOP_SHOPS_TABLE"
ENV_FEEDBACK_TABLE = "CXLOOP_FEEDBACK_TABLE"
ENV_EVENTS_QUEUE_URL = "CXLOOP_EVENTS_QUEUE_URL"
ENV_EVENTS_DLQ_URL = "CXLOOP_EVENTS_DLQ_URL"
ENV_EVENT_BUS = "CXLOOP_EVENT_BUS"
ENV_SECRETS_PREFIX = "CXLOOP_SECRETS_PREFIX"
# Surveys: where the links in e-mails point (the HTTP API's https URL), how mail leaves, and the length
# of a rule's "day" (86400; the local demo compresses it).
ENV_PUBLIC_URL = "CXLOOP_PUBLIC_URL"
ENV_MAIL_TRANSPORT = "CXLOOP_MAIL_TRANSPORT"
ENV_SMTP_HOST = "CXLOOP_SMTP_HOST"
ENV_SMTP_PORT = "CXLOOP_SMTP_PORT"
ENV_SES_CONFIGURATION_SET = "CXLOOP_SES_CONFIGURATION_SET"
ENV_DAY_SECONDS = "CXLOOP_DAY_SECONDS"
ENV_REVIEWS_TABLE = "CXLOOP_REVIEWS_TABLE"
ENV_NOTIFIER_TABLE = "CXLOOP_NOTIFIER_TABLE"
ENV_NOTIFIER_SENDER = "CXLOOP_NOTIFIER_SENDER"

# Set on every function, in AWS and locally: pydantic skips scanning installed distributions for
# plugins at import (part of the intake's cold start).
RUNTIME_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

WEBHOOK_ROUTE = Route("POST", "/webhooks/{platform}/{shop_id}")
ANSWER_ROUTES = (
    Route("GET", "/r/{token}"),
    Route("POST", "/r/{token}"),
    Route("GET", "/u/{token}"),
    Route("POST", "/u/{token}"),
)
FEEDBACK_ENV = (ENV_SHOPS_TABLE, ENV_FEEDBACK_TABLE, ENV_EVENTS_QUEUE_URL, ENV_EVENT_BUS, ENV_SECRETS_PREFIX)
SURVEY_ENV = (*FEEDBACK_ENV, ENV_PUBLIC_URL, ENV_DAY_SECONDS)
MAIL_ENV = (ENV_MAIL_TRANSPORT, ENV_SMTP_HOST, ENV_SMTP_PORT, ENV_SES_CONFIGURATION_SET)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "feedback-webhooks",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.webhooks:handler",
        memory_mb=512,
        timeout_s=5,
        routes=(WEBHOOK_ROUTE,),
        grants=(("shops", "read"), ("feedback", "write"), ("feedback-events", "send"), ("secrets", "read")),
        environment=(ENV_SHOPS_TABLE, ENV_FEEDBACK_TABLE, ENV_EVENTS_QUEUE_URL, ENV_SECRETS_PREFIX),
    ),
    Function(
        "feedback-events",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.events:handler",
        memory_mb=512,
        timeout_s=30,
        queue=QueueTrigger("feedback-events", batch_size=10),
        grants=(
            ("shops", "write"),
            ("feedback", "write"),
            ("bus", "put"),
            ("secrets", "read"),
            ("secrets", "delete"),
            # A permanent defect goes to the queue's dead-letter queue at once (decision 70).
            ("feedback-events", "dead-letter"),
        ),
        environment=(*FEEDBACK_ENV, ENV_DAY_SECONDS, ENV_EVENTS_DLQ_URL),
        publishes=(ev.ORDER_RECORDED, ev.CUSTOMER_ERASED, ev.CUSTOMER_DATA_EXPORTED, ev.SHOP_ERASED),
    ),
    Function(
        "feedback-sweeper",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.sweeper:handler",
        timeout_s=60,
        schedule=Schedule("rate(5 minutes)", every_s=300),
        grants=(("shops", "read"), ("feedback", "write"), ("feedback-events", "send"), ("bus", "put")),
        environment=FEEDBACK_ENV,
        publishes=(ev.RESPONSE_RECORDED,),
    ),
    Function(
        "feedback-dispatcher",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.dispatcher:handler",
        memory_mb=512,
        timeout_s=60,
        schedule=Schedule("rate(1 minute)", every_s=60),
        grants=(
            ("shops", "read"),
            ("feedback", "write"),
            ("link-keys", "read"),
            ("ses", "send"),
            ("bus", "put"),
        ),
        environment=(*SURVEY_ENV, *MAIL_ENV),
        publishes=(ev.SURVEYS_SENT,),
    ),
    Function(
        "feedback-answers",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.answers:handler",
        timeout_s=10,
        routes=ANSWER_ROUTES,
        grants=(("shops", "read"), ("feedback", "write"), ("link-keys", "read"), ("bus", "put")),
        environment=SURVEY_ENV,
        publishes=(ev.RESPONSE_RECORDED, ev.CONTACT_SUPPRESSED),
    ),
    Function(
        "scoring-consumer",
        service="scoring",
        handler="services.scoring.handlers.consumer:handler",
        # Lambda's CPU share grows with memory: 1,769 MB is one full vCPU, the model's speed.
        memory_mb=1769,
        timeout_s=60,
        queue=QueueTrigger("scoring-events", batch_size=50, max_batching_window_s=5),
        grants=(("shops", "read"), ("bus", "put")),
        environment=(ENV_SHOPS_TABLE, ENV_EVENT_BUS),
        package="image",
        publishes=(ev.FEEDBACK_SCORED,),
    ),
    Function(
        "reviews-puller",
        service="reviews",
        layers=REVIEWS_LAYERS,
        handler="services.reviews.handlers.puller:handler",
        timeout_s=300,
        # Each connection has its own schedule (every_s, default 30 min); this run pulls those due.
        schedule=Schedule("rate(5 minutes)", every_s=300),
        grants=(("reviews", "write"), ("bus", "put"), ("review-credentials", "read")),
        environment=(ENV_REVIEWS_TABLE, ENV_EVENT_BUS, ENV_SECRETS_PREFIX),
        publishes=(ev.MENTION_INGESTED, ev.SOURCE_FAILING, ev.SOURCE_RECOVERED),
    ),
    Function(
        "reviews-webhooks",
        service="reviews",
        layers=REVIEWS_LAYERS,
        handler="services.reviews.handlers.webhooks:handler",
        timeout_s=10,
        routes=(Route("POST", "/reviews/{shop_id}/{source}"),),
        grants=(("reviews", "write"), ("bus", "put"), ("review-credentials", "read")),
        environment=(ENV_REVIEWS_TABLE, ENV_EVENT_BUS, ENV_SECRETS_PREFIX),
        publishes=(ev.MENTION_INGESTED,),
    ),
    Function(
        "reviews-events",
        service="reviews",
        layers=REVIEWS_LAYERS,
        handler="services.reviews.handlers.events:handler",
        timeout_s=30,
        queue=QueueTrigger("reviews-events", batch_size=10),
        grants=(("reviews", "write"), ("review-credentials", "delete"), ("bus", "put")),
        environment=(ENV_REVIEWS_TABLE, ENV_EVENT_BUS, ENV_SECRETS_PREFIX),
        publishes=(ev.REVIEW_REPLY_RESULT,),
    ),
    Function(
        "feedback-readings",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.readings:handler",
        timeout_s=30,
        queue=QueueTrigger("feedback-readings", batch_size=10),
        grants=(("feedback", "write"),),
        environment=FEEDBACK_ENV,
    ),
    Function(
        "feedback-mail-events",
        service="feedback",
        layers=FEEDBACK_LAYERS,
        handler="services.feedback.handlers.mail_events:handler",
        timeout_s=30,
        queue=QueueTrigger("mail-events", batch_size=10),
        # The bus: ContactSuppressed, so the notifier never replies to a bounced or complaining address.
        grants=(("feedback", "write"), ("bus", "put")),
        environment=FEEDBACK_ENV,
        publishes=(ev.CONTACT_SUPPRESSED,),
    ),
)

NOTIFIER_ENV = (
    ENV_NOTIFIER_TABLE,
    ENV_SHOPS_TABLE,
    ENV_EVENT_BUS,
    ENV_SECRETS_PREFIX,
    ENV_PUBLIC_URL,
    ENV_NOTIFIER_SENDER,
)
NOTIFIER_FUNCTIONS = (
    Function(
        "notifier-events",
        service="notifier",
        layers=NOTIFIER_LAYERS,
        handler="services.notifier.handlers.events:handler",
        timeout_s=30,
        queue=QueueTrigger("notifier-events", batch_size=10),
        grants=(
            ("notifier", "write"),
            ("shops", "read"),
            ("link-keys", "read"),
            ("notifier-secrets", "delete"),
        ),
        environment=NOTIFIER_ENV,
    ),
    Function(
        "notifier-sender",
        service="notifier",
        layers=NOTIFIER_LAYERS,
        handler="services.notifier.handlers.sender:handler",
        timeout_s=120,
        # One run at a time: the per-webhook pace holds across batches.
        schedule=Schedule("rate(1 minute)", every_s=60),
        reserved_concurrency=1,
        grants=(("notifier", "write"), ("shops", "read"), ("notifier-secrets", "read"), ("ses", "send")),
        environment=(*NOTIFIER_ENV, *MAIL_ENV),
    ),
    Function(
        "notifier-actions",
        service="notifier",
        layers=NOTIFIER_LAYERS,
        handler="services.notifier.handlers.actions:handler",
        timeout_s=15,
        routes=(Route("GET", "/n/{token}"), Route("POST", "/n/{token}")),
        grants=(
            ("notifier", "write"),
            ("shops", "read"),
            ("link-keys", "read"),
            ("ses", "send"),
            ("bus", "put"),
        ),
        environment=(*NOTIFIER_ENV, *MAIL_ENV),
        publishes=(ev.REVIEW_REPLY_REQUESTED,),
    ),
    Function(
        "notifier-daily",
        service="notifier",
        layers=(*NOTIFIER_LAYERS, CHARTS_LAYER),
        handler="services.notifier.handlers.daily:handler",
        memory_mb=1024,
        timeout_s=600,
        # Churn risk refreshed daily; on Mondays, the weekly digest too.
        schedule=Schedule("rate(1 day)", every_s=86400),
        grants=(("notifier", "write"), ("shops", "read"), ("notifier-secrets", "read"), ("ses", "send")),
        environment=(*NOTIFIER_ENV, *MAIL_ENV),
    ),
)
FUNCTIONS = FUNCTIONS + NOTIFIER_FUNCTIONS

DASHBOARD_GRANTS = (
    ("notifier", "write"),  # the read model; case actions
    ("shops", "write"),  # settings; API keys are read here (the CLI issues them); test-send counts
    ("feedback", "write"),  # the suppression log; erasure
    ("ses", "send"),  # a reply sent from a case; the survey editor's test e-mail
    ("bus", "put"),  # CustomerErased; a public reply for the reviews service
)
DASHBOARD_ENV = (*NOTIFIER_ENV, *MAIL_ENV, ENV_FEEDBACK_TABLE)
DASHBOARD_FUNCTIONS = (
    Function(
        "dashboard-api",
        service="dashboard",
        layers=NOTIFIER_LAYERS,
        handler="services.dashboard.handlers.api:handler",
        memory_mb=512,
        timeout_s=29,  # API Gateway's own limit
        routes=tuple(Route(m, "/api/v1/{proxy+}") for m in ("GET", "POST", "PUT")),
        grants=DASHBOARD_GRANTS,
        environment=DASHBOARD_ENV,
        publishes=(ev.CUSTOMER_ERASED, ev.REVIEW_REPLY_REQUESTED),
    ),
    Function(
        "dashboard-pages",
        service="dashboard",
        layers=NOTIFIER_LAYERS,
        handler="services.dashboard.handlers.pages:handler",
        memory_mb=512,
        timeout_s=29,
        routes=(
            Route("GET", "/dashboard"),
            Route("GET", "/dashboard/{proxy+}"),
            Route("POST", "/dashboard/{proxy+}"),
        ),
        # Sessions and CSRF tokens are signed with the link keys.
        grants=(*DASHBOARD_GRANTS, ("link-keys", "read")),
        environment=DASHBOARD_ENV,
        publishes=(ev.REVIEW_REPLY_REQUESTED,),
    ),
)
FUNCTIONS = FUNCTIONS + DASHBOARD_FUNCTIONS

EVENT_RULES: tuple[EventRule, ...] = (
    EventRule(
        "scoring-inputs", detail_types=(ev.RESPONSE_RECORDED, ev.MENTION_INGESTED), queue="scoring-events"
    ),
    EventRule(
        "scored-answers",
        detail_types=(ev.FEEDBACK_SCORED,),
        queue="feedback-readings",
        source="cxloop.scoring",
    ),
    EventRule(
        "scored-mentions", detail_types=(ev.FEEDBACK_SCORED,), queue="reviews-events", source="cxloop.scoring"
    ),
    EventRule(
        "erased-shops", detail_types=(ev.SHOP_ERASED,), queue="reviews-events", source="cxloop.feedback"
    ),
    EventRule("review-replies", detail_types=(ev.REVIEW_REPLY_REQUESTED,), queue="reviews-events"),
    EventRule(
        "notifier-inputs",
        detail_types=(
            ev.RESPONSE_RECORDED,
            ev.FEEDBACK_SCORED,
            ev.ORDER_RECORDED,
            ev.SURVEYS_SENT,
            ev.CONTACT_SUPPRESSED,
            ev.SOURCE_FAILING,
            ev.SOURCE_RECOVERED,
            ev.REVIEW_REPLY_RESULT,
            ev.CUSTOMER_ERASED,
            ev.SHOP_ERASED,
        ),
        queue="notifier-events",
    ),
    EventRule(
        "ses-feedback",
        detail_types=ev.AWS_EVENTS,
        queue="mail-events",
        source="aws.ses",
        default_bus=True,
    ),
)

# Publishers that are not functions: AWS itself, and the operator's CLI (cxloop customer erase).
OTHER_PUBLISHERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aws.ses", ev.AWS_EVENTS),
    ("cxloop CLI", (ev.CUSTOMER_ERASED,)),
)
# Published with no consumer in cxloop, on purpose: why.
UNCONSUMED: dict[str, str] = {
    ev.CUSTOMER_DATA_EXPORTED: "a record of a GDPR export on the bus; e-mailing it is not built yet",
}


def physical(prefix: str, logical: str) -> str:
    """The AWS name of a resource: ``cxloop-feedback``, ``cxloop-feedback-events-dlq``."""
    return f"{prefix}-{logical}"


def dlq_name(prefix: str, queue: Queue) -> str:
    return physical(prefix, f"{queue.logical}-dlq")


def secret_name(prefix: str, shop_id: str) -> str:
    return f"{prefix}/shops/{shop_id}/webhooks"


def link_keys_secret(prefix: str) -> str:
    """The keys that sign survey and unsubscribe links: ``{"signing_key": "..."}`` as the stack
    generates it, and/or ``{"keys": [hex, ...]}`` (see shared/link_keys.py)."""
    return f"{prefix}/surveys/link-keys"


def function(logical: str) -> Function:
    for fn in FUNCTIONS:
        if fn.logical == logical:
            return fn
    raise KeyError(logical)


def queue(logical: str) -> Queue:
    for q in QUEUES:
        if q.logical == logical:
            return q
    raise KeyError(logical)
