"""The deployed shape of cxloop, as data: tables, queues, the bus, functions and their triggers.

Both the CDK app (infra/) and the local stack (cxloop/local/) are built from this one description,
so what runs on a laptop is what runs in AWS. Pure data: no boto3, no CDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule on the cxloop bus that feeds a queue."""

    logical: str
    detail_types: tuple[str, ...]
    queue: str


SHOPS = Table("shops")
FEEDBACK = Table(
    "feedback",
    indexes=(
        # Overloaded lookup index: raw events by resource, orders by customer.
        Index("gsi1", "gsi1pk", "gsi1sk", include=()),
        # Sparse: only raw events not yet processed carry these attributes.
        Index("pending", "pending_pk", "pending_sk", include=()),
    ),
)
TABLES = (SHOPS, FEEDBACK)

FEEDBACK_EVENTS = Queue("feedback-events", visibility_timeout_s=60, max_receive_count=5)
QUEUES = (FEEDBACK_EVENTS,)

BUS = "bus"

# Environment variable names each function gets, resolved by infra or the local stack.
ENV_SHOPS_TABLE = "CXLOOP_SHOPS_TABLE"
ENV_FEEDBACK_TABLE = "CXLOOP_FEEDBACK_TABLE"
ENV_EVENTS_QUEUE_URL = "CXLOOP_EVENTS_QUEUE_URL"
ENV_EVENT_BUS = "CXLOOP_EVENT_BUS"
ENV_SECRETS_PREFIX = "CXLOOP_SECRETS_PREFIX"

# Set on every function, in AWS and locally: pydantic skips scanning installed distributions for
# plugins at import (part of the intake's cold start).
RUNTIME_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}

WEBHOOK_ROUTE = Route("POST", "/webhooks/{platform}/{shop_id}")
FEEDBACK_ENV = (ENV_SHOPS_TABLE, ENV_FEEDBACK_TABLE, ENV_EVENTS_QUEUE_URL, ENV_EVENT_BUS, ENV_SECRETS_PREFIX)

FUNCTIONS = (
    Function(
        "feedback-webhooks",
        service="feedback",
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
        ),
        environment=FEEDBACK_ENV,
    ),
    Function(
        "feedback-sweeper",
        service="feedback",
        handler="services.feedback.handlers.sweeper:handler",
        timeout_s=60,
        schedule=Schedule("rate(5 minutes)", every_s=300),
        grants=(("feedback", "write"), ("feedback-events", "send")),
        environment=FEEDBACK_ENV,
    ),
)

EVENT_RULES: tuple[EventRule, ...] = ()


def physical(prefix: str, logical: str) -> str:
    """The AWS name of a resource: ``cxloop-feedback``, ``cxloop-feedback-events-dlq``."""
    return f"{prefix}-{logical}"


def dlq_name(prefix: str, queue: Queue) -> str:
    return physical(prefix, f"{queue.logical}-dlq")


def secret_name(prefix: str, shop_id: str) -> str:
    return f"{prefix}/shops/{shop_id}/webhooks"


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
