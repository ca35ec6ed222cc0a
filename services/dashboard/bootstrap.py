"""The dashboard's composition root: the stores it reads and the services it acts through, once per
container."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.feedback.api import FeedbackApi, build_feedback_api
from services.notifier.api import NotifierApi, build_notifier_api
from shared import aws
from shared.settings import DashboardSettings, load
from shared.wiring import Built


@dataclass
class Dashboard:
    """The dashboard reads and acts through the notifier's and the feedback service's published
    interfaces (their ``api`` modules), never their adapters."""

    config: DashboardSettings
    dynamodb: Any
    notifier: NotifierApi

    @cached_property
    def keys(self) -> DynamoKeyStore:
        return DynamoKeyStore(self.dynamodb, self.config.shops_table)

    @cached_property
    def feedback(self) -> FeedbackApi:
        return build_feedback_api(
            self.dynamodb,
            aws.client("events", self.config.aws),
            feedback_table=self.config.feedback_table,
            shops_table=self.config.shops_table,
            event_bus_name=self.config.event_bus_name,
        )

    def session_keys(self) -> list[bytes]:
        return self.notifier.link_keys()

    @property
    def secure_cookies(self) -> bool:
        return self.config.public_url.startswith("https://")


def build_dashboard(config: DashboardSettings, **overrides: Any) -> Dashboard:
    dynamodb = overrides.pop("dynamodb", None) or aws.client("dynamodb", config.aws)
    return Dashboard(config=config, dynamodb=dynamodb, notifier=build_notifier_api(config, dynamodb=dynamodb))


dashboard: Built[Dashboard] = Built(lambda: build_dashboard(load(DashboardSettings)))
