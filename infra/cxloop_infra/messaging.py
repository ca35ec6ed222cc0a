"""SQS queues with their dead-letter queues and alarms, the EventBridge bus, and bus → queue rules."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cxloop_infra.config import InfraConfig, construct_id
from shared import topology

DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to notice, fix and `cxloop dlq replay`
DEFAULT_BUS = "default"  # the account's bus, where AWS services (SES) publish their events
SES_SOURCE = "aws.ses"
# Set by SES on every event of a message sent with a configuration set.
SES_CONFIGURATION_SET_TAG = "ses:configuration-set"


def event_pattern(rule: topology.EventRule, config: InfraConfig) -> events.EventPattern:
    """The rule's detail types, from its source when it names one.

    SES events on the default bus come from every configuration set of the account and region: only
    those of this stack's set are taken, so another application's bounces cannot reach the mail-events
    consumer (which rejects a notification without the ``shop`` tag, sending it to the DLQ).
    """
    detail = None
    if rule.source == SES_SOURCE:
        detail = {"mail": {"tags": {SES_CONFIGURATION_SET_TAG: [config.ses_configuration_set_name]}}}
    return events.EventPattern(
        source=[rule.source] if rule.source else None,
        detail_type=list(rule.detail_types),
        detail=detail,
    )


def check_visibility_timeouts() -> None:
    """Each queue must stay invisible while its consumer may still be working on a batch.

    Lambda refuses an event source mapping whose queue visibility timeout is below the function
    timeout; the batching window is added so a message cannot reappear while its batch is still
    being gathered. (AWS recommends 6x the function timeout; the topology keeps it shorter to make
    retries quick, which is safe because a failed record is reported alone.)
    """
    for fn in topology.FUNCTIONS:
        if fn.queue is None:
            continue
        queue = topology.queue(fn.queue.queue)
        needed = fn.timeout_s + fn.queue.max_batching_window_s
        if queue.visibility_timeout_s < needed:
            raise ValueError(
                f"queue {queue.logical!r}: visibility timeout {queue.visibility_timeout_s}s is below "
                f"{fn.logical!r} timeout + batching window ({needed}s)"
            )


class Messaging(Construct):
    """Queues (by topology logical name), their DLQs and the bus."""

    def __init__(self, scope: Construct, construct_id_: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id_)
        check_visibility_timeouts()
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for spec in topology.QUEUES:
            cid = construct_id(spec.logical)
            dlq = sqs.Queue(
                self,
                f"{cid}Dlq",
                queue_name=topology.dlq_name(config.prefix, spec),
                retention_period=DLQ_RETENTION,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            queue = sqs.Queue(
                self,
                f"{cid}Queue",
                queue_name=topology.physical(config.prefix, spec.logical),
                visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
            )
            # Its action, the alarms' SNS topic, is added by alarms.Alarms with the others'.
            alarm = cloudwatch.Alarm(
                self,
                f"{cid}DlqAlarm",
                alarm_name=f"{topology.dlq_name(config.prefix, spec)}-not-empty",
                alarm_description=(
                    f"Messages in {topology.dlq_name(config.prefix, spec)}: inspect and replay with "
                    "`cxloop dlq list|replay`."
                ),
                metric=dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.queues[spec.logical] = queue
            self.dead_letter_queues[spec.logical] = dlq
            self.alarms[spec.logical] = alarm
            CfnOutput(scope, f"{cid}QueueUrl", value=queue.queue_url)
            CfnOutput(scope, f"{cid}DlqUrl", value=dlq.queue_url)

        self.bus = events.EventBus(self, "Bus", event_bus_name=topology.physical(config.prefix, topology.BUS))
        CfnOutput(scope, "EventBusName", value=self.bus.event_bus_name)

        default_bus: events.IEventBus | None = None
        for rule in topology.EVENT_RULES:
            if rule.default_bus and default_bus is None:
                default_bus = events.EventBus.from_event_bus_name(self, "DefaultBus", DEFAULT_BUS)
            events.Rule(
                self,
                f"{construct_id(rule.logical)}Rule",
                rule_name=topology.physical(config.prefix, rule.logical),
                event_bus=default_bus if rule.default_bus else self.bus,
                event_pattern=event_pattern(rule, config),
                # CDK adds the queue policy letting this rule (aws:SourceArn) send to the queue.
                targets=[targets.SqsQueue(self.queues[rule.queue])],
            )
