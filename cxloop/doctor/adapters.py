"""The doctor's ports over boto3 and the standard library: reads only (no call here changes a thing),
botocore's errors turned into :class:`ReadFailed`."""

from __future__ import annotations

import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cxloop.doctor.ports import Account, Alarm, Identity, Probe, ReadFailed

NOT_FOUND = {"NotFoundException", "ResourceNotFoundException"}
MAX_BODY = 1 << 20


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _failed(call: str, error: Exception) -> ReadFailed:
    if isinstance(error, ClientError):
        said = error.response.get("Error", {}).get("Message", "")
        return ReadFailed(f"{call}: {_code(error)}: {said}")
    return ReadFailed(f"{call}: {error}")


class Boto3StackReader:
    """SES v2, SQS, CloudWatch and Secrets Manager clients of one session (endpoint and region)."""

    def __init__(self, sesv2: Any, sqs: Any, cloudwatch: Any, secretsmanager: Any) -> None:
        self._ses, self._sqs, self._cw, self._secrets = sesv2, sqs, cloudwatch, secretsmanager

    def email_identity(self, name: str) -> Identity | None:
        try:
            found = self._ses.get_email_identity(EmailIdentity=name)
        except ClientError as e:
            if _code(e) in NOT_FOUND:
                return None
            raise _failed("sesv2 GetEmailIdentity", e) from e
        except BotoCoreError as e:
            raise _failed("sesv2 GetEmailIdentity", e) from e
        return Identity(
            name=name,
            kind=found.get("IdentityType", "EMAIL_ADDRESS" if "@" in name else "DOMAIN"),
            verified_for_sending=bool(found.get("VerifiedForSendingStatus")),
            dkim_status=(found.get("DkimAttributes") or {}).get("Status"),
        )

    def account(self) -> Account:
        try:
            found = self._ses.get_account()
        except (ClientError, BotoCoreError) as e:
            raise _failed("sesv2 GetAccount", e) from e
        quota = found.get("SendQuota") or {}
        return Account(
            production_access=bool(found.get("ProductionAccessEnabled")),
            sending_enabled=bool(found.get("SendingEnabled", True)),
            max_24_hour_send=quota.get("Max24HourSend"),
        )

    def queue_depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        try:
            attrs = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        except (ClientError, BotoCoreError) as e:
            raise _failed("sqs GetQueueAttributes", e) from e
        return sum(int(attrs.get(n, 0)) for n in names)

    def alarms_on_queue(self, queue_name: str) -> list[Alarm]:
        try:
            return [a for raw in self._metric_alarms() if (a := _on_queue(raw, queue_name)) is not None]
        except (ClientError, BotoCoreError) as e:
            raise _failed("cloudwatch DescribeAlarms", e) from e

    def _metric_alarms(self) -> Iterator[dict[str, Any]]:
        for page in self._cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            yield from page.get("MetricAlarms", [])

    def secret_value(self, name: str) -> str | None:
        try:
            return str(self._secrets.get_secret_value(SecretId=name)["SecretString"])
        except ClientError as e:
            if _code(e) in NOT_FOUND:
                return None
            raise _failed("secretsmanager GetSecretValue", e) from e
        except BotoCoreError as e:
            raise _failed("secretsmanager GetSecretValue", e) from e


def _on_queue(raw: dict[str, Any], queue_name: str) -> Alarm | None:
    """The alarm, if its metric (or one metric of its math expression) is an SQS metric of this queue."""
    metrics = [(raw.get("Namespace"), raw.get("MetricName"), raw.get("Dimensions") or [])]
    for query in raw.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric") or {}
        metrics.append((metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions") or []))
    for namespace, name, dimensions in metrics:
        if namespace == "AWS/SQS" and {"Name": "QueueName", "Value": queue_name} in dimensions:
            return Alarm(
                name=raw["AlarmName"],
                metric=str(name),
                actions_enabled=bool(raw.get("ActionsEnabled", True)),
                alarm_actions=tuple(raw.get("AlarmActions") or ()),
                state=raw.get("StateValue", ""),
            )
    return None


class UrllibProbe:
    def get(self, url: str, timeout_s: float) -> Probe:
        started = time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "cxloop-doctor"})  # noqa: S310 (http(s) only)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                return Probe(
                    status=response.status, seconds=time.monotonic() - started, body=response.read(MAX_BODY)
                )
        except urllib.error.HTTPError as e:
            return Probe(status=e.code, seconds=time.monotonic() - started, body=e.read(MAX_BODY))
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            return Probe(
                status=None, seconds=time.monotonic() - started, error=f"{type(e).__name__}: {reason}"
            )


class SmtpSink:
    def greets(self, host: str, port: int, timeout_s: float) -> str | None:
        try:
            with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
                code, _ = smtp.noop()
        except (OSError, smtplib.SMTPException) as e:
            return f"{type(e).__name__}: {e}"
        return None if code == 250 else f"NOOP answered {code}"
