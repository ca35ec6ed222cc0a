"""The feedback service's composition root: adapters are built here, once per container.

Handlers call ``intake()``, ``consumer()``, ``surveys()`` or ``dispatch()`` on their first invocation (a
cold start); tests pass fakes through ``overrides``, or install a whole composition with ``.use()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from services.feedback.domain.ports import EventQueue, RawEventStore
from services.feedback.domain.webhooks.intake import IntakeDeps, IntakePolicy
from shared import aws
from shared.clock import utcnow
from shared.settings import ConsumerSettings, IntakeSettings, SurveySettings, load
from shared.wiring import Built

if TYPE_CHECKING:  # the intake's cold start does not pay for the consumer's domain
    from services.feedback.domain.orders.processing import ProcessingDeps
    from services.feedback.domain.ports import EventPublisher, ProgrammeStore, SurveyStore
    from services.feedback.domain.surveys.answers import AnswerDeps
    from services.feedback.domain.surveys.dispatch import DispatchDeps
    from services.feedback.domain.surveys.links import Links
    from shared.mail.message import Mailer


@dataclass(frozen=True)
class Intake:
    deps: IntakeDeps
    policy: IntakePolicy


@dataclass(frozen=True)
class Consumer:
    deps: ProcessingDeps
    raw_events: RawEventStore
    queue: EventQueue
    requeue_after: timedelta


def build_intake(settings: IntakeSettings, **overrides: Any) -> Intake:
    from services.feedback.adapters.dynamo_store import DynamoFeedbackStore
    from services.feedback.adapters.sqs_queue import SqsEventQueue
    from shared.dynamo_shops import DynamoShopDirectory
    from shared.secrets_store import SecretsManagerStore

    dynamodb = overrides.get("dynamodb") or aws.client("dynamodb", settings.aws, aws.FAST)
    deps = IntakeDeps(
        shops=overrides.get("shops") or DynamoShopDirectory(dynamodb, settings.shops_table),
        secrets=overrides.get("secrets")
        or SecretsManagerStore(
            aws.client("secretsmanager", settings.aws, aws.FAST),
            settings.secrets_prefix,
            cache_seconds=settings.secret_cache_seconds,
        ),
        raw_events=overrides.get("raw_events") or DynamoFeedbackStore(dynamodb, settings.feedback_table),
        queue=overrides.get("queue")
        or SqsEventQueue(aws.client("sqs", settings.aws, aws.FAST), settings.events_queue_url),
    )
    policy = IntakePolicy(
        max_body_bytes=settings.max_body_bytes,
        retention=timedelta(days=settings.raw_event_retention_days),
        timestamp_tolerance_s=settings.timestamp_tolerance_seconds,
        requeue_after=timedelta(seconds=settings.requeue_after_seconds),
    )
    return Intake(deps=deps, policy=policy)


def build_consumer(settings: ConsumerSettings, **overrides: Any) -> Consumer:
    from services.feedback.adapters.bigcommerce_api import BigCommerceOrders
    from services.feedback.adapters.dynamo_store import DynamoFeedbackStore
    from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
    from services.feedback.adapters.sqs_dead_letters import SqsDeadLetters
    from services.feedback.adapters.sqs_queue import SqsEventQueue
    from services.feedback.domain.orders.processing import ProcessingDeps
    from services.feedback.domain.surveys.planning import PlanningDeps
    from shared.dynamo_shops import DynamoShopDirectory
    from shared.events import EventBridgePublisher
    from shared.secrets_store import SecretsManagerStore

    dynamodb = overrides.get("dynamodb") or aws.client("dynamodb", settings.aws)
    sqs = aws.client("sqs", settings.aws)
    store = overrides.get("store") or DynamoFeedbackStore(dynamodb, settings.feedback_table)
    secrets = overrides.get("secrets") or SecretsManagerStore(
        aws.client("secretsmanager", settings.aws), settings.secrets_prefix
    )
    planning = PlanningDeps(
        records=store,
        surveys=overrides.get("surveys") or DynamoSurveyStore(dynamodb, settings.feedback_table),
        programmes=overrides.get("programmes") or DynamoProgrammeStore(dynamodb, settings.shops_table),
        day=timedelta(seconds=settings.day_seconds),
    )
    deps = ProcessingDeps(
        records=store,
        publisher=overrides.get("publisher")
        or EventBridgePublisher(aws.client("events", settings.aws), settings.event_bus_name, "feedback"),
        shops=overrides.get("shops") or DynamoShopDirectory(dynamodb, settings.shops_table, cache_seconds=0),
        secrets=secrets,
        details=overrides.get("details") or BigCommerceOrders(secrets),
        export_retention=timedelta(days=settings.export_retention_days),
        planning=planning,
        dead_letters=overrides.get("dead_letters")
        or (SqsDeadLetters(sqs, settings.events_dlq_url) if settings.events_dlq_url else None),
        raw_events=store,
    )
    queue = overrides.get("queue") or SqsEventQueue(sqs, settings.events_queue_url)
    return Consumer(
        deps=deps,
        raw_events=store,
        queue=queue,
        requeue_after=timedelta(seconds=settings.requeue_after_seconds),
    )


@dataclass(frozen=True)
class Surveys:
    """What the dispatcher, the answer pages and the mail-event consumer share."""

    settings: SurveySettings
    surveys: SurveyStore
    programmes: ProgrammeStore
    link_keys: Any  # SecretsManagerLinkKeys, or anything with keys() -> list[bytes]
    publisher: EventPublisher | None = None
    mailer: Mailer | None = None

    def links(self) -> Links:
        from services.feedback.domain.surveys.links import Links

        return Links(self.settings.public_url, self.link_keys.keys())

    def dispatch_deps(self) -> DispatchDeps:
        from services.feedback import rendering
        from services.feedback.domain.surveys.dispatch import DispatchDeps

        if self.mailer is None:
            raise RuntimeError("the dispatcher needs a mailer")
        return DispatchDeps(
            surveys=self.surveys,
            programmes=self.programmes,
            mailer=self.mailer,
            render=rendering.render_email,
            links=self.links(),
            day=timedelta(seconds=self.settings.day_seconds),
            clock=utcnow,
        )

    def answer_deps(self) -> AnswerDeps:
        from services.feedback.domain.surveys.answers import AnswerDeps

        if self.publisher is None:
            raise RuntimeError("the answer pages need the event bus (CXLOOP_EVENT_BUS)")
        return AnswerDeps(
            surveys=self.surveys,
            programmes=self.programmes,
            publisher=self.publisher,
            links=self.links(),
            clock=utcnow,
        )


def build_mailer(settings: SurveySettings) -> Mailer:
    from shared.mail.factory import build_mailer as mailer

    return mailer(
        settings.mail_transport,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        ses_configuration_set=settings.ses_configuration_set,
        sesv2=lambda: aws.client("sesv2", settings.aws),
    )


def build_surveys(settings: SurveySettings, *, with_mailer: bool = False, **overrides: Any) -> Surveys:
    """``with_mailer``: build the configured mailer (the dispatcher) unless ``mailer=`` overrides it."""
    from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
    from shared.events import EventBridgePublisher
    from shared.link_keys import SecretsManagerLinkKeys

    dynamodb = overrides.get("dynamodb") or aws.client("dynamodb", settings.aws)
    publisher = overrides.get("publisher")
    if publisher is None and settings.event_bus_name:
        publisher = EventBridgePublisher(
            aws.client("events", settings.aws), settings.event_bus_name, "feedback"
        )
    return Surveys(
        settings=settings,
        surveys=overrides.get("surveys") or DynamoSurveyStore(dynamodb, settings.feedback_table),
        programmes=overrides.get("programmes")
        or DynamoProgrammeStore(dynamodb, settings.shops_table, cache_seconds=30),
        link_keys=overrides.get("link_keys")
        or SecretsManagerLinkKeys(aws.client("secretsmanager", settings.aws), settings.secrets_prefix),
        publisher=publisher,
        mailer=overrides.get("mailer") or (build_mailer(settings) if with_mailer else None),
    )


# One composition per function role, built on the container's first invocation.
intake: Built[Intake] = Built(lambda: build_intake(load(IntakeSettings)))
consumer: Built[Consumer] = Built(lambda: build_consumer(load(ConsumerSettings)))
surveys: Built[Surveys] = Built(lambda: build_surveys(load(SurveySettings)))  # answers, mail events, readings
dispatch: Built[Surveys] = Built(lambda: build_surveys(load(SurveySettings), with_mailer=True))
