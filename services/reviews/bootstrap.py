"""The reviews service's composition root: store, credentials, connectors, publishers, once per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.reviews.adapters.dynamo_reviews import DynamoReviewStore
from services.reviews.domain.ports import Connector
from services.reviews.domain.pulling import AlertPublisher, PullDeps
from shared import aws
from shared.credentials import SecretsManagerCredentials
from shared.settings import ReviewsSettings, load
from shared.wiring import Built


@dataclass(frozen=True)
class Reviews:
    store: DynamoReviewStore
    credentials: SecretsManagerCredentials
    deps: PullDeps
    replies: AlertPublisher  # what became of a requested reply (ReviewReplyResult)


def build_connectors(caller_for: Callable[[], Any], base_url: str = "") -> dict[str, Connector]:
    """Every source's connector, each with its own Caller (one source's used-up limit must not stop
    another); ``base_url`` points them all at one fake source (local stack, tests)."""
    from services.reviews.connectors.app_store import AppStoreConnector
    from services.reviews.connectors.google import GoogleConnector
    from services.reviews.connectors.reddit import RedditConnector
    from services.reviews.connectors.trustpilot import TrustpilotConnector
    from services.reviews.connectors.yelp import YelpConnector

    if base_url:
        connectors: list[Connector] = [
            GoogleConnector(caller_for(), api_base=base_url, token_url=f"{base_url}/token"),
            TrustpilotConnector(caller_for(), api_base=base_url),
            AppStoreConnector(caller_for(), rss_base=base_url, api_base=base_url),
            YelpConnector(caller_for(), api_base=base_url),
            RedditConnector(caller_for(), api_base=base_url, token_url=f"{base_url}/api/v1/access_token"),
        ]
    else:
        connectors = [
            GoogleConnector(caller_for()),
            TrustpilotConnector(caller_for()),
            AppStoreConnector(caller_for()),
            YelpConnector(caller_for()),
            RedditConnector(caller_for()),
        ]
    return {c.source: c for c in connectors}


def build_reviews(settings: ReviewsSettings, **overrides: Any) -> Reviews:
    from services.reviews.adapters.http_client import Urllib3Http
    from services.reviews.connectors.limits import Caller
    from shared.events import EventBridgePublisher

    dynamodb = overrides.get("dynamodb") or aws.client("dynamodb", settings.aws)
    store = overrides.get("store") or DynamoReviewStore(dynamodb, settings.reviews_table)
    credentials = overrides.get("credentials") or SecretsManagerCredentials(
        aws.client("secretsmanager", settings.aws), settings.secrets_prefix
    )
    events = overrides.get("events") or aws.client("events", settings.aws)
    publisher = EventBridgePublisher(events, settings.event_bus_name, "reviews")
    http = overrides.get("http") or Urllib3Http()
    deps = PullDeps(
        store=store,
        states=store,
        credentials=credentials,
        connectors=overrides.get("connectors")
        or build_connectors(lambda: Caller(http), settings.sources_base_url),
        mentions=overrides.get("mentions") or publisher,
        alerts=overrides.get("alerts") or publisher,
        alert_after=timedelta(minutes=settings.alert_after_minutes),
    )
    replies = overrides.get("replies") or publisher
    return Reviews(store=store, credentials=credentials, deps=deps, replies=replies)


reviews: Built[Reviews] = Built(lambda: build_reviews(load(ReviewsSettings)))
