"""What the doctor reports (:class:`CheckResult`) and what it checks (:class:`Target`): plain data, the
same whether the stack is the local one or deployed."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but an operator should know (sandbox, no DKIM, no alarm locally)
    FAIL = "fail"  # broken or about to be: `cxloop doctor` exits non-zero


class CheckResult(BaseModel):
    """One line of the report: which check, about what, what was found and how to put it right."""

    model_config = ConfigDict(frozen=True)

    check: str  # ses-sender, ses-account, public-url, subscriptions, dlq, dlq-alarm, link-keys, ...
    subject: str  # what it is about: an address, a URL, a queue, a shop
    status: Status
    detail: str  # what was found
    fix: str = ""  # a command or a console step; empty when there is nothing to do
    shop: str | None = None  # set on per-shop checks


class SenderUse(BaseModel):
    """An address mail leaves from, and who uses it for what (one identity may serve several)."""

    model_config = ConfigDict(frozen=True)

    address: str  # the bare address, lowercase (no display name)
    uses: tuple[str, ...]  # "shop demo-shopify surveys", "alerts and digests"
    shops: tuple[str, ...] = ()


class ShopFacts(BaseModel):
    """A shop as the per-shop checks see it."""

    model_config = ConfigDict(frozen=True)

    shop_id: str
    platforms: tuple[str, ...]
    survey_sender: str | None = None  # the programme's sender (None: no programme, nothing is sent)
    survey_enabled: bool = False
    reply_from: str | None = None  # the notifier's `--reply-from`, when set


class Queue(BaseModel):
    model_config = ConfigDict(frozen=True)

    logical: str  # feedback-events
    dlq_name: str  # cxloop-feedback-events-dlq
    dlq_url: str


class Target(BaseModel):
    """The stack under examination: where it is, what it is called, what it holds."""

    model_config = ConfigDict(frozen=True)

    local: bool  # the local stack (`cxloop run`): plain http is fine, no alarms, mail to the SMTP sink
    name: str  # "local stack at http://127.0.0.1:8080" or "CloudFormation stack cxloop (eu-west-1)"
    prefix: str
    region: str
    api_url: str | None
    public_url: str | None  # the base of survey links (a custom domain, or the API's own URL)
    alert_sender: str | None = None  # CXLOOP_NOTIFIER_SENDER of the notifier (AWS)
    smtp: str | None = None  # host:port of the local SMTP sink
    link_keys_secret: str
    queues: tuple[Queue, ...] = ()
    shops: tuple[ShopFacts, ...] = ()
    # What the CLI needs to reach this stack again, for the fixes it prints: environment (AWS_PROFILE=p
    # AWS_REGION=r) and options (--prefix x, --state-dir d).
    cli_env: str = ""
    cli_options: str = ""

    def cli(self, command: str) -> str:
        """A ``cxloop`` command that talks to this stack."""
        words = [self.cli_env, "cxloop", self.cli_options, command]
        return " ".join(w for w in words if w)
