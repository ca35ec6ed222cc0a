"""Lambda functions, one per ``topology.FUNCTIONS`` entry, with least-privilege roles and triggers.

Packaging: every zip function ships the same code asset, the repository root minus everything that is
not runtime code (CODE_EXCLUDES), and its layers (``topology.Function.layers`` after the runtime layer):
the third-party packages at the pins of constraints.txt, boto3 included, built for arm64 by
``cxloop deploy`` (cxloop/deploy/layers.py). Synth only reads those builds: no network, no Docker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from cxloop.deploy import layers as builds
from cxloop_infra.config import InfraConfig, construct_id
from cxloop_infra.data import Data
from cxloop_infra.messaging import Messaging
from cxloop_infra.surveys import Surveys
from shared import topology

RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# Glob patterns (relative to the repository root) kept out of the function package.
CODE_EXCLUDES = (
    ".git",
    ".git*",
    ".venv",
    ".ci",
    ".cxloop",
    ".hypothesis",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "**/__pycache__",
    "*.pyc",
    "*.egg-info",
    "*.md",
    "build",
    "cdk.out",
    "test-output",
    "benchmarks",
    "docs",
    "infra",
    "tests",
    "cxloop/local",
    "pyproject.toml",
    "Makefile",
)
# The zip asset leaves out what only an image function needs (the trained model, its training code).
ZIP_ONLY_EXCLUDES = ("services/scoring",)
IMAGES = "infra/images"

SECRETS = "secrets"
LINK_KEYS = "link-keys"
SES = "ses"
SES_SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")

# Survey functions: a rule's "day" is a real day in AWS (the local demo compresses it), and mail leaves
# through SES. The SMTP settings are unused with SES; they are set so every function sees the same names.
DAY_SECONDS = "86400"
MAIL_TRANSPORT = "ses"
SMTP_HOST = "127.0.0.1"
SMTP_PORT = "25"


def lambda_handler(handler: str) -> str:
    """``services.feedback.handlers.webhooks:handler`` → ``services.feedback.handlers.webhooks.handler``."""
    module, sep, function = handler.partition(":")
    if not sep or not module or not function or ":" in function:
        raise ValueError(f"handler {handler!r} is not 'module:function'")
    return f"{module}.{function}"


class Functions(Construct):
    """The functions (by topology logical name), wired to their queues, schedules and resources."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        config: InfraConfig,
        data: Data,
        messaging: Messaging,
        surveys: Surveys,
        public_url: str,
    ) -> None:
        """``public_url``: the base of survey links (the HTTP API's URL, a token, or a custom domain)."""
        super().__init__(scope, construct_id_)
        self._config = config
        self._data = data
        self._messaging = messaging
        self._surveys = surveys
        self._public_url = public_url
        self.functions: dict[str, lambda_.Function] = {}

        code = lambda_.Code.from_asset(str(config.code_root), exclude=[*CODE_EXCLUDES, *ZIP_ONLY_EXCLUDES])
        self.layers: dict[str, lambda_.LayerVersion] = {}
        for spec in topology.FUNCTIONS:
            self.functions[spec.logical] = self._function(spec, code)

    def _layer(self, layer: topology.Layer) -> lambda_.LayerVersion:
        """One LayerVersion per layer, shared by the functions that get it."""
        if layer.name not in self.layers:
            archive = builds.build_path(layer, builds.LAMBDA, self._config.layers_path) / "layer.zip"
            if not archive.is_file():
                raise ValueError(
                    f"layersDir {self._config.layers_path}: layer {layer.name!r} is not built for the "
                    f"current pins ({archive.parent.name}); run `cxloop deploy --dry-run` (it builds the "
                    "layers, then synthesizes)"
                )
            self.layers[layer.name] = lambda_.LayerVersion(
                self,
                f"{construct_id(layer.name)}Layer",
                layer_version_name=topology.physical(self._config.prefix, layer.name),
                code=lambda_.Code.from_asset(str(archive)),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description=f"cxloop {layer.name}: {', '.join(layer.distributions)} (constraints.txt)",
            )
        return self.layers[layer.name]

    def _function(self, spec: topology.Function, code: lambda_.Code) -> lambda_.Function:
        cid = construct_id(spec.logical)
        name = topology.physical(self._config.prefix, spec.logical)
        log_group = logs.LogGroup(
            self,
            f"{cid}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        common: dict[str, Any] = {
            "function_name": name,
            "architecture": ARCHITECTURE,
            "memory_size": spec.memory_mb,
            "timeout": Duration.seconds(spec.timeout_s),
            "environment": self._environment(spec),
            "log_group": log_group,
            # Lambda's own segments (init, invocation) in X-Ray; no tracing SDK in the code (see
            # shared/observability.py). CDK adds xray:PutTraceSegments/PutTelemetryRecords on "*".
            "tracing": lambda_.Tracing.ACTIVE,
            "description": f"cxloop {spec.service}: {spec.logical}",
        }
        if spec.reserved_concurrency is not None:
            common["reserved_concurrent_executions"] = spec.reserved_concurrency
        fn: lambda_.Function
        if spec.package == "image":
            fn = lambda_.DockerImageFunction(self, cid, code=self._image(spec), **common)
        else:
            fn = lambda_.Function(
                self,
                cid,
                runtime=RUNTIME,
                handler=lambda_handler(spec.handler),
                code=code,
                layers=[self._layer(layer) for layer in builds.layers_of(spec)],
                **common,
            )
        for resource, access in spec.grants:
            self._grant(spec.logical, fn, resource, access)
        if spec.queue is not None:
            window = spec.queue.max_batching_window_s
            fn.add_event_source(
                sources.SqsEventSource(
                    self._messaging.queues[spec.queue.queue],
                    batch_size=spec.queue.batch_size,
                    report_batch_item_failures=True,
                    max_batching_window=Duration.seconds(window) if window > 0 else None,
                )
            )
        if spec.schedule is not None:
            events.Rule(
                self,
                f"{cid}Schedule",
                rule_name=f"{name}-schedule",
                schedule=events.Schedule.expression(spec.schedule.expression),
                targets=[targets.LambdaFunction(fn)],
            )
        return fn

    def _image(self, spec: topology.Function) -> lambda_.DockerImageCode:
        """Built by `cdk deploy` (Docker), not by synth: the Dockerfile installs the pinned dependencies."""
        dockerfile = f"{IMAGES}/{spec.service}.Dockerfile"
        if not (self._config.code_root / dockerfile).is_file():
            raise ValueError(f"function {spec.logical!r}: no {dockerfile}")
        return lambda_.DockerImageCode.from_image_asset(
            str(self._config.code_root),
            file=dockerfile,
            cmd=[lambda_handler(spec.handler)],
            platform=ecr_assets.Platform.LINUX_ARM64,
            exclude=[e for e in CODE_EXCLUDES if e not in ("infra", "pyproject.toml")] + ["infra/cdk.out"],
        )

    def _environment(self, spec: topology.Function) -> dict[str, str]:
        resolvers: dict[str, Callable[[], str]] = {
            topology.ENV_SHOPS_TABLE: lambda: self._data.tables[topology.SHOPS.logical].table_name,
            topology.ENV_FEEDBACK_TABLE: lambda: self._data.tables[topology.FEEDBACK.logical].table_name,
            topology.ENV_REVIEWS_TABLE: lambda: self._data.tables[topology.REVIEWS.logical].table_name,
            topology.ENV_NOTIFIER_TABLE: lambda: self._data.tables[topology.NOTIFIER.logical].table_name,
            topology.ENV_EVENTS_QUEUE_URL: lambda: (
                self._messaging.queues[topology.FEEDBACK_EVENTS.logical].queue_url
            ),
            topology.ENV_EVENTS_DLQ_URL: lambda: (
                self._messaging.dead_letter_queues[topology.FEEDBACK_EVENTS.logical].queue_url
            ),
            topology.ENV_EVENT_BUS: lambda: self._messaging.bus.event_bus_name,
            topology.ENV_SECRETS_PREFIX: lambda: self._config.prefix,
            topology.ENV_PUBLIC_URL: lambda: self._public_url,
            topology.ENV_NOTIFIER_SENDER: lambda: self._config.notifier_sender,
            topology.ENV_DAY_SECONDS: lambda: DAY_SECONDS,
            topology.ENV_MAIL_TRANSPORT: lambda: MAIL_TRANSPORT,
            topology.ENV_SMTP_HOST: lambda: SMTP_HOST,
            topology.ENV_SMTP_PORT: lambda: SMTP_PORT,
            topology.ENV_SES_CONFIGURATION_SET: lambda: (
                self._surveys.configuration_set.configuration_set_name
            ),
        }
        environment = {
            **topology.RUNTIME_ENV,
            "POWERTOOLS_SERVICE_NAME": spec.service,
            "POWERTOOLS_LOG_LEVEL": self._config.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": self._config.metrics_namespace,
        }
        for key in spec.environment:
            if key not in resolvers:
                raise ValueError(f"function {spec.logical!r}: no infra value for environment variable {key}")
            environment[key] = resolvers[key]()
        return environment

    def _grant(self, logical: str, fn: lambda_.Function, resource: str, access: str) -> None:
        """Translate one topology grant into the narrowest IAM permissions that satisfy it."""
        tables, queues = self._data.tables, self._messaging.queues
        statement = self._statements().get((resource, access))
        if statement is not None:
            fn.add_to_role_policy(statement)
        elif resource in tables and access == "read":
            tables[resource].grant_read_data(fn)
        elif resource in tables and access == "write":
            tables[resource].grant_read_write_data(fn)
        elif resource in queues and access == "send":
            queues[resource].grant_send_messages(fn)
        elif resource in queues and access == "consume":
            queues[resource].grant_consume_messages(fn)
        elif resource in queues and access == "dead-letter":
            self._messaging.dead_letter_queues[resource].grant_send_messages(fn)
        elif resource == topology.BUS and access == "put":
            self._messaging.bus.grant_put_events_to(fn)
        else:
            raise ValueError(f"function {logical!r}: unsupported grant ({resource!r}, {access!r})")

    def _statements(self) -> dict[tuple[str, str], iam.PolicyStatement]:
        """The grants on resources outside the stack's tables, queues and bus, by (resource, access)."""
        config = self._config
        return {
            # The shops' webhook secrets.
            (SECRETS, "read"): iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[config.secrets_arn_pattern]
            ),
            # A shop's review-source credentials: only the puller.
            ("review-credentials", "read"): iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[config.review_credentials_arn_pattern]
            ),
            # A shop's review-source credentials when the shop is erased.
            ("review-credentials", "delete"): iam.PolicyStatement(
                actions=["secretsmanager:DeleteSecret"], resources=[config.review_credentials_arn_pattern]
            ),
            # A shop's Slack webhook URLs: the notifier's senders read them; erasure deletes them.
            ("notifier-secrets", "read"): iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[config.notifier_credentials_arn_pattern]
            ),
            ("notifier-secrets", "delete"): iam.PolicyStatement(
                actions=["secretsmanager:DeleteSecret"], resources=[config.notifier_credentials_arn_pattern]
            ),
            # The keys that sign survey links: only the functions that make or read links.
            (LINK_KEYS, "read"): iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[config.link_keys_arn_pattern]
            ),
            # A shop's secrets when it uninstalls: never the link keys.
            (SECRETS, "delete"): iam.PolicyStatement(
                actions=["secretsmanager:DeleteSecret"], resources=[config.secrets_arn_pattern]
            ),
            # SES authorizes a send against the sender identity and the configuration set it names.
            (SES, "send"): iam.PolicyStatement(
                actions=list(SES_SEND_ACTIONS),
                resources=[config.ses_identities_arn_pattern, config.ses_configuration_set_arn],
            ),
        }
