"""The local stand-in for Lambda's event source mappings and EventBridge schedules.

Moto stores queues but never invokes anything: this pump receives batches from each
queue a function consumes, invokes it with the SQS event Lambda would send, deletes what succeeded,
makes the reported failures visible again (after a short local delay instead of the visibility
timeout), and lets the queue's redrive policy move a message to its dead-letter queue after
maxReceiveCount receives. It also fires the functions' rate schedules.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from cxloop.local.runtime import Functions
from cxloop.resources import Resources
from shared import topology

POLL_PAUSE_S = 0.2
# An idle queue is polled less and less often, down to once a second: eight queues polled five times a
# second kept an idle stack at a quarter of a core. The first message after a quiet spell waits 1 s at most.
IDLE_PAUSE_MAX_S = 1.0


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {
        k: message.get("Attributes", {}).get(k, "")
        for k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{name}"],
        "detail": {},
    }


class Pump:
    def __init__(
        self,
        functions: Functions,
        sqs: Any,
        resources: Resources,
        region: str = "us-east-1",
        pollers_per_function: int = 2,
        schedule_scale: float = 1.0,
        schedule_every: dict[str, float] | None = None,
        retry_delay_s: int | None = None,
    ) -> None:
        self.functions = functions
        self.sqs = sqs
        self.resources = resources
        self.region = region
        self.pollers = pollers_per_function
        self.schedule_scale = schedule_scale
        # Per function, a period in seconds that replaces the scaled one (the demo's fast dispatcher).
        self.schedule_every = dict(schedule_every or {})
        self.retry_delay_s = retry_delay_s
        self.stats: Counter[str] = Counter()
        self._stop = threading.Event()
        self.paused: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        for fn in topology.FUNCTIONS:
            if fn.queue:
                for n in range(self.pollers):
                    self._spawn(f"pump-{fn.logical}-{n}", self._poll, fn)
        self._spawn("pump-schedules", self._schedules)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def _poll(self, fn: topology.Function) -> None:
        assert fn.queue is not None
        queue = topology.queue(fn.queue.queue)
        url = self.resources.queue_urls[queue.logical]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        pause = POLL_PAUSE_S
        while not self._stop.is_set():
            if fn.logical in self.paused:
                time.sleep(0.2)
                continue
            try:
                # No long poll: the local AWS server runs SQS requests one at a time.
                if self.deliver_once(fn, queue, url, arn, wait_s=0):
                    pause = POLL_PAUSE_S
                else:
                    self._stop.wait(pause)
                    pause = min(pause * 2, IDLE_PAUSE_MAX_S)
            except Exception as e:  # the pump itself must survive a moto hiccup
                self._count(f"{fn.logical}.pump_errors")
                self._count(f"last_error:{type(e).__name__}")
                time.sleep(0.5)

    def deliver_once(
        self, fn: topology.Function, queue: topology.Queue, url: str, arn: str, wait_s: int = 0
    ) -> int:
        """Receive one batch, invoke the function, settle the batch. Returns how many were received."""
        assert fn.queue is not None
        received = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, fn.queue.batch_size),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        if fn.logical in self.paused:  # paused during the long poll: give the messages back untouched
            for m in received:
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            return 0
        event = {"Records": [sqs_record(m, arn, self.region) for m in received]}
        try:
            result = self.functions.invoke(fn, event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            failed = {m["MessageId"] for m in received}  # the whole batch fails, as on Lambda
            self._count(f"{fn.logical}.invocation_errors")
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for m in received:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=queue.local_retry_delay_s
                    if self.retry_delay_s is None
                    else self.retry_delay_s,
                )
        self._count(f"{fn.logical}.succeeded", len(done))
        self._count(f"{fn.logical}.failed", len(failed))
        return len(received)

    def pause(self, logical: str, paused: bool) -> None:
        """Stop (or restart) delivering to a function, as disabling its event source mapping would."""
        topology.function(logical)  # unknown names raise
        if paused:
            self.paused.add(logical)
        else:
            self.paused.discard(logical)

    def fire(self, logical: str) -> Any:
        fn = topology.function(logical)
        self._count(f"{logical}.fired")
        return self.functions.invoke(
            fn, scheduled_event(topology.physical(self.resources.prefix, logical), self.region)
        )

    def _schedules(self) -> None:
        every = {
            fn.logical: self.schedule_every.get(fn.logical, fn.schedule.every_s * self.schedule_scale)
            for fn in topology.FUNCTIONS
            if fn.schedule
        }
        next_at = {logical: time.monotonic() + period for logical, period in every.items()}
        while not self._stop.wait(1.0):
            for logical, due in next_at.items():
                if time.monotonic() >= due:
                    try:
                        self.fire(logical)
                    except Exception:
                        self._count(f"{logical}.invocation_errors")
                    next_at[logical] = time.monotonic() + every[logical]
