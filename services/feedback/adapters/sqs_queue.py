"""The intake → consumer queue in SQS."""

from __future__ import annotations

from typing import Any

from services.feedback.domain.model import QueuedEvent


class SqsEventQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, message: QueuedEvent) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": message.correlation_id or "-"},
                "shop_id": {"DataType": "String", "StringValue": message.shop_id},
            },
        )
