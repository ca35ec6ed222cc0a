"""Create the topology's resources in an AWS endpoint (moto locally) and name them for clients.

The CLI, the local stack and the integration tests all resolve names through :class:`Resources`.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from shared import topology


@dataclass(frozen=True)
class Resources:
    prefix: str
    tables: dict[str, str]
    queue_urls: dict[str, str]
    dlq_urls: dict[str, str]
    bus_name: str
    tap_queue_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """What the functions read (shared/settings.py)."""
        return {
            topology.ENV_SHOPS_TABLE: self.tables["shops"],
            topology.ENV_FEEDBACK_TABLE: self.tables["feedback"],
            topology.ENV_EVENTS_QUEUE_URL: self.queue_urls["feedback-events"],
            topology.ENV_EVENTS_DLQ_URL: self.dlq_urls["feedback-events"],
            topology.ENV_EVENT_BUS: self.bus_name,
            topology.ENV_SECRETS_PREFIX: self.prefix,
            topology.ENV_REVIEWS_TABLE: self.tables["reviews"],
            topology.ENV_NOTIFIER_TABLE: self.tables["notifier"],
        }


def _create_table(dynamodb: Any, name: str, table: topology.Table) -> None:
    attrs = {"pk", "sk"} | {a for i in table.indexes for a in (i.partition_key, i.sort_key)}
    gsis = []
    for index in table.indexes:
        projection: dict[str, Any] = {"ProjectionType": "ALL"}
        if index.include == ():
            projection = {"ProjectionType": "KEYS_ONLY"}
        elif index.include:
            projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
        gsis.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
        )
    kwargs: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    }
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    try:
        dynamodb.create_table(**kwargs)
    except dynamodb.exceptions.ResourceInUseException:
        return
    if table.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
        )


def provision(dynamodb: Any, sqs: Any, events: Any, prefix: str = "cxloop", tap: bool = False) -> Resources:
    """Create (idempotently) every table, queue with its DLQ, and the bus of the topology."""
    tables = {}
    for table in topology.TABLES:
        name = topology.physical(prefix, table.logical)
        _create_table(dynamodb, name, table)
        tables[table.logical] = name
    queue_urls, dlq_urls = {}, {}
    for q in topology.QUEUES:
        dlq_url = sqs.create_queue(QueueName=topology.dlq_name(prefix, q))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName=topology.physical(prefix, q.logical),
            Attributes={
                "VisibilityTimeout": str(q.visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count}
                ),
            },
        )["QueueUrl"]
        queue_urls[q.logical], dlq_urls[q.logical] = url, dlq_url
    bus = topology.physical(prefix, topology.BUS)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    for rule in topology.EVENT_RULES:
        _rule(sqs, events, prefix, bus, rule, queue_urls[rule.queue])
    tap_url = _tap(sqs, events, prefix, bus) if tap else None
    return Resources(prefix, tables, queue_urls, dlq_urls, bus, tap_url)


def _rule(sqs: Any, events: Any, prefix: str, bus: str, rule: topology.EventRule, queue_url: str) -> None:
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern: dict[str, Any] = {"detail-type": list(rule.detail_types)}
    if rule.source:
        pattern["source"] = [rule.source]
    on = "default" if rule.default_bus else bus
    name = topology.physical(prefix, rule.logical)
    events.put_rule(Name=name, EventBusName=on, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=on, Targets=[{"Id": rule.queue, "Arn": arn}])


def empty(dynamodb: Any, sqs: Any) -> None:
    """Delete every item of every table and every message of every queue, keeping tables, queues and
    rules: tests reuse one provisioned endpoint instead of provisioning one per test (moto refuses a
    second purge within a minute unless MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR=false)."""
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            _empty_table(dynamodb, name)
    for url in sqs.list_queues().get("QueueUrls", []):
        sqs.purge_queue(QueueUrl=url)


def _empty_table(dynamodb: Any, name: str) -> None:
    key = [k["AttributeName"] for k in dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]]
    scan = dynamodb.get_paginator("scan").paginate(
        TableName=name, ProjectionExpression=", ".join(f"#{i}" for i in range(len(key))),
        ExpressionAttributeNames={f"#{i}": a for i, a in enumerate(key)},
    )  # fmt: skip
    items = [item for page in scan for item in page["Items"]]
    for start in range(0, len(items), 25):
        requests = {name: [{"DeleteRequest": {"Key": item}} for item in items[start : start + 25]]}
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems")


def provision_link_keys(secretsmanager: Any, prefix: str = "cxloop") -> bool:
    """The survey link signing keys (created once; kept across restarts of a persistent endpoint)."""
    from shared.link_keys import SecretsManagerLinkKeys

    return SecretsManagerLinkKeys(secretsmanager, prefix).ensure()


def _tap(sqs: Any, events: Any, prefix: str, bus: str) -> str:
    """Local only: a queue receiving every event on the bus, so the stack and tests can see them."""
    url: str = sqs.create_queue(QueueName=f"{prefix}-local-bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=f"{prefix}-local-tap",
        EventBusName=bus,
        EventPattern=json.dumps({"source": [{"prefix": "cxloop."}]}),
    )
    events.put_targets(Rule=f"{prefix}-local-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url


def resolve(sqs: Any, prefix: str = "cxloop") -> Resources:
    """Names of an existing deployment (AWS or local) from the prefix alone."""
    tables = {t.logical: topology.physical(prefix, t.logical) for t in topology.TABLES}
    queue_urls = {
        q.logical: sqs.get_queue_url(QueueName=topology.physical(prefix, q.logical))["QueueUrl"]
        for q in topology.QUEUES
    }
    dlq_urls = {
        q.logical: sqs.get_queue_url(QueueName=topology.dlq_name(prefix, q))["QueueUrl"]
        for q in topology.QUEUES
    }
    return Resources(prefix, tables, queue_urls, dlq_urls, topology.physical(prefix, topology.BUS))
