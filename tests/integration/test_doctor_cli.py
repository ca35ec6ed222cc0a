"""`cxloop doctor` end to end through the CLI: against a deployed stack (moto in-process, found by its
CloudFormation outputs) and against the local stack (its AWS server and gateway, found by stack.json),
each with something broken: a dead letter, an unverified sender, a queue without an alarm."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.ses.models import ses_backends
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from cxloop import doctor_commands
from cxloop.admin import Admin
from cxloop.cli import main
from cxloop.doctor.adapters import Boto3StackReader, UrllibProbe
from cxloop.doctor.ports import ReadFailed
from cxloop.local.gateway import Gateway
from cxloop.local.pages import Pages
from cxloop.local.runtime import Functions
from cxloop.local.sinks import SlackSink, SmtpSink
from cxloop.resources import provision, provision_link_keys
from shared import topology
from shared.tenancy import Platform, Shop
from tests.integration.conftest import Moto, Stack

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SANDBOX = {"ProductionAccessEnabled": False, "SendingEnabled": True, "SendQuota": {"Max24HourSend": 200.0}}


def doctor(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["--state-dir", str(tmp_path), "doctor", *argv])
    out, err = capsys.readouterr()
    return status, out, err


# --- a deployed stack -----------------------------------------------------------------------------


def ses_verified(domain: str) -> None:
    """SES verifies a domain outside its API (DNS records seen): play that part in moto's backend."""
    identity = ses_backends["123456789012"][REGION].email_identities[domain]
    identity.verified_for_sending_status = True
    identity.dkim_attributes["Status"] = "SUCCESS"


def deploy(aws: Moto, api_url: str) -> None:
    """What `cxloop deploy` leaves that the doctor reads: the stack's outputs naming the topology's
    resources, the notifier's sender in its environment, the link keys, the DLQ alarms (one missing)."""
    outputs: dict[str, Any] = {
        "ApiUrl": {"Value": api_url},
        "PublicUrl": {"Value": api_url},
        "ShopsTableName": {"Value": aws.resources.tables["shops"]},
        "LinkKeysSecretName": {"Value": topology.link_keys_secret("cxloop")},
    }
    for logical, url in aws.resources.dlq_urls.items():
        outputs["".join(p.capitalize() for p in logical.split("-")) + "DlqUrl"] = {"Value": url}
    template = {"Resources": {"Ops": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "ops"}}}}
    boto3.client("cloudformation", REGION).create_stack(
        StackName="cxloop", TemplateBody=json.dumps({**template, "Outputs": outputs})
    )
    role = boto3.client("iam").create_role(RoleName="notifier", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("h.py", "def handler(event, context): pass")
    boto3.client("lambda", REGION).create_function(
        FunctionName="cxloop-notifier-sender", Runtime="python3.11", Role=role, Handler="h.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {topology.ENV_NOTIFIER_SENDER: "Alerts <alerts@alerts.example>"}},
    )  # fmt: skip
    provision_link_keys(aws.clients["secretsmanager"])
    cloudwatch = boto3.client("cloudwatch", REGION)
    for q in topology.QUEUES:
        if q.logical != "scoring-events":
            cloudwatch.put_metric_alarm(
                AlarmName=f"any-name-{q.logical}", Namespace="AWS/SQS",
                MetricName="ApproximateNumberOfMessagesVisible",
                Dimensions=[{"Name": "QueueName", "Value": topology.dlq_name("cxloop", q)}],
                Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                AlarmActions=[f"arn:aws:sns:{REGION}:123456789012:ops"],
            )  # fmt: skip


@pytest.fixture
def ses_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto has no SES v2 GetAccount: answer it with the documented shape (a sandboxed account)."""
    build = doctor_commands._clients

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return types.SimpleNamespace(status_code=200, headers={}), dict(SANDBOX)

    def clients(session: Any, endpoint: str | None) -> dict[str, Any]:
        made = build(session, endpoint)
        made["sesv2"].meta.events.register("before-call.sesv2.GetAccount", answer)
        return made

    monkeypatch.setattr(doctor_commands, "_clients", clients)


def test_doctor_reads_a_deployed_stack_and_fails_on_what_is_broken(
    stack: Stack, aws: Moto, ses_account: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(aws, "http://api.shop-a.example")
    assert (
        main(
            [
                "--state-dir",
                str(tmp_path),
                "survey",
                "set",
                "--shop",
                "shop-a",
                "--sender",
                "hi@shop-a.example",
            ]
        )
        == 0
    ), capsys.readouterr().err
    ses = boto3.client("sesv2", REGION)
    ses.create_email_identity(EmailIdentity="shop-a.example")
    ses_verified("shop-a.example")
    ses.create_email_identity(EmailIdentity="alerts@alerts.example")  # asked for, never verified
    aws.clients["sqs"].send_message(QueueUrl=aws.resources.dlq_urls["feedback-events"], MessageBody="{}")

    status, out, _ = doctor(capsys, tmp_path, "--region", REGION)
    lines = out.splitlines()
    assert status == 1 and lines[0] == "cxloop doctor: CloudFormation stack cxloop (us-east-1)"
    assert "ok    stack cxloop: CREATE_COMPLETE" in lines
    unverified = (
        "FAIL  ses-sender alerts@alerts.example (alerts and digests): SES identity alerts@alerts.example "
        "exists but is not verified for sending — fix: open the verification link SES mailed to "
        "alerts@alerts.example (SES console → Identities shows its status)"
    )
    verified = (
        "ok    ses-sender hi@shop-a.example (shop shop-a surveys): domain shop-a.example verified for "
        "sending, DKIM SUCCESS"
    )
    assert unverified in lines and verified in lines
    sandbox = "warn  ses-account SES account in us-east-1: in the SES sandbox, 200 messages a day"
    assert any(x.startswith(sandbox) for x in lines)
    assert any(x.startswith("FAIL  public-url http://api.shop-a.example: http:// in AWS") for x in lines)
    # cxloop shop connect's verification, per shop and platform: no credentials given, so not checked.
    assert [x.split(": not checked")[0] for x in lines if " subscriptions " in x] == [
        "warn  subscriptions shop-a shopify",
        "warn  subscriptions shop-a woocommerce",
        "warn  subscriptions shop-b shopify",
        "warn  subscriptions shop-b bigcommerce",
    ]
    dead = "FAIL  dlq cxloop-feedback-events-dlq: 1 message(s) dead-lettered from feedback-events"
    fix = "AWS_REGION=us-east-1 cxloop dlq list --queue feedback-events"
    assert any(x.startswith(dead) and fix in x for x in lines)
    assert "ok    dlq cxloop-mail-events-dlq: empty" in lines
    assert "ok    dlq-alarm cxloop-mail-events-dlq: any-name-mail-events → 1 action(s)" in lines
    assert any(x.startswith("FAIL  dlq-alarm cxloop-scoring-events-dlq: no CloudWatch alarm") for x in lines)
    assert "ok    link-keys cxloop/surveys/link-keys: 1 key(s) of at least 32 bytes; the first signs" in lines

    status, out, _ = doctor(capsys, tmp_path, "--region", REGION, "--shop", "shop-b", "--json")
    doc = json.loads(out)
    assert status == 1 and doc["ok"] is False and doc["target"]["prefix"] == "cxloop"
    assert {c["shop"] for c in doc["checks"]} == {None, "shop-b"}  # shop-a's sender and webhooks left out
    assert {(c["check"], c["status"]) for c in doc["checks"] if c["shop"]} == {("subscriptions", "warn")}


def test_doctor_names_what_was_wrong_with_its_options(
    stack: Stack, aws: Moto, ses_account: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert (
        main(["--state-dir", str(tmp_path), "--prefix", "zzz", "doctor", "--region", REGION, "--stack", "x"])
        == 2
    )
    said = "cxloop doctor: error: --stack 'x': no CloudFormation stack of that name in us-east-1 where these "
    assert said + "credentials point, nor resources named by --prefix 'zzz'" in capsys.readouterr().err
    # No stack of that name, but the resources under --prefix (as every other command finds them).
    status, out, _ = doctor(capsys, tmp_path, "--region", REGION, "--stack", "nope", "--shop", "shop-a")
    lines = out.splitlines()
    assert status == 1 and lines[0] == "cxloop doctor: the resources under --prefix cxloop (us-east-1)"
    missing = "FAIL  stack nope: no CloudFormation stack of that name in us-east-1: checked the resources"
    assert lines[1].startswith(missing + " named by --prefix cxloop instead — fix: give --stack with the")
    assert "ok    dlq cxloop-feedback-events-dlq: empty" in lines
    deploy(aws, "https://api.shop-a.example")
    status, _, err = doctor(capsys, tmp_path, "--region", REGION, "--shop", "green-kiln")
    assert status == 2
    assert "--shop 'green-kiln': no such shop in this stack (the shops: " \
           "shop-a, shop-b; add one with `cxloop shop add`)" in err  # fmt: skip
    assert main(["--state-dir", str(tmp_path), "--local", "doctor"]) == 2
    assert "--local: no local stack is running" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["doctor", "--timeout", "0"])
    assert "argument --timeout: '0': give a number of seconds above 0, at most 120" in capsys.readouterr().err


# --- the local stack ------------------------------------------------------------------------------


@pytest.fixture
def local_stack(local_server: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """What `cxloop run` leaves for the CLI: its AWS server provisioned (prefix doc), a shop, the gateway
    and the SMTP sink listening, and stack.json naming them, with this process as the stack's pid."""
    session = boto3.session.Session(region_name=REGION)
    clients = {
        n: session.client(n, endpoint_url=local_server)
        for n in ("dynamodb", "sqs", "events", "secretsmanager")
    }  # type: ignore[call-overload]
    resources = provision(clients["dynamodb"], clients["sqs"], clients["events"], "doc")
    provision_link_keys(clients["secretsmanager"], "doc")
    admin = Admin(
        clients["dynamodb"], clients["sqs"], clients["secretsmanager"], clients["events"], resources
    )
    if admin.shops.get("blue-kiln") is None:
        admin.add_shop(Shop(shop_id="blue-kiln", name="Blue", platforms=(Platform.WOOCOMMERCE,)))
    pages = Pages(
        tmp_path / "mail", SlackSink(tmp_path / "slack.jsonl"), {}, dict, lambda _: None, lambda *_: None
    )
    gateway = make_server("127.0.0.1", 0, Gateway(Functions("doc"), pages), threaded=True)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    smtp_port = free_port()
    sink = SmtpSink(tmp_path / "mail", port=smtp_port)
    sink.start()
    state = {
        "pid": os.getpid(),
        "api_url": f"http://127.0.0.1:{gateway.server_port}",
        "moto_url": local_server,
        "smtp": f"127.0.0.1:{smtp_port}",
        "prefix": "doc",
        "region": REGION,
    }
    (tmp_path / "stack.json").write_text(json.dumps(state))
    try:
        yield {"state": state, "sqs": clients["sqs"], "dlq": resources.dlq_urls["feedback-events"]}
    finally:
        sink.stop()
        gateway.shutdown()


def test_doctor_checks_the_running_local_stack_by_default(
    local_stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = local_stack["state"]["api_url"]
    local_stack["sqs"].send_message(
        QueueUrl=local_stack["dlq"], MessageBody=json.dumps({"shop_id": "blue-kiln"})
    )

    status, out, _ = doctor(capsys, tmp_path)
    lines = out.splitlines()
    assert status == 1 and lines[0].startswith(f"cxloop doctor: local stack at {api}")
    assert any(x.startswith(f"ok    mail SMTP sink {local_stack['state']['smtp']}: answers") for x in lines)
    assert "ses-sender" not in out and "ses-account" not in out  # mail goes to the sink, not SES
    assert any(
        x.startswith(f"ok    public-url {api}: GET /api/v1/openapi.json answered 200 in ") for x in lines
    )
    cli = f"cxloop --state-dir {tmp_path} --prefix doc dlq"
    dead = (
        "FAIL  dlq doc-feedback-events-dlq: 1 message(s) dead-lettered from feedback-events: events not "
        f"acted on — fix: {cli} list --queue feedback-events shows them and why; once the cause is fixed, "
        f"{cli} replay --queue feedback-events"
    )
    assert dead in lines
    assert [line for line in lines if "dlq-alarm" in line] == [
        "ok    dlq-alarm local stack: none locally; in AWS each dead-letter queue has one "
        "(cxloop doctor --stack checks them)"
    ]
    assert "ok    link-keys doc/surveys/link-keys: 1 key(s) of at least 32 bytes; the first signs" in lines
    assert lines[-1].endswith("fail: some checks failed")

    # The fix it printed, then the doctor again: nothing fails.
    assert (
        main(["--state-dir", str(tmp_path), "--prefix", "doc", "dlq", "replay", "--queue", "feedback-events"])
        == 0
    )
    status, out, _ = doctor(capsys, tmp_path)
    assert status == 0 and out.splitlines()[-1].endswith(" 0 fail: nothing failed")
    assert "ok    dlq doc-feedback-events-dlq: empty" in out.splitlines()


# --- the boto3 adapter's reading of AWS's answers -------------------------------------------------


def reader(**clients: Any) -> Boto3StackReader:
    made = {
        n: clients.get(n) or boto3.client(n, REGION) for n in ("sesv2", "sqs", "cloudwatch", "secretsmanager")
    }
    return Boto3StackReader(made["sesv2"], made["sqs"], made["cloudwatch"], made["secretsmanager"])


def test_the_adapter_reads_identities_depths_alarms_and_secrets_from_moto(aws: Moto) -> None:
    boto3.client("sesv2", REGION).create_email_identity(EmailIdentity="shop.example")
    url = aws.resources.dlq_urls["mail-events"]
    aws.clients["sqs"].send_message(QueueUrl=url, MessageBody="a")
    aws.clients["sqs"].send_message(QueueUrl=url, MessageBody="b")
    aws.clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=1)  # one in flight still counts
    cloudwatch = boto3.client("cloudwatch", REGION)
    cloudwatch.put_metric_alarm(  # a math alarm over the queue's metric, actions off
        AlarmName="math", EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        ActionsEnabled=False, AlarmActions=["arn:aws:sns:us-east-1:123456789012:ops"],
        Metrics=[{"Id": "m", "ReturnData": True, "MetricStat": {"Period": 60, "Stat": "Maximum", "Metric": {
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "cxloop-mail-events-dlq"}]}}}],
    )  # fmt: skip
    cloudwatch.put_metric_alarm(  # another queue's alarm is not this one's
        AlarmName="other", Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "cxloop-mail-events"}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip

    read = reader()
    found = read.email_identity("shop.example")
    assert found is not None and (found.kind, found.verified_for_sending) == ("DOMAIN", False)
    assert read.email_identity("nobody.example") is None
    assert read.queue_depth(url) == 2
    assert [(a.name, a.actions_enabled) for a in read.alarms_on_queue("cxloop-mail-events-dlq")] == [
        ("math", False)
    ]
    assert read.secret_value("cxloop/surveys/link-keys") is None


def test_the_adapter_turns_a_refusal_into_a_failed_read(aws: Moto) -> None:
    ses = boto3.client("sesv2", REGION)
    secrets = boto3.client("secretsmanager", REGION)
    with Stubber(ses) as ses_stub, Stubber(secrets) as secrets_stub:  # errors moto does not produce
        ses_stub.add_client_error(
            "get_email_identity", "AccessDeniedException", "not allowed ses:GetEmailIdentity"
        )
        ses_stub.add_client_error("get_account", "TooManyRequestsException", "slow down")
        secrets_stub.add_client_error("get_secret_value", "AccessDeniedException", "not allowed", 400)
        read = reader(sesv2=ses, secretsmanager=secrets)
        with pytest.raises(ReadFailed, match="sesv2 GetEmailIdentity: AccessDeniedException: not allowed"):
            read.email_identity("shop.example")
        with pytest.raises(ReadFailed, match="sesv2 GetAccount: TooManyRequestsException"):
            read.account()
        with pytest.raises(ReadFailed, match="secretsmanager GetSecretValue: AccessDeniedException"):
            read.secret_value("cxloop/surveys/link-keys")


def test_the_probe_gives_up_on_a_server_that_never_answers_and_reads_an_error_status() -> None:
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        answer = UrllibProbe().get(f"http://127.0.0.1:{silent.getsockname()[1]}/api/v1/openapi.json", 0.5)
    assert answer.status is None and "timed out" in answer.error and 0.4 < answer.seconds < 5
    server = make_server("127.0.0.1", 0, Response(b"a parking page", status=404), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        missing = UrllibProbe().get(f"http://127.0.0.1:{server.server_port}/api/v1/openapi.json", 5)
    finally:
        server.shutdown()
    assert (missing.status, missing.body) == (404, b"a parking page")
