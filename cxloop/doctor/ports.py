"""The doctor's read-only view of a stack: what SES, SQS, CloudWatch and Secrets Manager hold, and what
an HTTP GET answers. Nothing here changes anything; the boto3 and urllib adapters live in
``adapters.py``, the checks see only these protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from cxloop.doctor.model import CheckResult, ShopFacts, Target


class ReadFailed(Exception):
    """AWS (or the network) would not answer a read: the message says which call and why."""


class Identity(BaseModel):
    """SES's view of one identity (GetEmailIdentity)."""

    model_config = ConfigDict(frozen=True)

    name: str  # the address or the domain
    kind: str  # EMAIL_ADDRESS or DOMAIN
    verified_for_sending: bool
    dkim_status: str | None = None  # SUCCESS, PENDING, FAILED, TEMPORARY_FAILURE, NOT_STARTED


class Account(BaseModel):
    """SES's view of the account in the region (GetAccount)."""

    model_config = ConfigDict(frozen=True)

    production_access: bool
    sending_enabled: bool = True
    max_24_hour_send: float | None = None


class Alarm(BaseModel):
    """A CloudWatch metric alarm that watches a queue."""

    model_config = ConfigDict(frozen=True)

    name: str
    metric: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...] = ()
    state: str = ""


class Probe(BaseModel):
    """What a GET answered: a status (None when nothing answered) within how long."""

    model_config = ConfigDict(frozen=True)

    status: int | None
    seconds: float
    body: bytes = b""
    error: str = ""


class StackReader(Protocol):
    """Reads about the stack's AWS resources; each method raises :class:`ReadFailed` when AWS refuses."""

    def email_identity(self, name: str) -> Identity | None:
        """The identity, or None when SES has no such identity."""
        ...

    def account(self) -> Account: ...

    def queue_depth(self, url: str) -> int:
        """Messages in the queue: waiting plus in flight (someone is looking at them)."""
        ...

    def alarms_on_queue(self, queue_name: str) -> list[Alarm]:
        """Metric alarms whose metric has the dimension QueueName=queue_name (whatever their names)."""
        ...

    def secret_value(self, name: str) -> str | None:
        """The secret's string, or None when there is no such secret."""
        ...


class HttpProbe(Protocol):
    def get(self, url: str, timeout_s: float) -> Probe: ...


class MailSink(Protocol):
    """The local stack's SMTP sink: does it greet (220) within the timeout?"""

    def greets(self, host: str, port: int, timeout_s: float) -> str | None:
        """None when it greets, else what went wrong."""
        ...


# The slot for `cxloop shop connect`'s verification (cxloop.connect, written elsewhere): given the stack
# and one shop, the state of the shop's webhook subscriptions at its platform(s).
SubscriptionCheck = Callable[[Target, ShopFacts], Sequence[CheckResult]]
