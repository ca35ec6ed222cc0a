"""The consumer's dead-letter queue in SQS, written to directly for a permanent defect."""

from __future__ import annotations

from typing import Any

from services.feedback.domain.model import QueuedEvent

# The message attribute that says why (``cxloop dlq list`` shows it).
DEAD_LETTER_REASON = "reason"
# SQS allows 256 KiB per message, attributes included: a reason is a sentence, not a payload.
MAX_REASON_CHARS = 500


class SqsDeadLetters:
    def __init__(self, sqs: Any, dlq_url: str) -> None:
        self._sqs = sqs
        self._url = dlq_url

    def send(self, message: QueuedEvent, reason: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                DEAD_LETTER_REASON: {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS] or "-"},
                "correlation_id": {"DataType": "String", "StringValue": message.correlation_id or "-"},
                "shop_id": {"DataType": "String", "StringValue": message.shop_id},
            },
        )
