"""The package test: every zip function runs from what would be deployed, and from nothing else.

For each function of the synthesized template: its code asset (the folder CDK zips) and its layers,
built by ``cxloop deploy``'s builder at the same pins for this machine's platform (the arm64 ones
would not load here), go on the sys.path of a fresh ``python -I -S`` (no site-packages, no
environment), which imports every third-party module the code can import, invokes the handler once
with the kind of event AWS gives it (API Gateway HTTP, SQS batch, schedule) against moto's server,
and renders templates where the function has the mail layer. A package that lacks something the
code imports (jinja2 before issue 16) fails here, whatever the rest of the tests import from the venv.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from cxloop.deploy import artifacts, layers
from cxloop.resources import provision, provision_link_keys
from shared import events as ev
from shared import topology
from tests.infra.conftest import stub_layers
from tests.infra.imports import third_party_modules

pytestmark = pytest.mark.infra

PROBE = Path(__file__).with_name("package_probe.py")
PREFIX = "cxloop"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Path parameters of a representative request.
PARAMETERS = {"platform": "shopify", "shop_id": "shop-a", "token": "not-a-token", "source": "judgeme"}
FAILURES = re.compile(r"ModuleNotFoundError|ImportError|No module named")


@pytest.fixture(scope="module")
def host_layers() -> dict[str, Path]:
    """Each layer built for this machine (cached by its pins in build/layers, like the arm64 ones)."""
    started = time.monotonic()
    built = {layer.name: layers.build(layer, layers.host()).content for layer in layers.all_layers()}
    print(f"host layers ready in {time.monotonic() - started:.1f} s")
    return built


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, artifacts.FunctionPackage]:
    """The functions as the template deploys them (stand-in arm64 layers: only their names matter)."""
    from cxloop_infra import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, _ = build_app(
        {
            "account": ACCOUNT,
            "region": REGION,
            "prefix": PREFIX,
            "layersDir": str(stub_layers(tmp_path_factory.mktemp("layers"))),
        },
        outdir=str(outdir),
        environ={},
    )
    app.synth()
    return {p.name: p for p in artifacts.packages(outdir)}


@pytest.fixture(scope="module")
def aws_env() -> Any:
    """moto's server on a free port with the topology's resources, and what a function would see."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = {
        n: session.client(n, endpoint_url=endpoint) for n in ("dynamodb", "sqs", "events", "secretsmanager")
    }
    resources = provision(client["dynamodb"], client["sqs"], client["events"], PREFIX)
    provision_link_keys(client["secretsmanager"], PREFIX)
    values = {
        **resources.env(),
        topology.ENV_PUBLIC_URL: "https://feedback.example.com",
        topology.ENV_DAY_SECONDS: "86400",
        topology.ENV_MAIL_TRANSPORT: "ses",
        topology.ENV_SMTP_HOST: "127.0.0.1",
        topology.ENV_SMTP_PORT: "25",
        topology.ENV_SES_CONFIGURATION_SET: f"{PREFIX}-surveys",
        topology.ENV_NOTIFIER_SENDER: "Shop alerts <alerts@example.com>",
    }
    yield aws, values
    server.stop()


def queue_body(queue: str) -> str:
    """A message its queue gets: the intake's stored webhook, or an event a rule delivers (an answer
    with a comment for the model to read, a reading of an answer nobody has, a shop erased: none needs
    data to be there)."""
    if queue == topology.FEEDBACK_EVENTS.logical:
        from services.feedback.domain.model import QueuedEvent, StoredEvent

        stored = StoredEvent(
            shop_id="shop-a", platform="shopify", topic="orders/create", dedupe_key="probe", resource="1",
            triggered_at="2026-12-07T00:00:00Z", received_at="2026-12-07T00:00:01Z", body=b"{}",
        )  # fmt: skip
        return QueuedEvent.of(stored).model_dump_json()
    data: dict[str, Any]
    if queue == topology.SCORING_EVENTS.logical:
        name, source = ev.RESPONSE_RECORDED, "cxloop.feedback"
        data = ev.ResponseRecorded(
            invite_id="probe", revision=1, survey_type="nps", score=2, answered_at="2026-12-07T00:00:00Z",
            comment="Fast delivery, but the seams ripped after one wash.", order_id="1", platform="shopify",
        ).model_dump(mode="json")  # fmt: skip
    elif queue == topology.FEEDBACK_READINGS.logical:
        name, source = ev.FEEDBACK_SCORED, "cxloop.scoring"
        data = {
            "subject": "response",
            "subject_id": "nobody",
            "revision": 1,
            "key": "nobody#1",
            "sentiment": None,
            "language": "en",
            "taxonomy": "ecommerce",
            "model_version": "probe",
            "scored_at": "2026-12-07T00:00:00Z",
        }
    else:
        name, source, data = ev.SHOP_ERASED, "cxloop.feedback", {"records_deleted": 0}
    return json.dumps(
        {"version": "0", "id": "probe", "detail-type": name, "source": source, "account": ACCOUNT,
         "time": "2026-12-07T00:00:00Z", "region": REGION, "resources": [],
         "detail": {"name": name, "shop_id": "shop-a", "correlation_id": "probe", "data": data}}
    )  # fmt: skip


def event_for(spec: topology.Function) -> dict[str, Any]:
    """What AWS hands the function: an HTTP API request (a GET where it has one), an SQS batch of one
    event the bus would deliver, or a scheduled event."""
    if spec.routes:
        route = next((r for r in spec.routes if r.method == "GET"), spec.routes[0])
        path = re.sub(r"\{(\w+)\+?\}", lambda m: PARAMETERS.get(m.group(1), "overview"), route.path)
        parameters = {k: v for k, v in PARAMETERS.items() if "{" + k + "}" in route.path}
        return {
            "version": "2.0",
            "routeKey": f"{route.method} {route.path}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"host": "feedback.example.com", "content-type": "application/json"},
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "probe",
                "domainName": "feedback.example.com",
                "http": {
                    "method": route.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "probe",
                },
                "requestId": "probe",
                "routeKey": f"{route.method} {route.path}",
                "stage": "$default",
                "time": "07/Dec/2026:00:00:00 +0000",
                "timeEpoch": 1796601600000,
            },
            "pathParameters": parameters,
            "body": "{}" if route.method == "POST" else None,
            "isBase64Encoded": False,
        }
    if spec.queue is not None:
        queue = topology.physical(PREFIX, spec.queue.queue)
        return {
            "Records": [
                {
                    "messageId": "m-1",
                    "receiptHandle": "r-1",
                    "body": queue_body(spec.queue.queue),
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1796601600000",
                        "SenderId": "probe",
                        "ApproximateFirstReceiveTimestamp": "1796601600000",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                    "awsRegion": REGION,
                }
            ]
        }
    return {
        "version": "0",
        "id": "probe",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-12-07T00:00:00Z",
        "region": REGION,
        "resources": [
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{topology.physical(PREFIX, spec.logical)}-schedule"
        ],
        "detail": {},
    }


def run_probe(spec: topology.Function, path: list[Path], env: dict[str, str]) -> tuple[dict[str, Any], str]:
    args = {
        "path": [str(p) for p in path],
        "imports": sorted(third_party_modules(spec)),
        "handler": spec.handler,
        "event": event_for(spec),
        "templates": f"services/{spec.service}/templates" if topology.MAIL_LAYER in spec.layers else None,
    }
    result = subprocess.run(
        # -B: no bytecode written into the package (Lambda's /opt and /var/task are read-only).
        [sys.executable, "-I", "-S", "-B", str(PROBE), json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    output = result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, (
        f"{spec.logical} does not run from its package:\n{output[-3000:]}"
    )
    return json.loads(lines[-1].removeprefix("PROBE ")), output


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_function_runs_from_its_package_alone(spec, deployed, host_layers, aws_env) -> None:
    package = deployed[topology.physical(PREFIX, spec.logical)]
    assert package.code is not None
    names = [a.name.removeprefix(f"layer {PREFIX}-") for a in package.layers]
    aws, values = aws_env
    env = {
        **aws,
        **{k: values[k] for k in spec.environment},
        **topology.RUNTIME_ENV,
        "POWERTOOLS_SERVICE_NAME": spec.service,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "AWS_LAMBDA_FUNCTION_NAME": package.name,
    }
    # Lambda puts the function's code first, then /opt/python (its layers, unpacked in one folder).
    probe, output = run_probe(spec, [package.code.path, *(host_layers[n] for n in names)], env)
    assert not FAILURES.search(output), f"{spec.logical}:\n{output[-3000:]}"
    assert probe["outside"] == [], "loaded from outside its package: " + ", ".join(probe["outside"])
    print(
        f"{spec.logical}: handler imported from its package in {probe['import_s']:.2f} s, "
        f"first invocation {probe['invoke_s']:.2f} s"
    )
    answer = probe["answer"]
    if spec.routes:
        assert answer["statusCode"] < 500, answer
    elif spec.queue is not None:
        assert set(answer) == {"batchItemFailures"}, answer
    if spec.service == "scoring":  # the model, loaded from the asset, read the comment as the venv does
        assert answer == {"batchItemFailures": []}, output[-3000:]
        (line,) = [json.loads(x) for x in output.splitlines() if '"message":"feedback scored"' in x]
        assert (line["label"], line["themes"]) == ("positive", ["delivery_shipping", "product_quality"])
    if topology.MAIL_LAYER in spec.layers:
        assert probe["rendered"] == "<p>&lt;b&gt;Ann&lt;/b&gt;</p>"
