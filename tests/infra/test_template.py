"""The synthesized CloudFormation template, checked against ``shared.topology``.

Expectations are derived from the topology wherever possible, so a function, table or queue added
there must show up in the stack; a few literal checks pin the shape the handlers rely on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cxloop.deploy import layers as builds
from shared import topology
from tests.infra.conftest import stub_layers

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = "cxloop"
SECRETS_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PREFIX}/shops/*"
LINK_KEYS_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PREFIX}/surveys/link-keys-??????"
CONFIGURATION_SET = f"{PREFIX}-surveys"
SES_RESOURCES = {
    f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*",
    f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{CONFIGURATION_SET}",
}
DEFAULT_BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Synthesize the stack once for the whole module (the first synth costs several seconds)."""
    from aws_cdk.assertions import Template
    from cxloop_infra import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    stubs = stub_layers(tmp_path_factory.mktemp("layers"))
    _, stack = build_app(
        {
            "account": ACCOUNT,
            "region": REGION,
            "prefix": PREFIX,
            "stackName": "cxloop-test",
            "layersDir": str(stubs),
        },
        outdir=str(outdir),
        environ={},  # CXLOOP_* / CDK_DEFAULT_* of the machine running the tests must not leak in
    )
    return Template.from_stack(stack), outdir


@pytest.fixture(scope="module")
def template(synth: tuple[Any, Path]) -> Any:
    return synth[0]


@pytest.fixture(scope="module")
def resources(template: Any) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return raw


# --- helpers ---------------------------------------------------------------------------------------


def _of_type(resources: dict[str, dict[str, Any]], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {rid: res for rid, res in resources.items() if res["Type"] == cfn_type}


def _one(
    resources: dict[str, dict[str, Any]], cfn_type: str, **properties: Any
) -> tuple[str, dict[str, Any]]:
    found = [
        (rid, res)
        for rid, res in _of_type(resources, cfn_type).items()
        if all(res["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {cfn_type} with {properties}, found {len(found)}"
    return found[0]


def _table_id(resources: dict[str, dict[str, Any]], logical: str) -> str:
    return _one(resources, "AWS::DynamoDB::GlobalTable", TableName=topology.physical(PREFIX, logical))[0]


def _queue_id(resources: dict[str, dict[str, Any]], name: str) -> str:
    return _one(resources, "AWS::SQS::Queue", QueueName=name)[0]


def _function(resources: dict[str, dict[str, Any]], logical: str) -> tuple[str, dict[str, Any]]:
    return _one(resources, "AWS::Lambda::Function", FunctionName=topology.physical(PREFIX, logical))


def _layer_id(resources: dict[str, dict[str, Any]], name: str) -> str:
    return _one(resources, "AWS::Lambda::LayerVersion", LayerName=topology.physical(PREFIX, name))[0]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resources: dict[str, dict[str, Any]], logical: str) -> list[dict[str, Any]]:
    """Every IAM statement attached to the function's role (inline policies and AWS::IAM::Policy)."""
    _, fn = _function(resources, logical)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in resources[role_id]["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for res in _of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in res["Properties"].get("Roles", []):
            statements += res["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _allowed(statements: list[dict[str, Any]], action: str) -> list[Any]:
    """The resources on which ``action`` is allowed."""
    return [
        resource
        for s in statements
        if s["Effect"] == "Allow" and action in _as_list(s["Action"])
        for resource in _as_list(s["Resource"])
    ]


def _arn_of(resource_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource_id, "Arn"]}


# --- data ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", topology.TABLES, ids=lambda t: t.logical)
def test_table(resources, spec: topology.Table) -> None:
    rid = _table_id(resources, spec.logical)
    table = resources[rid]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    (replica,) = props["Replicas"]
    assert replica["Region"] == REGION
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"

    expected = []
    for index in spec.indexes:
        if index.include is None:
            projection: dict[str, Any] = {"ProjectionType": "ALL"}
        elif index.include == ():
            projection = {"ProjectionType": "KEYS_ONLY"}
        else:
            projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
        expected.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
        )
    assert props.get("GlobalSecondaryIndexes", []) == expected


def test_ttl_and_sparse_index_literals(resources) -> None:
    """What the handlers rely on, independent of how the topology is read."""
    props = resources[_table_id(resources, "feedback")]["Properties"]
    assert props["TimeToLiveSpecification"]["AttributeName"] == "ttl"
    projections = {i["IndexName"]: i["Projection"] for i in props["GlobalSecondaryIndexes"]}
    assert projections == {
        "gsi1": {"ProjectionType": "KEYS_ONLY"},
        "pending": {"ProjectionType": "KEYS_ONLY"},
        # The dispatcher reads whole invitations from the index, nothing else.
        "due": {"ProjectionType": "ALL"},
    }


# --- messaging -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda q: q.logical)
def test_queue_redrive_and_encryption(resources, spec: topology.Queue) -> None:
    dlq_id = _queue_id(resources, topology.dlq_name(PREFIX, spec))
    queue = resources[_queue_id(resources, topology.physical(PREFIX, spec.logical))]["Properties"]
    assert queue["VisibilityTimeout"] == spec.visibility_timeout_s
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn_of(dlq_id),
        "maxReceiveCount": spec.max_receive_count,
    }
    assert queue["SqsManagedSseEnabled"] is True
    dlq = resources[dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda q: q.logical)
def test_dlq_alarm(resources, spec: topology.Queue) -> None:
    dlq_id = _queue_id(resources, topology.dlq_name(PREFIX, spec))
    alarms = [
        a["Properties"]
        for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": _alarm_topic(resources)}]


def _alarm_topic(resources: dict[str, dict[str, Any]]) -> str:
    return _one(resources, "AWS::SNS::Topic", TopicName=f"{PREFIX}-alarms")[0]


def test_every_alarm_notifies_the_one_topic(resources) -> None:
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) == len(topology.QUEUES) + 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": _alarm_topic(resources)}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def _alarm(resources: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return _one(resources, "AWS::CloudWatch::Alarm", AlarmName=f"{PREFIX}-{key}")[1]["Properties"]


def test_operational_alarms_watch_what_the_functions_publish(resources) -> None:
    """Names and dimensions as shared/observability.py's Counts publishes them (the rollups included)."""
    refusals = _alarm(resources, "webhook-signature-refusals")
    assert (refusals["Namespace"], refusals["MetricName"], refusals["Statistic"]) == (
        PREFIX,
        "WebhooksRefused",
        "Sum",
    )
    assert refusals["Dimensions"] == [
        {"Name": "reason", "Value": "signature"},
        {"Name": "service", "Value": "feedback"},
    ]
    assert (refusals["Period"], refusals["Threshold"]) == (300, 10)
    broken = _alarm(resources, "slack-destination-broken")
    assert (broken["Namespace"], broken["MetricName"]) == (PREFIX, "DestinationsBroken")
    assert broken["Threshold"] == 1
    assert broken["Dimensions"] == [
        {"Name": "channel", "Value": "slack"},
        {"Name": "service", "Value": "notifier"},
    ]
    for key, metric, threshold in (
        ("ses-bounce-rate", "Reputation.BounceRate", 0.025),
        ("ses-complaint-rate", "Reputation.ComplaintRate", 0.0005),
    ):
        alarm = _alarm(resources, key)
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/SES", metric, threshold)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_no_alarm_subscription_without_an_address(resources) -> None:
    assert _of_type(resources, "AWS::SNS::Subscription") == {}


def test_the_alarm_email_is_subscribed_to_the_topic(tmp_path: Path) -> None:
    resources = _small_stack(tmp_path, alarm_email="ops@shop.example")
    (subscription,) = _of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email",
        "TopicArn": {"Ref": _alarm_topic(resources)},
        "Endpoint": "ops@shop.example",
    }


def _queue_policy(resources: dict[str, dict[str, Any]], queue_id: str) -> list[dict[str, Any]]:
    (statements,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(resources, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    return statements


def test_queue_policies_deny_plain_http(resources) -> None:
    policies = _of_type(resources, "AWS::SQS::QueuePolicy")
    assert len(policies) == 2 * len(topology.QUEUES)
    rules_into = Counter(topology.physical(PREFIX, rule.queue) for rule in topology.EVENT_RULES)
    for policy in policies.values():
        (queue_id,) = [q["Ref"] for q in policy["Properties"]["Queues"]]
        deny, *others = policy["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        # Besides: EventBridge may deliver to the queues that event rules target (test_event_rule).
        name = resources[queue_id]["Properties"]["QueueName"]
        assert [s["Principal"] for s in others] == [{"Service": "events.amazonaws.com"}] * rules_into[name]


def test_event_bus(resources) -> None:
    _one(resources, "AWS::Events::EventBus", Name=topology.physical(PREFIX, topology.BUS))


@pytest.mark.parametrize("spec", topology.EVENT_RULES, ids=lambda r: r.logical)
def test_event_rule(resources, spec: topology.EventRule) -> None:
    rid, rule = _one(resources, "AWS::Events::Rule", Name=topology.physical(PREFIX, spec.logical))
    props = rule["Properties"]
    if spec.default_bus:
        assert props["EventBusName"] == "default"
    else:
        (bus,) = _of_type(resources, "AWS::Events::EventBus")
        assert props["EventBusName"] == {"Ref": bus}
    pattern = props["EventPattern"]
    assert pattern["detail-type"] == list(spec.detail_types)
    assert pattern.get("source") == ([spec.source] if spec.source else None)
    queue = _queue_id(resources, topology.physical(PREFIX, spec.queue))
    assert [t["Arn"] for t in props["Targets"]] == [_arn_of(queue)]
    # The queue lets the rules that feed it, and only them, send.
    allows = [s for s in _queue_policy(resources, queue) if s["Effect"] == "Allow"]
    assert len(allows) == len([r for r in topology.EVENT_RULES if r.queue == spec.queue])
    (allow,) = [s for s in allows if s["Condition"] == {"ArnEquals": {"aws:SourceArn": _arn_of(rid)}}]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert "sqs:SendMessage" in _as_list(allow["Action"])
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": _arn_of(rid)}}


def test_ses_feedback_rule_literals(resources) -> None:
    """SES bounces and complaints: from the default bus, of this stack's configuration set only."""
    _, rule = _one(resources, "AWS::Events::Rule", Name=f"{PREFIX}-ses-feedback")
    props = rule["Properties"]
    assert props["EventBusName"] == "default"
    assert props["EventPattern"] == {
        "source": ["aws.ses"],
        "detail-type": ["Email Bounced", "Email Complaint Received"],
        "detail": {"mail": {"tags": {"ses:configuration-set": [CONFIGURATION_SET]}}},
    }
    queue = _queue_id(resources, f"{PREFIX}-mail-events")
    assert props["Targets"][0]["Arn"] == _arn_of(queue)


def test_visibility_timeout_guard(monkeypatch) -> None:
    from cxloop_infra.messaging import check_visibility_timeouts

    check_visibility_timeouts()
    slow = topology.Function(
        "slow",
        service="feedback",
        handler="m:h",
        timeout_s=topology.FEEDBACK_EVENTS.visibility_timeout_s + 1,
        queue=topology.QueueTrigger(topology.FEEDBACK_EVENTS.logical),
    )
    monkeypatch.setattr(topology, "FUNCTIONS", (*topology.FUNCTIONS, slow))
    with pytest.raises(ValueError, match="visibility timeout"):
        check_visibility_timeouts()


# --- functions -------------------------------------------------------------------------------------


def test_one_lambda_per_topology_function(resources) -> None:
    # No extra helper Lambdas (e.g. the LogRetention custom resource): log groups are explicit.
    names = sorted(
        f["Properties"]["FunctionName"] for f in _of_type(resources, "AWS::Lambda::Function").values()
    )
    assert names == sorted(topology.physical(PREFIX, fn.logical) for fn in topology.FUNCTIONS)


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_function(resources, spec: topology.Function) -> None:
    fid, fn = _function(resources, spec.logical)
    props = fn["Properties"]
    module, function = spec.handler.split(":")
    if spec.package == "image":
        # A container image: the handler is the image's command, the dependencies are in the image.
        assert props["PackageType"] == "Image"
        assert props["ImageConfig"] == {"Command": [f"{module}.{function}"]}
        assert "ImageUri" in props["Code"]
        assert "Runtime" not in props and "Handler" not in props and "Layers" not in props
    else:
        assert props["Handler"] == f"{module}.{function}"
        assert props["Runtime"] == "python3.11"
        # Its layers: the runtime (Powertools, pydantic, boto3) and what it imports besides. CDK orders
        # them its own way; no two layers ship the same file (test_layers), so the order is moot.
        assert sorted(ref["Ref"] for ref in props["Layers"]) == sorted(
            _layer_id(resources, layer.name) for layer in builds.layers_of(spec)
        )
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.service
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    # Its metrics under the stack's prefix, where the alarms look for them.
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == PREFIX
    assert set(env) == {
        *spec.environment,
        *topology.RUNTIME_ENV,
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_LOG_LEVEL",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
    # Active tracing: Lambda's own segments in X-Ray, for every function.
    assert props["TracingConfig"] == {"Mode": "Active"}
    # Its own role, and its own log group kept 30 days.
    role_id = props["Role"]["Fn::GetAtt"][0]
    assert resources[role_id]["Type"] == "AWS::IAM::Role"
    log_id, _ = _one(
        resources,
        "AWS::Logs::LogGroup",
        LogGroupName=f"/aws/lambda/{topology.physical(PREFIX, spec.logical)}",
        RetentionInDays=30,
    )
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": log_id}}
    assert fid


def test_roles_are_not_shared(resources) -> None:
    roles = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in _of_type(resources, "AWS::Lambda::Function").values()
    ]
    assert len(set(roles)) == len(topology.FUNCTIONS)


def test_environment_values(resources) -> None:
    shops = _table_id(resources, "shops")
    feedback = _table_id(resources, "feedback")
    queue = _queue_id(resources, topology.physical(PREFIX, "feedback-events"))
    (bus,) = _of_type(resources, "AWS::Events::EventBus")
    (api,) = _of_type(resources, "AWS::ApiGatewayV2::Api")
    configuration_set, _ = _one(resources, "AWS::SES::ConfigurationSet", Name=CONFIGURATION_SET)
    expected = {
        topology.ENV_SHOPS_TABLE: {"Ref": shops},
        topology.ENV_FEEDBACK_TABLE: {"Ref": feedback},
        topology.ENV_REVIEWS_TABLE: {"Ref": _table_id(resources, "reviews")},
        topology.ENV_NOTIFIER_TABLE: {"Ref": _table_id(resources, "notifier")},
        topology.ENV_NOTIFIER_SENDER: "cxloop <alerts@cxloop.invalid>",
        topology.ENV_EVENTS_QUEUE_URL: {"Ref": queue},
        topology.ENV_EVENTS_DLQ_URL: {
            "Ref": _queue_id(resources, topology.dlq_name(PREFIX, topology.FEEDBACK_EVENTS))
        },
        topology.ENV_EVENT_BUS: {"Ref": bus},
        topology.ENV_SECRETS_PREFIX: PREFIX,
        # Survey links point at the API (https, no trailing slash: the $default stage is at the root).
        topology.ENV_PUBLIC_URL: {"Fn::GetAtt": [api, "ApiEndpoint"]},
        topology.ENV_DAY_SECONDS: "86400",
        topology.ENV_MAIL_TRANSPORT: "ses",
        topology.ENV_SMTP_HOST: "127.0.0.1",
        topology.ENV_SMTP_PORT: "25",
        topology.ENV_SES_CONFIGURATION_SET: {"Ref": configuration_set},
    }
    for spec in topology.FUNCTIONS:
        env = _function(resources, spec.logical)[1]["Properties"]["Environment"]["Variables"]
        for key in spec.environment:
            assert env[key] == expected[key], (spec.logical, key)


def _small_stack(tmp_path: Path, **config_values: Any) -> dict[str, dict[str, Any]]:
    """The stack's resources with ``config_values``, over a stand-in code package (zipping the
    repository again would only cost time)."""
    from aws_cdk import App
    from aws_cdk.assertions import Template
    from cxloop_infra import CxloopStack, InfraConfig
    from cxloop_infra.stack import FEATURE_FLAGS

    code = tmp_path / "code"
    code.mkdir()
    (code / "handler.py").write_text("")
    (code / "infra" / "images").mkdir(parents=True)
    (code / "infra" / "images" / "scoring.Dockerfile").write_text("FROM scratch\n")
    config = InfraConfig(
        account=ACCOUNT,
        region=REGION,
        prefix=PREFIX,
        code_root=code,
        layers_dir=str(stub_layers(tmp_path / "layers")),
        **config_values,
    )
    stack = CxloopStack(App(context=FEATURE_FLAGS, outdir=str(tmp_path / "out")), "override", config=config)
    resources: dict[str, dict[str, Any]] = Template.from_stack(stack).to_json()["Resources"]
    return resources


def test_public_url_override(tmp_path: Path) -> None:
    """A custom domain (context publicUrl) replaces the API endpoint in survey links."""
    url = "https://feedback.example.com"
    resources = _small_stack(tmp_path, public_url=url)
    users = [fn for fn in topology.FUNCTIONS if topology.ENV_PUBLIC_URL in fn.environment]
    assert users
    for spec in users:
        env = _function(resources, spec.logical)[1]["Properties"]["Environment"]["Variables"]
        assert env[topology.ENV_PUBLIC_URL] == url, spec.logical


def test_synth_without_built_layers_says_what_to_run(tmp_path: Path) -> None:
    from aws_cdk import App
    from cxloop_infra import CxloopStack, InfraConfig

    config = InfraConfig(
        account=ACCOUNT, region=REGION, code_root=tmp_path, layers_dir=str(tmp_path / "none")
    )
    with pytest.raises(
        ValueError, match=r"layersDir .*layer 'runtime' is not built.*cxloop deploy --dry-run"
    ):
        CxloopStack(App(outdir=str(tmp_path / "out")), "unbuilt", config=config)


def test_code_asset_holds_runtime_code_only(synth, resources) -> None:
    """The function package: the handlers and what they import, none of the development tree."""
    _, outdir = synth
    (asset_hash,) = {
        f["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        for f in _of_type(resources, "AWS::Lambda::Function").values()
        if "S3Key" in f["Properties"]["Code"]
    }
    asset = outdir / f"asset.{asset_hash}"
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    for spec in topology.FUNCTIONS:
        if spec.package == "zip":
            assert spec.handler.split(":")[0].replace(".", "/") + ".py" in files
    # The model and its training code go only into the scoring image.
    assert not any(p.startswith("services/scoring/") for p in files)
    assert "shared/topology.py" in files
    assert "shared/settings.py" in files
    for path in files:
        top = path.split("/")[0]
        assert top not in {".venv", ".git", "tests", "infra", "benchmarks", "docs"}, path
        assert not path.startswith("cxloop/local/"), path
        assert not path.endswith((".md", ".pyc")), path
        assert "__pycache__" not in path, path


def test_scoring_image_asset(synth) -> None:
    """The scoring image is built by `cdk deploy` from the repository with its Dockerfile; synth only
    records it, and the context holds the model but no development tree."""
    _, outdir = synth
    manifest = json.loads(next(outdir.glob("*.assets.json")).read_text())
    images = list(manifest["dockerImages"].values())
    assert len(images) == len([f for f in topology.FUNCTIONS if f.package == "image"]) == 1
    source = images[0]["source"]
    assert source["dockerFile"] == "infra/images/scoring.Dockerfile"
    assert source["platform"] == "linux/arm64"
    context = outdir / source["directory"]
    files = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert "services/scoring/handlers/consumer.py" in files
    assert "services/scoring/trained/meta.json" in files
    assert "infra/images/scoring.Dockerfile" in files
    assert "constraints.txt" in files and "pyproject.toml" in files
    for path in files:
        assert path.split("/")[0] not in {".venv", ".git", "tests", "benchmarks", "docs", "build"}, path
        assert "__pycache__" not in path and not path.startswith("infra/cdk.out"), path


def test_handler_string_conversion() -> None:
    from cxloop_infra.functions import lambda_handler

    assert lambda_handler("services.feedback.handlers.webhooks:handler") == (
        "services.feedback.handlers.webhooks.handler"
    )
    for bad in ("services.feedback.handlers.webhooks.handler", "a:b:c", ":handler", "module:"):
        with pytest.raises(ValueError):
            lambda_handler(bad)


# --- triggers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [f for f in topology.FUNCTIONS if f.queue], ids=lambda f: f.logical)
def test_sqs_event_source(resources, spec: topology.Function) -> None:
    assert spec.queue is not None
    fid, _ = _function(resources, spec.logical)
    queue = _queue_id(resources, topology.physical(PREFIX, spec.queue.queue))
    rid, mapping = _one(resources, "AWS::Lambda::EventSourceMapping", FunctionName={"Ref": fid})
    props = mapping["Properties"]
    assert props["EventSourceArn"] == _arn_of(queue)
    assert props["BatchSize"] == spec.queue.batch_size
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    if spec.queue.max_batching_window_s:
        assert props["MaximumBatchingWindowInSeconds"] == spec.queue.max_batching_window_s
    else:
        assert "MaximumBatchingWindowInSeconds" not in props
    assert rid


def test_event_source_literals(resources) -> None:
    mappings = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    consumers = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"] for m in mappings}
    names = (
        "feedback-events",
        "feedback-mail-events",
        "feedback-readings",
        "reviews-events",
        "notifier-events",
        "scoring-consumer",
    )
    expected = {_function(resources, name)[0] for name in names}
    assert set(consumers) == expected
    for props in consumers.values():
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for name in names[:5]:
        assert consumers[_function(resources, name)[0]]["BatchSize"] == 10
    # The model is fastest on many texts at once: up to 50, gathered for at most 5 s.
    scoring = consumers[_function(resources, "scoring-consumer")[0]]
    assert (scoring["BatchSize"], scoring["MaximumBatchingWindowInSeconds"]) == (50, 5)
    assert scoring["EventSourceArn"] == _arn_of(_queue_id(resources, f"{PREFIX}-scoring-events"))
    mail_events = consumers[_function(resources, "feedback-mail-events")[0]]
    assert mail_events["EventSourceArn"] == _arn_of(_queue_id(resources, f"{PREFIX}-mail-events"))


@pytest.mark.parametrize("spec", [f for f in topology.FUNCTIONS if f.schedule], ids=lambda f: f.logical)
def test_schedule(resources, spec: topology.Function) -> None:
    assert spec.schedule is not None
    fid, _ = _function(resources, spec.logical)
    name = f"{topology.physical(PREFIX, spec.logical)}-schedule"
    _, rule = _one(resources, "AWS::Events::Rule", ScheduleExpression=spec.schedule.expression, Name=name)
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [_arn_of(fid)]
    _one(
        resources,
        "AWS::Lambda::Permission",
        FunctionName=_arn_of(fid),
        Principal="events.amazonaws.com",
    )


def test_dispatcher_runs_every_minute_and_may_send(resources) -> None:
    fid, _ = _function(resources, "feedback-dispatcher")
    name = f"{topology.physical(PREFIX, 'feedback-dispatcher')}-schedule"
    _, rule = _one(resources, "AWS::Events::Rule", ScheduleExpression="rate(1 minute)", Name=name)
    assert rule["Properties"]["Targets"][0]["Arn"] == _arn_of(fid)
    statements = _statements(resources, "feedback-dispatcher")
    for action in ("ses:SendEmail", "ses:SendRawEmail"):
        assert set(_allowed(statements, action)) == SES_RESOURCES, action


# --- HTTP API --------------------------------------------------------------------------------------


def test_http_routes(resources) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
    }
    assert "POST /webhooks/{platform}/{shop_id}" in routes
    expected = {f"{r.method} {r.path}": fn for fn in topology.FUNCTIONS for r in fn.routes}
    assert set(routes) == set(expected)
    for key, fn in expected.items():
        integration_id = routes[key]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = resources[integration_id]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == _arn_of(_function(resources, fn.logical)[0])


def test_answer_routes_literals(resources) -> None:
    fid, _ = _function(resources, "feedback-answers")
    wired = set()
    for route in _of_type(resources, "AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        if resources[integration_id]["Properties"]["IntegrationUri"] == _arn_of(fid):
            wired.add(route["Properties"]["RouteKey"])
    assert wired == {"GET /r/{token}", "POST /r/{token}", "GET /u/{token}", "POST /u/{token}"}
    # API Gateway may invoke it, from this API only.
    (api,) = _of_type(resources, "AWS::ApiGatewayV2::Api")
    permissions = [
        p["Properties"]
        for p in _of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == _arn_of(fid)
    ]
    assert permissions
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert {"Ref": api} in permission["SourceArn"]["Fn::Join"][1]


def test_default_stage_is_throttled(resources) -> None:
    (stage,) = _of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 400, "ThrottlingRateLimit": 200}


def test_outputs(template) -> None:
    outputs = template.to_json()["Outputs"]
    expected = {"ApiUrl", "WebhookUrlTemplate", "EventBusName", "ShopsTableName", "FeedbackTableName"}
    expected |= {"FeedbackEventsQueueUrl", "FeedbackEventsDlqUrl", "MailEventsQueueUrl", "MailEventsDlqUrl"}
    expected |= {"PublicUrl", "SesConfigurationSetName", "LinkKeysSecretName"}
    assert expected <= set(outputs)
    assert outputs["ApiUrl"]["Value"] == {"Fn::GetAtt": [next(iter(_api_ids(template))), "ApiEndpoint"]}
    assert outputs["PublicUrl"]["Value"] == outputs["ApiUrl"]["Value"]
    assert outputs["LinkKeysSecretName"]["Value"] == topology.link_keys_secret(PREFIX)


def _api_ids(template: Any) -> list[str]:
    return list(template.find_resources("AWS::ApiGatewayV2::Api"))


# --- surveys ---------------------------------------------------------------------------------------


def test_ses_configuration_set(resources) -> None:
    cid, configuration_set = _one(resources, "AWS::SES::ConfigurationSet", Name=CONFIGURATION_SET)
    assert configuration_set["Properties"]["SuppressionOptions"] == {
        "SuppressedReasons": ["BOUNCE", "COMPLAINT"]
    }
    (destination,) = [
        d["Properties"]
        for d in _of_type(resources, "AWS::SES::ConfigurationSetEventDestination").values()
        if d["Properties"]["ConfigurationSetName"] == {"Ref": cid}
    ]
    event_destination = destination["EventDestination"]
    assert event_destination["Enabled"] is True
    # SES publishes to the default bus only; the ses-feedback rule picks the events up there.
    assert event_destination["EventBridgeDestination"] == {"EventBusArn": DEFAULT_BUS_ARN}
    assert sorted(t.upper() for t in event_destination["MatchingEventTypes"]) == ["BOUNCE", "COMPLAINT"]


def test_link_keys_secret(resources) -> None:
    _, secret = _one(resources, "AWS::SecretsManager::Secret", Name=topology.link_keys_secret(PREFIX))
    # What shared/link_keys.py accepts: {"signing_key": "<at least 32 characters>"}.
    generate = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {}
    assert generate["GenerateStringKey"] == "signing_key"
    assert generate["PasswordLength"] >= 32
    assert generate["ExcludePunctuation"] is True
    assert secret["DeletionPolicy"] == "Retain"
    readers = {fn.logical for fn in topology.FUNCTIONS if ("link-keys", "read") in fn.grants}
    # Survey links are made and read by these; approve links by the notifier's consumer and pages;
    # dashboard sessions by the dashboard's pages.
    assert readers == {
        "feedback-dispatcher", "feedback-answers", "notifier-events", "notifier-actions", "dashboard-pages"
    }  # fmt: skip
    for spec in topology.FUNCTIONS:
        readable = _allowed(_statements(resources, spec.logical), "secretsmanager:GetSecretValue")
        assert (LINK_KEYS_ARN in readable) == (spec.logical in readers), spec.logical


# --- least privilege -------------------------------------------------------------------------------


def test_webhook_intake_cannot_write_shops_or_publish(resources) -> None:
    statements = _statements(resources, "feedback-webhooks")
    shops = _arn_of(_table_id(resources, "shops"))
    for action in WRITE_ACTIONS:
        assert shops not in _allowed(statements, action), action
    assert _allowed(statements, "events:PutEvents") == []
    assert _allowed(statements, "secretsmanager:DeleteSecret") == []
    # The shops' secrets only: the internet-facing intake never reads the link keys.
    assert set(_allowed(statements, "secretsmanager:GetSecretValue")) == {SECRETS_ARN}
    assert _allowed(statements, "ses:SendEmail") == []


def test_events_consumer_publishes_to_the_bus_only(resources) -> None:
    statements = _statements(resources, "feedback-events")
    (bus,) = _of_type(resources, "AWS::Events::EventBus")
    assert _allowed(statements, "events:PutEvents") == [_arn_of(bus)]
    assert _allowed(statements, "secretsmanager:DeleteSecret") == [SECRETS_ARN]
    queue = _arn_of(_queue_id(resources, topology.physical(PREFIX, "feedback-events")))
    assert queue in _allowed(statements, "sqs:ReceiveMessage")
    assert queue in _allowed(statements, "sqs:DeleteMessage")


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_permissions_follow_topology_grants(resources, spec: topology.Function) -> None:
    statements = _statements(resources, spec.logical)
    grants = set(spec.grants)
    assert bool(_allowed(statements, "events:PutEvents")) == ((topology.BUS, "put") in grants)
    readable = set(_allowed(statements, "secretsmanager:GetSecretValue"))
    assert (SECRETS_ARN in readable) == (("secrets", "read") in grants)
    assert (LINK_KEYS_ARN in readable) == (("link-keys", "read") in grants)
    deletes = {("secrets", "delete"), ("review-credentials", "delete"), ("notifier-secrets", "delete")}
    assert bool(_allowed(statements, "secretsmanager:DeleteSecret")) == bool(deletes & grants)
    assert LINK_KEYS_ARN not in _allowed(statements, "secretsmanager:DeleteSecret")
    assert bool(_allowed(statements, "ses:SendEmail")) == (("ses", "send") in grants)
    assert bool(_allowed(statements, "ses:SendRawEmail")) == (("ses", "send") in grants)
    for table in topology.TABLES:
        arn = _arn_of(_table_id(resources, table.logical))
        readable = arn in _allowed(statements, "dynamodb:GetItem")
        writable = arn in _allowed(statements, "dynamodb:PutItem")
        assert writable == ((table.logical, "write") in grants), table.logical
        assert readable == bool({(table.logical, "read"), (table.logical, "write")} & grants), table.logical
    for queue in topology.QUEUES:
        arn = _arn_of(_queue_id(resources, topology.physical(PREFIX, queue.logical)))
        assert (arn in _allowed(statements, "sqs:SendMessage")) == ((queue.logical, "send") in grants)
        dlq = _arn_of(_queue_id(resources, topology.dlq_name(PREFIX, queue)))
        assert (dlq in _allowed(statements, "sqs:SendMessage")) == ((queue.logical, "dead-letter") in grants)


def test_the_intake_may_make_its_store_transaction(resources) -> None:
    """The raw event is put in one transaction with a check of the shop's tombstone (issue 15): IAM
    authorises a TransactWriteItems by its parts, PutItem and ConditionCheckItem on the table."""
    statements = _statements(resources, "feedback-webhooks")
    feedback = _arn_of(_table_id(resources, "feedback"))
    for action in ("dynamodb:PutItem", "dynamodb:ConditionCheckItem"):
        assert feedback in _allowed(statements, action), action


SERVICES = ("dynamodb", "sqs", "events", "secretsmanager", "ses")


def test_only_the_puller_and_the_review_webhook_read_review_credentials(resources) -> None:
    pattern = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PREFIX}/shops/*/reviews/*"
    for spec in topology.FUNCTIONS:
        readable = set(_allowed(_statements(resources, spec.logical), "secretsmanager:GetSecretValue"))
        assert (pattern in readable) == (spec.logical in ("reviews-puller", "reviews-webhooks")), spec.logical


# The one grant on "*": X-Ray's PutTraceSegments and PutTelemetryRecords take no resource ARN (active
# tracing, which CDK grants with Tracing.ACTIVE). Nothing else may be allowed on "*".
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_no_wildcards(resources) -> None:
    xray_grants = 0
    for rid, res in resources.items():
        if res["Type"] == "AWS::IAM::Policy":
            statements = res["Properties"]["PolicyDocument"]["Statement"]
        elif res["Type"] == "AWS::IAM::Role":
            statements = [
                s for p in res["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
            ]
        else:
            continue
        for s in statements:
            actions = _as_list(s["Action"])
            assert "*" not in actions, rid
            assert not any(a in {f"{service}:*" for service in SERVICES} for a in actions), rid
            if any(a.startswith(tuple(f"{service}:" for service in SERVICES)) for a in actions):
                assert "*" not in _as_list(s["Resource"]), (rid, s)
            if "*" in _as_list(s["Resource"]):
                assert set(actions) == XRAY_ACTIONS and _as_list(s["Resource"]) == ["*"], (rid, s)
                xray_grants += 1
    assert xray_grants == len(topology.FUNCTIONS)  # one per function's role, and only those


# --- cfn-lint --------------------------------------------------------------------------------------


def _cfn_lint() -> list[str]:
    script = Path(sys.executable).with_name("cfn-lint")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]


def test_cfn_lint(template, tmp_path: Path) -> None:
    path = tmp_path / "cxloop.template.json"
    path.write_text(json.dumps(template.to_json(), indent=1))
    # W3005 ("dependency already enforced by a GetAtt"): CDK adds an explicit DependsOn from each
    # function to its role's default policy *and* role so the policy exists before the function is
    # invoked; the redundant role edge is harmless. No error (E*) is ignored.
    result = subprocess.run(
        [*_cfn_lint(), "--regions", REGION, "--ignore-checks", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- configuration ---------------------------------------------------------------------------------


def test_config_precedence() -> None:
    from cxloop_infra.config import InfraConfig

    context = {"prefix": "acme", "account": "210987654321"}
    environ = {
        "CXLOOP_PREFIX": "ignored",
        "CXLOOP_REGION": "eu-west-1",
        "CDK_DEFAULT_REGION": "ignored-too",
        "CXLOOP_LAYERS_DIR": "/tmp/layers",
    }
    config = InfraConfig.resolve(context.get, environ)
    assert (config.prefix, config.account, config.region) == ("acme", "210987654321", "eu-west-1")
    assert config.stack_name == "cxloop"
    assert config.layers_path == Path("/tmp/layers")
    assert config.secrets_arn_pattern == "arn:aws:secretsmanager:eu-west-1:210987654321:secret:acme/shops/*"
    assert config.link_keys_arn_pattern == (
        "arn:aws:secretsmanager:eu-west-1:210987654321:secret:acme/surveys/link-keys-??????"
    )
    assert config.ses_configuration_set_arn.endswith(
        ":ses:eu-west-1:210987654321:configuration-set/acme-surveys"
    )
    assert config.public_url is None
    # The functions' own CXLOOP_PUBLIC_URL (a loopback URL in the local stack) is not read.
    assert InfraConfig.resolve({}.get, {"CXLOOP_PUBLIC_URL": "http://127.0.0.1:8080"}).public_url is None
    assert InfraConfig.resolve({}.get, {}).alarm_email is None
    alarmed = InfraConfig.resolve({}.get, {"CXLOOP_INFRA_ALARM_EMAIL": "ops@shop.example"})
    assert alarmed.alarm_email == "ops@shop.example"
    custom = InfraConfig.resolve({}.get, {"CXLOOP_INFRA_PUBLIC_URL": "https://feedback.example.com"})
    assert custom.public_url == "https://feedback.example.com"

    defaults = InfraConfig.resolve({}.get, {})
    assert (defaults.account, defaults.region, defaults.prefix) == ("123456789012", "us-east-1", "cxloop")
    assert defaults.layers_path == defaults.code_root / "build" / "layers"
    assert InfraConfig.resolve({}.get, {"CDK_DEFAULT_ACCOUNT": "111122223333"}).account == "111122223333"
    relative = InfraConfig.resolve({"layersDir": "elsewhere/layers"}.get, {})
    assert relative.layers_path == relative.code_root / "elsewhere" / "layers"


@pytest.mark.parametrize(
    "bad",
    [
        {"prefix": "Bad_Prefix"},
        {"account": "1234"},
        {"publicUrl": "http://feedback.example.com"},  # links must be https (RFC 8058)
        {"publicUrl": "https://feedback.example.com/"},  # links are <publicUrl>/r/<token>
        {"publicUrl": "feedback.example.com"},
        {"alarmEmail": "not-an-address"},
        {"alarmEmail": "a@example.com, b@example.com"},  # one address, as SNS subscribes it
        {"alarmEmail": "Ops <ops@example.com>"},
    ],
)
def test_config_rejects_invalid_values(bad: dict[str, Any]) -> None:
    from cxloop_infra.config import InfraConfig

    with pytest.raises(ValueError):
        InfraConfig.resolve(bad.get, {})


def test_the_notifier_sender_runs_alone_and_reads_only_slack_urls(resources) -> None:
    _, sender = _function(resources, "notifier-sender")
    assert sender["Properties"]["ReservedConcurrentExecutions"] == 1
    statements = _statements(resources, "notifier-sender")
    readable = _allowed(statements, "secretsmanager:GetSecretValue")
    assert readable == [f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{PREFIX}/shops/*/notifier/*"]
    assert _allowed(statements, "secretsmanager:DeleteSecret") == []
    for other in ("notifier-events", "notifier-actions", "feedback-events"):
        assert "ReservedConcurrentExecutions" not in _function(resources, other)[1]["Properties"]


def test_infra_readme_lists_what_the_template_creates(template) -> None:
    """infra/README.md's "What gets created" is the synthesized template's, and stands on its own."""
    from cxloop.deploy import resource_table

    text = resource_table.README.read_text()
    assert resource_table.section(text) == resource_table.table(template.to_json()), (
        "infra/README.md's resource table is stale: run `cxloop deploy --dry-run` and "
        "`python -m cxloop.deploy.resource_table`"
    )
    assert "../shared" not in text and "FACTS.md" not in text
