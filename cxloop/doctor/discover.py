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


class Where(BaseModel):
    """Where a deployed stack is looked for: its CloudFormation name, else resources under a prefix."""

    model_config = ConfigDict(frozen=True)

    stack_name: str
    region: str
    profile: str | None = None
    prefix: str = "cxloop"  # the CLI's --prefix, used when there is no stack of that name
    api_url: str | None = None  # the CLI's --api-url, the API's URL when no stack output names it


def deployed(where: Where, clients: Mapping[str, Any]) -> Discovery:
    """A stack `cxloop deploy` made: names from its outputs (infra/README.md lists them). Without a
    stack of that name, the resources named by the prefix (as the other commands find them), with the
    missing stack reported as a failure; neither: :class:`StackMissing`."""
    try:
        stack = clients["cloudformation"].describe_stacks(StackName=where.stack_name)["Stacks"][0]
    except ClientError as e:
        if "does not exist" not in str(e.response.get("Error", {}).get("Message", "")):
            raise
        return _by_prefix(where, clients)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    prefix = outputs.get("ShopsTableName", f"{where.prefix}-shops").removesuffix("-shops")
    status = stack.get("StackStatus", "")
    healthy = status in HEALTHY_STACK
    found = _finding(
        where,
        Status.OK if healthy else Status.FAIL,
        status or "no status",
        ""
        if healthy
        else f"CloudFormation console ({where.region}) → {where.stack_name} → Events says what "
        f"failed; then cxloop deploy --region {where.region}",
    )
    queues = tuple(_queue(clients["sqs"], outputs, prefix, q) for q in topology.QUEUES)
    urls = (outputs.get("ApiUrl") or where.api_url, outputs.get("PublicUrl") or outputs.get("ApiUrl"))
    return _discovery(where, clients, prefix, queues, urls, found, outputs.get("LinkKeysSecretName"))


def _by_prefix(where: Where, clients: Mapping[str, Any]) -> Discovery:
    from cxloop.resources import resolve

    try:
        resources = resolve(clients["sqs"], where.prefix)
    except ClientError as e:
        raise StackMissing(where.stack_name) from e
    missing = _finding(
        where,
        Status.FAIL,
        f"no CloudFormation stack of that name in {where.region}: checked the resources named by --prefix "
        f"{where.prefix} instead",
        "give --stack with the stackName it was deployed with, or deploy it: cxloop deploy --region "
        f"{where.region}",
    )
    queues = tuple(
        Queue(
            logical=q.logical,
            dlq_name=topology.dlq_name(where.prefix, q),
            dlq_url=resources.dlq_urls[q.logical],
        )
        for q in topology.QUEUES
    )
    name = f"the resources under --prefix {where.prefix} ({where.region})"
    return _discovery(
        where, clients, where.prefix, queues, (where.api_url, where.api_url), missing, None, name
    )


def _discovery(
    where: Where,
    clients: Mapping[str, Any],
    prefix: str,
    queues: tuple[Queue, ...],
    urls: tuple[str | None, str | None],
    found: CheckResult,
    link_keys: str | None,
    name: str = "",
) -> Discovery:
    findings = [found]
    alert_sender, problem = _alert_sender(clients["lambda"], prefix, where.region)
    if problem:
        findings.append(problem)
    target = Target(
        local=False,
        name=name or f"CloudFormation stack {where.stack_name} ({where.region})",
        prefix=prefix,
        region=where.region,
        api_url=urls[0],
        public_url=urls[1] or urls[0],
        alert_sender=alert_sender,
        link_keys_secret=link_keys or topology.link_keys_secret(prefix),
        queues=queues,
        shops=tuple(shops(clients["dynamodb"], topology.physical(prefix, topology.SHOPS.logical))),
        # The other commands take AWS's own variables for the account and region, and --prefix.
        cli_env=" ".join(
            [*([f"AWS_PROFILE={where.profile}"] if where.profile else []), f"AWS_REGION={where.region}"]
        ),
        cli_options=f"--prefix {prefix}" if prefix != "cxloop" else "",
    )
    return Discovery(target=target, findings=tuple(findings))


def _finding(where: Where, status: Status, detail: str, fix: str) -> CheckResult:
    return CheckResult(check="stack", subject=where.stack_name, status=status, detail=detail, fix=fix)


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
