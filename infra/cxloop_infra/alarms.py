"""The operator's alarms and the one SNS topic they notify: every dead-letter queue holding a message,
webhook signature refusals at a rate that means a wrong secret or an attack, a broken Slack destination,
and SES bounce and complaint rates at half the levels at which AWS reviews the account.

``cxloop deploy --alarm-email ADDRESS`` subscribes the address to the topic (AWS e-mails a confirmation
link first); without it the topic has no subscriber and the alarms show only in the console.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cxloop_infra.config import InfraConfig, construct_id
from cxloop_infra.messaging import Messaging
from shared import observability, topology

# Signature refusals in 5 minutes: a rotated secret not updated in cxloop fails every delivery (Shopify
# retries each 8 times), a probe sends many; one merchant's test webhook or two must not page anyone.
SIGNATURE_REFUSALS_IN_5_MIN = 10
# SES reviews an account whose bounce rate reaches 5 % or complaint rate 0.1 % (and may pause its sending
# at 10 % / 0.5 %): https://docs.aws.amazon.com/ses/latest/dg/reputationdashboardmessages.html. The alarms
# fire at half those levels, while there is time to act.
SES_BOUNCE_RATE = 0.025
SES_COMPLAINT_RATE = 0.0005


class Alarms(Construct):
    """The topic, its optional e-mail subscription, and every alarm with the topic as its action."""

    def __init__(
        self, scope: Construct, construct_id_: str, *, config: InfraConfig, messaging: Messaging
    ) -> None:
        super().__init__(scope, construct_id_)
        self._config = config
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topology.physical(config.prefix, "alarms"),
            display_name="cxloop alarms",
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        CfnOutput(scope, "AlarmTopicArn", value=self.topic.topic_arn)
        # Each DLQ's alarm is made with its queue (messaging.py); the others here.
        self.alarms: dict[str, cloudwatch.Alarm] = {
            f"{logical}-dlq": alarm for logical, alarm in messaging.alarms.items()
        }
        self._add(
            "webhook-signature-refusals",
            f"{SIGNATURE_REFUSALS_IN_5_MIN} or more webhooks refused for their signature in 5 minutes: a "
            "platform's secret changed without `cxloop shop rotate-secret`, or someone is probing. The "
            "intake's log (feedback-webhooks) names the shop and platform of each.",
            self._count(observability.WEBHOOKS_REFUSED, service="feedback", reason="signature"),
            SIGNATURE_REFUSALS_IN_5_MIN,
        )
        self._add(
            "slack-destination-broken",
            "Slack refused an alert (a 4xx other than 429): the destination is marked broken and its "
            "alerts are held. `cxloop notify show --shop S` names it; setting it again with "
            "`cxloop notify destination` releases them.",
            self._count(observability.DESTINATIONS_BROKEN, service="notifier", channel="slack"),
            1,
        )
        for key, metric_name, threshold in (
            ("ses-bounce-rate", "Reputation.BounceRate", SES_BOUNCE_RATE),
            ("ses-complaint-rate", "Reputation.ComplaintRate", SES_COMPLAINT_RATE),
        ):
            self._add(
                key,
                f"The account's SES {metric_name} is {threshold:.2%} or more, half the level at which AWS "
                "reviews the account (all of its SES sending in this region, not only cxloop's). "
                "`cxloop survey suppressions --shop S` lists the addresses suppressed and why.",
                cloudwatch.Metric(
                    namespace="AWS/SES",
                    metric_name=metric_name,
                    statistic=cloudwatch.Stats.MAXIMUM,
                    period=Duration.hours(1),
                ),
                threshold,
            )
        action = actions.SnsAction(self.topic)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(action)

    def _count(self, name: str, **dimensions: str) -> cloudwatch.Metric:
        """A count the functions publish (shared/observability.py), summed over 5 minutes."""
        return cloudwatch.Metric(
            namespace=self._config.metrics_namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=cloudwatch.Stats.SUM,
            period=Duration.minutes(5),
        )

    def _add(self, key: str, description: str, metric: cloudwatch.Metric, threshold: float) -> None:
        self.alarms[key] = cloudwatch.Alarm(
            self,
            construct_id(key),
            alarm_name=topology.physical(self._config.prefix, key),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data is no refusals, no broken destination, no mail: not an alarm.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
