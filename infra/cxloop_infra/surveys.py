"""What the survey e-mails need besides tables, queues and functions: the SES configuration set the
dispatcher sends with, and the secret holding the keys that sign survey and unsubscribe links."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from cxloop_infra.config import InfraConfig
from cxloop_infra.messaging import DEFAULT_BUS
from shared import topology

# What the mail-events consumer acts on (permanent bounces and complaints suppress the address).
MAIL_EVENTS = (ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT)
# shared/link_keys.py accepts {"signing_key": "<at least 32 characters>"}.
LINK_KEY_LENGTH = 64


class Surveys(Construct):
    def __init__(self, scope: Construct, construct_id_: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id_)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=config.ses_configuration_set_name,
            # Addresses that bounce hard or complain go on the account's suppression list as well as the
            # shop's (the mail-events consumer): SES refuses to send to them again.
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        # SES publishes to the account's default bus only; the rules of topology.EVENT_RULES with
        # default_bus=True take the events from there to the mail-events queue (messaging.py).
        self.configuration_set.add_event_destination(
            "ToDefaultBus",
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, "DefaultBus", DEFAULT_BUS)
            ),
            events=list(MAIL_EVENTS),
        )

        self.link_keys = secretsmanager.Secret(
            self,
            "LinkKeys",
            secret_name=topology.link_keys_secret(config.prefix),
            description="cxloop: key that signs survey and unsubscribe links",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 (a JSON template, not a password)
                generate_string_key="signing_key",
                password_length=LINK_KEY_LENGTH,
                exclude_punctuation=True,
            ),
            # Like the tables: links already e-mailed must keep working if the stack is re-created.
            removal_policy=RemovalPolicy.RETAIN,
        )
        CfnOutput(scope, "SesConfigurationSetName", value=self.configuration_set.configuration_set_name)
        CfnOutput(scope, "LinkKeysSecretName", value=topology.link_keys_secret(config.prefix))
