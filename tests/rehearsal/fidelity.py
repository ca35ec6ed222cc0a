"""Does MiniStack behave as we depend on? ``python -m tests.rehearsal.fidelity`` prints what holds.

- The store contracts (tests/integration: the feedback store's transactions and conditional writes,
  the survey store's GSIs, leases and guards) and the two-dispatchers race (conditional writes under
  concurrency), run against MiniStack where they compare "the local server" with moto in-process.
- SQS redrive: a message received maxReceiveCount times goes to the dead-letter queue.
- EventBridge patterns: an event a rule matches reaches its queue; one it does not, does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from tests.rehearsal import emulator
from tests.rehearsal.deploy import BUILD

CONTRACTS = (
    "tests/integration/test_store_contract.py::test_the_local_servers_transactions_behave_like_motos",
    "tests/integration/test_survey_store_contract.py::test_the_local_server_answers_like_moto_in_process",
    "tests/integration/test_dispatch_race.py",
)


def contracts(aws: emulator.MiniStack) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *CONTRACTS],
        env={**os.environ, "CXLOOP_AWS_UNDER_TEST": aws.endpoint, **emulator.CREDENTIALS},
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    tail = "\n".join(done.stdout.strip().splitlines()[-12:])
    if done.returncode != 0:
        raise AssertionError(tail)
    return tail.splitlines()[-1]


def redrive(aws: emulator.MiniStack) -> str:
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="fidelity-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue = sqs.create_queue(
        QueueName="fidelity", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": policy}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    received = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        received += len(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []))
        moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", [])
        if moved:
            assert received == 2, f"dead-lettered after {received} receives, not 2"
            return "received twice (maxReceiveCount 2), then found in the DLQ"
        time.sleep(1.1)
    raise AssertionError(f"not in the DLQ after {received} receives")


def patterns(aws: emulator.MiniStack) -> str:
    events, sqs = aws.client("events"), aws.client("sqs")
    queue = sqs.create_queue(QueueName="fidelity-rule")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="fidelity-bus")
    pattern = {"source": ["cxloop.feedback"], "detail-type": ["ResponseRecorded", "ShopErased"]}
    events.put_rule(Name="fidelity-rule", EventBusName="fidelity-bus", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="fidelity-rule", EventBusName="fidelity-bus", Targets=[{"Id": "q", "Arn": arn}])
    sent = [
        ("cxloop.feedback", "ResponseRecorded", True),
        ("cxloop.feedback", "OrderRecorded", False),
        ("cxloop.scoring", "ResponseRecorded", False),
    ]
    events.put_events(
        Entries=[
            {"EventBusName": "fidelity-bus", "Source": s, "DetailType": d, "Detail": json.dumps({"n": i})}
            for i, (s, d, _) in enumerate(sent)
        ]
    )
    got = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got += [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        ]
    numbers = sorted(e["detail"]["n"] for e in got)
    wanted = [i for i, (_, _, match) in enumerate(sent) if match]
    assert numbers == wanted, f"the queue got events {numbers}, the pattern matches {wanted}"
    return "only the matching event reached the queue, in EventBridge's envelope"


CHECKS: tuple[tuple[str, Callable[[emulator.MiniStack], str]], ...] = (
    ("SQS redrive to a dead-letter queue", redrive),
    ("EventBridge rule patterns", patterns),
    ("store contracts and the dispatch race (tests/integration)", contracts),
)


def main() -> int:
    aws = emulator.start(BUILD / "fidelity")
    failed = 0
    try:
        for name, check in CHECKS:
            started = time.monotonic()
            try:
                said, ok = check(aws), True
            except Exception as error:  # each check's failure is reported, the next still runs
                said, ok = f"{type(error).__name__}: {error}", False
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {time.monotonic() - started:6.1f} s  {name}: {said}")
    finally:
        aws.stop()
    print(f"fidelity: {len(CHECKS) - failed} of {len(CHECKS)} checks hold (MiniStack log {aws.log})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
