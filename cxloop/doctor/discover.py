"""What the doctor checks, read from the stack itself: the local stack from its ``stack.json`` and
tables; a deployed one from its CloudFormation outputs, its notifier's environment and its tables.
Reads only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from cxloop.doctor.model import CheckResult, Queue, ShopFacts, Status, Target
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore
from services.notifier.adapters.dynamo_settings import DynamoAlertSettings
from shared import topology
from shared.dynamo_shops import DynamoShopDirectory
from shared.settings import NotifierSettings

HEALTHY_STACK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
ALERT_FUNCTION = "notifier-sender"  # its CXLOOP_NOTIFIER_SENDER is the From of alerts and digests


class StackMissing(Exception):
    """No CloudFormation stack of that name where the credentials point."""


class Discovery(BaseModel):
    """The target, and what finding it already showed (the stack's status; a setting not readable)."""

    model_config = ConfigDict(frozen=True)

    target: Target
    findings: tuple[CheckResult, ...] = ()


def shops(dynamodb: Any, shops_table: str) -> list[ShopFacts]:
    """Each shop with the senders it uses: its survey programme's and its notifier `--reply-from`."""
    programmes = DynamoProgrammeStore(dynamodb, shops_table)
    alerts = DynamoAlertSettings(dynamodb, shops_table, cache_seconds=0)
    found = []
    for shop in DynamoShopDirectory(dynamodb, shops_table, cache_seconds=0).list():
        programme = programmes.get(shop.shop_id)
        found.append(
            ShopFacts(
                shop_id=shop.shop_id,
                platforms=tuple(p.value for p in shop.platforms),
                survey_sender=programme.brand.sender if programme else None,
                survey_enabled=bool(programme and programme.enabled),
                reply_from=alerts.get(shop.shop_id).reply_from,
            )
        )
    return sorted(found, key=lambda s: s.shop_id)


def local(state: Mapping[str, Any], clients: Mapping[str, Any], state_dir: str) -> Discovery:
    """The running local stack (``cxloop run``), as ``<state_dir>/stack.json`` names it."""
    from cxloop.resources import resolve

    prefix, region = str(state.get("prefix") or "cxloop"), str(state.get("region") or "us-east-1")
    resources = resolve(clients["sqs"], prefix)
    queues = tuple(
        Queue(logical=q.logical, dlq_name=topology.dlq_name(prefix, q), dlq_url=resources.dlq_urls[q.logical])
        for q in topology.QUEUES
    )
    api_url = state.get("api_url")
    options = [f"--state-dir {state_dir}"] if state_dir != ".cxloop" else []
    options += [f"--prefix {prefix}"] if prefix != "cxloop" else []
    target = Target(
        local=True,
        name=f"local stack at {api_url} (AWS at {state.get('moto_url')})",
        prefix=prefix,
        region=region,
        api_url=api_url,
        public_url=api_url,  # the local stack's CXLOOP_PUBLIC_URL (cxloop.local.stack.survey_env)
        smtp=state.get("smtp"),
        link_keys_secret=topology.link_keys_secret(prefix),
        queues=queues,
        shops=tuple(shops(clients["dynamodb"], resources.tables["shops"])),
        cli_options=" ".join(options),
    )
    return Discovery(target=target)


def deployed(
    stack_name: str, clients: Mapping[str, Any], region: str, profile: str | None = None
) -> Discovery:
    """A stack `cxloop deploy` made: names from its outputs (infra/README.md lists them)."""
    try:
        stacks = clients["cloudformation"].describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as e:
        if "does not exist" in str(e.response.get("Error", {}).get("Message", "")):
            raise StackMissing(stack_name) from e
        raise
    stack = stacks[0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    prefix = outputs.get("ShopsTableName", f"{stack_name}-shops").removesuffix("-shops")
    findings = [_stack_status(stack_name, stack.get("StackStatus", ""), region)]
    alert_sender, problem = _alert_sender(clients["lambda"], prefix, region)
    if problem:
        findings.append(problem)
    target = Target(
        local=False,
        name=f"CloudFormation stack {stack_name} ({region})",
        prefix=prefix,
        region=region,
        api_url=outputs.get("ApiUrl"),
        public_url=outputs.get("PublicUrl") or outputs.get("ApiUrl"),
        alert_sender=alert_sender,
        link_keys_secret=outputs.get("LinkKeysSecretName") or topology.link_keys_secret(prefix),
        queues=tuple(_queue(clients["sqs"], outputs, prefix, q) for q in topology.QUEUES),
        shops=tuple(shops(clients["dynamodb"], outputs.get("ShopsTableName", f"{prefix}-shops"))),
        # The other commands take AWS's own variables for the account and region, and --prefix.
        cli_env=" ".join([*([f"AWS_PROFILE={profile}"] if profile else []), f"AWS_REGION={region}"]),
        cli_options=f"--prefix {prefix}" if prefix != "cxloop" else "",
    )
    return Discovery(target=target, findings=tuple(findings))


def _camel(logical: str) -> str:
    """``feedback-events`` → ``FeedbackEvents``, as the stack names its outputs."""
    return "".join(part.capitalize() for part in logical.split("-"))


def _queue(sqs: Any, outputs: Mapping[str, str], prefix: str, queue: topology.Queue) -> Queue:
    name = topology.dlq_name(prefix, queue)
    url = outputs.get(f"{_camel(queue.logical)}DlqUrl")
    if url is None:  # an older stack without the output: the queue by its name
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except (ClientError, BotoCoreError):
            url = name  # the depth check then says it cannot read it
    return Queue(logical=queue.logical, dlq_name=name, dlq_url=url)


def _stack_status(stack_name: str, status: str, region: str) -> CheckResult:
    healthy = status in HEALTHY_STACK
    return CheckResult(
        check="stack",
        subject=stack_name,
        status=Status.OK if healthy else Status.FAIL,
        detail=status or "no status",
        fix=""
        if healthy
        else f"CloudFormation console ({region}) → {stack_name} → Events says what failed; then "
        f"cxloop deploy --region {region}",
    )


def _alert_sender(lambda_client: Any, prefix: str, region: str) -> tuple[str | None, CheckResult | None]:
    name = topology.physical(prefix, ALERT_FUNCTION)
    try:
        config = lambda_client.get_function_configuration(FunctionName=name)
    except (ClientError, BotoCoreError) as e:
        return None, CheckResult(
            check="ses-sender",
            subject="alerts and digests",
            status=Status.WARN,
            detail=f"not checked: could not read {name}'s {topology.ENV_NOTIFIER_SENDER} ({e})",
            fix=f"use credentials allowed lambda:GetFunctionConfiguration on {name} in {region}",
        )
    variables = (config.get("Environment") or {}).get("Variables") or {}
    default = NotifierSettings.model_fields["sender"].default  # what the function uses when unset
    return variables.get(topology.ENV_NOTIFIER_SENDER, default), None
