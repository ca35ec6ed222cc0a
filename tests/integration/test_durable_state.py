"""The local AWS server's write-through state (cxloop.local.durable): what a client was told happened
is there after kill -9, and nothing else is (a cancelled transaction, a deleted message)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, Any]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cxloop.local.aws_server", "--port", str(self.port),
             "--state-file", str(self.state), "--sync", "normal"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        session = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
        )
        url = f"http://127.0.0.1:{self.port}"
        c = {n: session.client(n, endpoint_url=url) for n in ("dynamodb", "sqs", "secretsmanager")}  # type: ignore[call-overload]
        _provision(c)
        return c

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def _provision(c: dict[str, Any]) -> None:
    ddb = c["dynamodb"]
    with contextlib.suppress(ddb.exceptions.ResourceInUseException):
        ddb.create_table(
            TableName="things",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    dlq = c["sqs"].create_queue(QueueName="work-dlq")["QueueUrl"]
    arn = c["sqs"].get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    c["sqs"].create_queue(
        QueueName="work",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": 1}}'},
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "aws.sqlite3")
    try:
        yield s
    finally:
        if s.proc and s.proc.poll() is None:
            s.kill()


def _key(pk: str, sk: str = "1") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _url(c: dict[str, Any], name: str) -> str:
    return str(c["sqs"].get_queue_url(QueueName=name)["QueueUrl"])


def test_items_survive_as_acknowledged_and_a_cancelled_transaction_leaves_nothing(server: Server) -> None:
    c = server.start()
    ddb = c["dynamodb"]
    ddb.put_item(TableName="things", Item={**_key("a"), "n": {"N": "1"}, "b": {"B": b"\x00\xff"}})
    ddb.put_item(TableName="things", Item={**_key("gone"), "n": {"N": "1"}})
    ddb.update_item(
        TableName="things",
        Key=_key("a"),
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "7"}},
    )
    ddb.delete_item(TableName="things", Key=_key("gone"))
    ddb.batch_write_item(
        RequestItems={"things": [{"PutRequest": {"Item": _key("batch", str(i))}} for i in range(3)]}
    )
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "things", "Item": _key("half")}},
                {
                    "Put": {
                        "TableName": "things",
                        "Item": _key("a"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    server.kill()

    ddb = server.start()["dynamodb"]
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in ddb.scan(TableName="things")["Items"]}
    assert set(items) == {("a", "1"), ("batch", "0"), ("batch", "1"), ("batch", "2")}
    assert items[("a", "1")]["n"] == {"N": "7"}
    assert items[("a", "1")]["b"] == {"B": b"\x00\xff"}


def test_messages_survive_until_deleted_and_a_dead_letter_stays_dead(server: Server) -> None:
    c = server.start()
    sqs = c["sqs"]
    work = _url(c, "work")
    for body in ("one", "two", "three"):
        sqs.send_message(
            QueueUrl=work,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": body}},
        )
    first = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    done = next(m for m in first if m["Body"] == "one")
    sqs.delete_message(QueueUrl=work, ReceiptHandle=done["ReceiptHandle"])
    # maxReceiveCount 1: the next receive moves the two left to the dead-letter queue.
    assert sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages", []) == []
    server.kill()

    c = server.start()
    sqs = c["sqs"]
    assert sqs.receive_message(QueueUrl=_url(c, "work"), MaxNumberOfMessages=10).get("Messages", []) == []
    dead = sqs.receive_message(
        QueueUrl=_url(c, "work-dlq"), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    assert sorted(m["Body"] for m in dead["Messages"]) == ["three", "two"]
    assert {m["MessageAttributes"]["kind"]["StringValue"] for m in dead["Messages"]} == {"two", "three"}


def test_a_purge_is_kept_and_secrets_keep_their_last_value(server: Server) -> None:
    c = server.start()
    work = _url(c, "work")
    c["sqs"].send_message(QueueUrl=work, MessageBody="x")
    c["sqs"].purge_queue(QueueUrl=work)
    sm = c["secretsmanager"]
    sm.create_secret(Name="shop/one", SecretString="first")
    sm.put_secret_value(SecretId="shop/one", SecretString="second")
    sm.create_secret(Name="shop/two", SecretString="x")
    sm.delete_secret(SecretId="shop/two", ForceDeleteWithoutRecovery=True)
    server.kill()

    c = server.start()
    assert c["sqs"].receive_message(QueueUrl=_url(c, "work")).get("Messages", []) == []
    assert c["secretsmanager"].get_secret_value(SecretId="shop/one")["SecretString"] == "second"
    assert [s["Name"] for s in c["secretsmanager"].list_secrets()["SecretList"]] == ["shop/one"]


def test_a_second_server_on_the_same_state_file_is_refused(server: Server) -> None:
    server.start()
    other = subprocess.run(
        [sys.executable, "-m", "cxloop.local.aws_server", "--port", str(_free_port()),
         "--state-file", str(server.state)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert other.returncode != 0
    assert "--state-file" in other.stderr and "in use" in other.stderr
