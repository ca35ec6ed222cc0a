"""The dashboard's composition root: the stores it reads and the services it acts through, once per
container."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.notifier.adapters.dynamo_views import DynamoViews
from services.notifier.bootstrap import Notifier, build_notifier
from shared import aws
from shared.settings import DashboardSettings, load
from shared.wiring import Built


@dataclass
class Dashboard:
    config: DashboardSettings
    dynamodb: Any
    notifier: Notifier

    @cached_property
    def views(self) -> DynamoViews:
        return DynamoViews(self.dynamodb, self.config.notifier_table)

    @cached_property
    def keys(self) -> DynamoKeyStore:
        return DynamoKeyStore(self.dynamodb, self.config.shops_table)

    @cached_property
    def programmes(self) -> Any:
        from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore

        return DynamoProgrammeStore(self.dynamodb, self.config.shops_table)

    @cached_property
    def surveys(self) -> Any:
        from services.feedback.adapters.dynamo_surveys import DynamoSurveyStore

        return DynamoSurveyStore(self.dynamodb, self.config.feedback_table)

    @cached_property
    def records(self) -> Any:
        from services.feedback.adapters.dynamo_store import DynamoFeedbackStore

        return DynamoFeedbackStore(self.dynamodb, self.config.feedback_table)

    def publisher(self) -> Any:
        from shared.events import EventBridgePublisher

        return EventBridgePublisher(self.notifier.client("events"), self.config.event_bus_name, "feedback")

    def session_keys(self) -> list[bytes]:
        keys: list[bytes] = self.notifier.link_keys().keys()
        return keys

    @property
    def secure_cookies(self) -> bool:
        return self.config.public_url.startswith("https://")


def build_dashboard(config: DashboardSettings, **overrides: Any) -> Dashboard:
    dynamodb = overrides.pop("dynamodb", None) or aws.client("dynamodb", config.aws)
    return Dashboard(config=config, dynamodb=dynamodb, notifier=build_notifier(config, dynamodb=dynamodb))


dashboard: Built[Dashboard] = Built(lambda: build_dashboard(load(DashboardSettings)))
