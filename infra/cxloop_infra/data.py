"""DynamoDB tables, one per ``topology.TABLES`` entry."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cxloop_infra.config import InfraConfig, construct_id
from shared import topology

_STRING = dynamodb.AttributeType.STRING


def _index(index: topology.Index) -> dynamodb.GlobalSecondaryIndexPropsV2:
    if index.include is None:
        projection, non_key = dynamodb.ProjectionType.ALL, None
    elif index.include == ():
        projection, non_key = dynamodb.ProjectionType.KEYS_ONLY, None
    else:
        projection, non_key = dynamodb.ProjectionType.INCLUDE, list(index.include)
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=index.name,
        partition_key=dynamodb.Attribute(name=index.partition_key, type=_STRING),
        sort_key=dynamodb.Attribute(name=index.sort_key, type=_STRING),
        projection_type=projection,
        non_key_attributes=non_key,
    )


class Data(Construct):
    """The tables, keyed by their topology logical name."""

    def __init__(self, scope: Construct, construct_id_: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id_)
        self.tables: dict[str, dynamodb.TableV2] = {}
        for spec in topology.TABLES:
            cid = construct_id(spec.logical)
            table = dynamodb.TableV2(
                self,
                f"{cid}Table",
                table_name=topology.physical(config.prefix, spec.logical),
                partition_key=dynamodb.Attribute(name="pk", type=_STRING),
                sort_key=dynamodb.Attribute(name="sk", type=_STRING),
                billing=dynamodb.Billing.on_demand(),
                global_secondary_indexes=[_index(index) for index in spec.indexes],
                time_to_live_attribute=spec.ttl_attribute,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                # Shops' configuration and their customers' feedback: never deleted with the stack.
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.tables[spec.logical] = table
            CfnOutput(scope, f"{cid}TableName", value=table.table_name)
