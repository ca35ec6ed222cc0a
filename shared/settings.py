"""Settings of each function, validated once per cold start.

This is the only module that reads ``os.environ``. It uses plain pydantic models rather than
pydantic-settings: the mapping below is all it would do here, and it would add 0.04-0.09 s to the
webhook intake's cold start (measured 2026-12-07, decision 3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AwsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: str = "us-east-1"
    # Set by the local stack (moto's server); unset in AWS.
    endpoint_url: str | None = None


class FeedbackStorage(BaseModel):
    """What every feedback function names: the tables, the queue, the secrets."""

    model_config = ConfigDict(frozen=True)

    aws: AwsSettings = AwsSettings()
    shops_table: str
    feedback_table: str
    events_queue_url: str
    secrets_prefix: str = "cxloop"
    # A stored event still unprocessed after this long is taken as lost in flight and re-queued. Longer
    # than a queued message can spend retrying (5 receives x 60 s visibility) so the sweeper never
    # re-sends what the queue still holds.
    requeue_after_seconds: int = Field(default=900, ge=1)


class IntakeSettings(FeedbackStorage):
    """The webhook intake: everything it needs to verify, store and enqueue."""

    raw_event_retention_days: int = Field(default=30, ge=1, le=3650)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    secret_cache_seconds: int = Field(default=300, ge=0)
    # BigCommerce (Standard Webhooks): how far webhook-timestamp may be from now.
    timestamp_tolerance_seconds: int = Field(default=300, ge=1)


class ConsumerSettings(FeedbackStorage):
    """The feedback event consumer and the sweeper."""

    event_bus_name: str
    # The events queue's dead-letter queue: a permanent defect is sent there at once. Empty: it is
    # retried like any failure, and the queue's redrive dead-letters it in the end.
    events_dlq_url: str = ""
    export_retention_days: int = Field(default=30, ge=1)
    # The length of a survey rule's day (the consumer plans invitations): see SurveySettings.
    day_seconds: float = Field(default=86400.0, gt=0)


class SurveySettings(FeedbackStorage):
    """The survey functions: the dispatcher, the answer pages, the planner in the consumer."""

    event_bus_name: str = ""
    # Where the links in e-mails point: the HTTP API's URL (https in AWS; http on loopback locally).
    public_url: str = "http://127.0.0.1:8080"
    # The length of a rule's day in seconds: 86400, except in the local demo.
    day_seconds: float = Field(default=86400.0, gt=0)
    mail_transport: Literal["ses", "smtp"] = "ses"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    ses_configuration_set: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.rstrip("/")
        loopback = value.startswith(("http://127.0.0.1", "http://localhost"))
        if not value.startswith("https://") and not loopback:
            raise ValueError("public_url must be https:// (RFC 8058 one-click unsubscribe needs it)")
        return value


class ScoringSettings(BaseModel):
    """The scoring consumer: where shops' taxonomies are, where readings are published, which model."""

    model_config = ConfigDict(frozen=True)

    aws: AwsSettings = AwsSettings()
    shops_table: str
    event_bus_name: str
    # A trained model directory; empty: the one committed in services/scoring/trained.
    model_dir: str = ""
    taxonomy_cache_seconds: int = Field(default=300, ge=0)


class ReviewsSettings(BaseModel):
    """The reviews puller: its table, the bus for MentionIngested and alerts, the credentials' prefix."""

    model_config = ConfigDict(frozen=True)

    aws: AwsSettings = AwsSettings()
    reviews_table: str
    event_bus_name: str
    secrets_prefix: str = "cxloop"
    # Local stack and tests only: every source's API at this base URL (a fake source server).
    sources_base_url: str = ""
    alert_after_minutes: int = Field(default=120, ge=1)


class NotifierSettings(BaseModel):
    """The notifier's functions: its table, the shops, the bus, the links in alerts, how mail leaves."""

    model_config = ConfigDict(frozen=True)

    aws: AwsSettings = AwsSettings()
    notifier_table: str
    shops_table: str
    event_bus_name: str = ""
    secrets_prefix: str = "cxloop"
    public_url: str = "http://127.0.0.1:8080"
    mail_transport: Literal["ses", "smtp"] = "ses"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    ses_configuration_set: str | None = None
    # Alerts, digests and (unless a shop sets its own) replies come from this address.
    sender: str = "cxloop <alerts@cxloop.invalid>"
    # The day churn risk is refreshed on counts; the weekly digest goes out on this ISO weekday (1 = Monday).
    digest_weekday: int = Field(default=1, ge=1, le=7)


class DashboardSettings(NotifierSettings):
    """The owner's dashboard and API: the notifier's read model and case actions, the feedback table
    (suppression log, erasure), the shops table (keys, settings). Cookies are Secure when the public URL
    is https (always in AWS)."""

    feedback_table: str


_ENV_KEYS = {
    "shops_table": "CXLOOP_SHOPS_TABLE",
    "feedback_table": "CXLOOP_FEEDBACK_TABLE",
    "events_queue_url": "CXLOOP_EVENTS_QUEUE_URL",
    "events_dlq_url": "CXLOOP_EVENTS_DLQ_URL",
    "event_bus_name": "CXLOOP_EVENT_BUS",
    "secrets_prefix": "CXLOOP_SECRETS_PREFIX",
    "raw_event_retention_days": "CXLOOP_RAW_EVENT_RETENTION_DAYS",
    "export_retention_days": "CXLOOP_EXPORT_RETENTION_DAYS",
    "max_body_bytes": "CXLOOP_MAX_BODY_BYTES",
    "secret_cache_seconds": "CXLOOP_SECRET_CACHE_SECONDS",
    "timestamp_tolerance_seconds": "CXLOOP_TIMESTAMP_TOLERANCE_SECONDS",
    "requeue_after_seconds": "CXLOOP_REQUEUE_AFTER_SECONDS",
    "public_url": "CXLOOP_PUBLIC_URL",
    "day_seconds": "CXLOOP_DAY_SECONDS",
    "mail_transport": "CXLOOP_MAIL_TRANSPORT",
    "smtp_host": "CXLOOP_SMTP_HOST",
    "smtp_port": "CXLOOP_SMTP_PORT",
    "ses_configuration_set": "CXLOOP_SES_CONFIGURATION_SET",
    "model_dir": "CXLOOP_MODEL_DIR",
    "reviews_table": "CXLOOP_REVIEWS_TABLE",
    "notifier_table": "CXLOOP_NOTIFIER_TABLE",
    "sender": "CXLOOP_NOTIFIER_SENDER",
    "digest_weekday": "CXLOOP_DIGEST_WEEKDAY",
    "sources_base_url": "CXLOOP_SOURCES_BASE_URL",
    "alert_after_minutes": "CXLOOP_SOURCE_ALERT_AFTER_MINUTES",
}


def aws_from_env(env: Mapping[str, str] | None = None) -> AwsSettings:
    env = os.environ if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return AwsSettings(region=region, endpoint_url=env.get("AWS_ENDPOINT_URL") or None)


T = TypeVar("T", bound=BaseModel)


def load(model: type[T], env: Mapping[str, str] | None = None) -> T:
    """Build ``model`` from the environment; missing or invalid values fail the cold start loudly."""
    env = os.environ if env is None else env
    values: dict[str, object] = {"aws": aws_from_env(env)}
    for field in model.model_fields:
        key = _ENV_KEYS.get(field)
        if key and key in env:
            values[field] = env[key]
    return model.model_validate(values)
