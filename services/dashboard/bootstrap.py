"""The dashboard's composition root: the stores it reads and the services it acts through, once per
container."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.dashboard.adapters.dynamo_limits import DynamoTestSendLimit
from services.feedback.api import FeedbackApi, build_feedback_api
from services.notifier.api import NotifierApi, build_notifier_api
from shared import aws
from shared.mail.factory import build_mailer
from shared.mail.message import Mailer
from shared.settings import DashboardSettings, load
from shared.wiring import Built


@dataclass
class Dashboard:
    """The dashboard reads and acts through the notifier's and the feedback service's published
    interfaces (their ``api`` modules), never their adapters."""

    config: DashboardSettings
    dynamodb: Any
    notifier: NotifierApi
    _mailer: Mailer | None = None

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
            mailer=self.mailer,
        )

    def mailer(self) -> Mailer:
        """How survey e-mail leaves (the owner's test send): the same transport as the surveys'."""
        if self._mailer is None:
            self._mailer = build_mailer(
                self.config.mail_transport,
                smtp_host=self.config.smtp_host,
                smtp_port=self.config.smtp_port,
                ses_configuration_set=self.config.ses_configuration_set,
                sesv2=lambda: aws.client("sesv2", self.config.aws),
            )
        return self._mailer

    @cached_property
    def limits(self) -> DynamoTestSendLimit:
        return DynamoTestSendLimit(self.dynamodb, self.config.shops_table)

    def session_keys(self) -> list[bytes]:
        return self.notifier.link_keys()

    @property
    def secure_cookies(self) -> bool:
        return self.config.public_url.startswith("https://")


def build_dashboard(config: DashboardSettings, **overrides: Any) -> Dashboard:
    dynamodb = overrides.pop("dynamodb", None) or aws.client("dynamodb", config.aws)
    mailer = overrides.pop("mailer", None)
    return Dashboard(config=config, dynamodb=dynamodb, notifier=build_notifier_api(config, dynamodb=dynamodb),
                     _mailer=mailer)  # fmt: skip


dashboard: Built[Dashboard] = Built(lambda: build_dashboard(load(DashboardSettings)))
