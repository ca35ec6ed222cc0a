"""The notifier's composition root: store, settings, channels, mailer and links, once per container."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.notifier.adapters.dynamo_notifier import DynamoNotifierStore
from services.notifier.adapters.dynamo_settings import DynamoAlertSettings
from services.notifier.domain.intake import IntakeDeps
from shared import aws
from shared.clock import utcnow
from shared.dynamo_shops import DynamoShopDirectory
from shared.settings import NotifierSettings as Config
from shared.settings import load
from shared.wiring import Built

APPROVE_LINK_DAYS = 30


@dataclass(frozen=True)
class Notifier:
    config: Config
    store: DynamoNotifierStore
    settings: DynamoAlertSettings
    shops: DynamoShopDirectory
    clients: dict[str, Any]

    def intake(self) -> IntakeDeps:
        return IntakeDeps(self.store, self.settings, self.shops, self.approve_link)

    def approve_link(self, shop_id: str, case_id: str) -> str | None:
        from shared.links import Purpose, issue

        keys = self.link_keys().keys()
        expires = utcnow() + timedelta(days=APPROVE_LINK_DAYS)
        return f"{self.config.public_url}/n/{issue(keys[0], Purpose.APPROVE, shop_id, case_id, expires)}"

    def retention(self) -> Any:
        """The retention snapshots (one item per shop and month)."""
        from services.notifier.adapters.dynamo_retention import DynamoRetention

        return DynamoRetention(self.client("dynamodb"), self.config.notifier_table)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = aws.client(service, self.config.aws)
        return self.clients[service]

    def link_keys(self) -> Any:
        from shared.link_keys import SecretsManagerLinkKeys

        if "link_keys" not in self.clients:
            self.clients["link_keys"] = SecretsManagerLinkKeys(
                self.client("secretsmanager"), self.config.secrets_prefix
            )
        return self.clients["link_keys"]

    def mailer(self) -> Any:
        from shared.mail.factory import build_mailer

        if "mailer" not in self.clients:
            self.clients["mailer"] = build_mailer(
                self.config.mail_transport,
                smtp_host=self.config.smtp_host,
                smtp_port=self.config.smtp_port,
                ses_configuration_set=self.config.ses_configuration_set,
                sesv2=lambda: self.client("sesv2"),
            )
        return self.clients["mailer"]

    def hooks(self) -> Any:
        from shared.credentials import NOTIFIER, SecretsManagerCredentials

        if "hooks" not in self.clients:
            self.clients["hooks"] = SecretsManagerCredentials(
                self.client("secretsmanager"), self.config.secrets_prefix, area=NOTIFIER
            )
        return self.clients["hooks"]

    def publisher(self) -> Any:
        from shared.events import EventBridgePublisher

        return EventBridgePublisher(self.client("events"), self.config.event_bus_name, "notifier")

    def sender_deps(self) -> Any:
        from services.notifier.adapters.channels import EmailChannel, OwnerMail, SlackChannel
        from services.notifier.adapters.slack_webhook import SlackWebhook
        from services.notifier.domain.delivery import SenderDeps
        from services.notifier.domain.model import DestinationKind
        from services.notifier.domain.pacing import Pacer

        if "sender" not in self.clients:
            mailer, sender = self.mailer(), self.config.sender
            self.clients["sender"] = SenderDeps(
                store=self.store,
                settings=self.settings,
                shops=self.shops,
                channels={
                    DestinationKind.SLACK: SlackChannel(SlackWebhook(), self.hooks()),
                    DestinationKind.EMAIL: EmailChannel(mailer, sender),
                },
                pacer=Pacer(time.monotonic),  # one per container: the pace holds across warm runs
                sleep=time.sleep,
                notice=OwnerMail(mailer, sender),
            )
        return self.clients["sender"]

    def reply_deps(self) -> Any:
        from services.notifier.domain.replies import ReplyDeps

        return ReplyDeps(
            store=self.store,
            settings=self.settings,
            shops=self.shops,
            mailer=self.mailer(),
            publisher=self.publisher(),
            default_sender=self.config.sender,
        )


def build_notifier(config: Config, **overrides: Any) -> Notifier:
    dynamodb = overrides.pop("dynamodb", None) or aws.client("dynamodb", config.aws)
    return Notifier(
        config=config,
        store=DynamoNotifierStore(dynamodb, config.notifier_table),
        settings=DynamoAlertSettings(dynamodb, config.shops_table),
        shops=DynamoShopDirectory(dynamodb, config.shops_table),
        clients={"dynamodb": dynamodb, **overrides},
    )


notifier: Built[Notifier] = Built(lambda: build_notifier(load(Config)))
