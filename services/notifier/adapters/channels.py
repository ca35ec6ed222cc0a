"""The two ways an alert batch reaches an owner: a Slack incoming webhook, or an e-mail.

Both answer in the sender's terms (``Result``): delivered, rate limited, retry later, or broken (the
destination needs its owner). A Slack webhook's URL is read from Secrets Manager when it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from html import escape
from typing import Protocol

from services.notifier.adapters.slack_webhook import Broken, Delivered, RateLimited, SlackWebhook
from services.notifier.domain.delivery import Outcome, Result
from services.notifier.domain.model import AlertBatch, Destination
from services.notifier.domain.slack_messages import slack_payload
from shared.mail.message import Mailer, MailError, OutgoingEmail
from shared.tenancy import Shop

SLACK = "slack"  # the credentials' "source" under the notifier area: {destination: url}


class HookUrls(Protocol):
    def get(self, shop_id: str, source: str) -> Mapping[str, str] | None: ...


class SlackChannel:
    def __init__(self, webhook: SlackWebhook, urls: HookUrls) -> None:
        self._webhook = webhook
        self._urls = urls

    def deliver(self, shop: Shop, destination: Destination, batch: AlertBatch) -> Result:
        url = (self._urls.get(shop.shop_id, SLACK) or {}).get(destination.name)
        if not url:
            return Result(Outcome.BROKEN, f"no webhook URL stored for Slack destination {destination.name!r}")
        outcome = self._webhook.post(url, slack_payload(batch), label=f"{shop.shop_id}/{destination.name}")
        if isinstance(outcome, Delivered):
            return Result(Outcome.DELIVERED)
        if isinstance(outcome, RateLimited):
            return Result(Outcome.RATE_LIMITED, "rate_limited", outcome.retry_after_s)
        if isinstance(outcome, Broken):
            return Result(Outcome.BROKEN, f"Slack answered {outcome.status} {outcome.body}")
        return Result(Outcome.RETRY, f"Slack answered {outcome.status or 'nothing'} {outcome.body}")


class EmailChannel:
    def __init__(self, mailer: Mailer, sender: str) -> None:
        self._mailer = mailer
        self._sender = sender

    def deliver(self, shop: Shop, destination: Destination, batch: AlertBatch) -> Result:
        if not destination.address:
            return Result(Outcome.BROKEN, f"no address for e-mail destination {destination.name!r}")
        from services.notifier.alert_mail import render_alert_mail  # jinja2 at the first e-mail only

        message = render_alert_mail(shop.name, destination.name, batch)
        digest = hashlib.sha256(f"{batch.shop_id}|{batch.destination}|{batch.window}".encode()).hexdigest()
        email = OutgoingEmail(
            sender=self._sender,
            to=destination.address,
            subject=message.subject,
            text=message.text,
            html=message.html,
            message_id=f"<alerts-{digest[:24]}@{shop.shop_id}.cxloop>",
            tags={"shop": shop.shop_id, "kind": "alerts"},
        )
        try:
            self._mailer.send(email)
        except MailError as e:
            if e.permanent:
                return Result(Outcome.BROKEN, e.message)
            return Result(Outcome.RETRY, e.message, e.retry_after_s or 0.0)
        return Result(Outcome.DELIVERED)


class OwnerMail:
    """Tells the owner, by e-mail, what needs them (a Slack destination that stopped taking alerts)."""

    def __init__(self, mailer: Mailer, sender: str) -> None:
        self._mailer = mailer
        self._sender = sender

    def destination_broken(self, shop: Shop, destination: Destination, reason: str, held: int) -> None:
        if not shop.owner_email:
            return
        text = (
            f"cxloop could not deliver alerts to your {destination.kind.value} destination "
            f"'{destination.name}': {reason}.\n\n"
            f"{held} batch(es) of alerts are kept and will be sent once it works again. To fix it, set the "
            f"destination again:\n\n  cxloop notify destination --shop {shop.shop_id} "
            f"--name {destination.name} ...\n"
        )
        email = OutgoingEmail(
            sender=self._sender,
            to=shop.owner_email,
            subject=f"[{shop.name}] Alerts to '{destination.name}' are failing",
            text=text,
            html="".join(
                f'<p style="font-family:Helvetica,Arial,sans-serif;overflow-wrap:anywhere">{escape(p)}</p>'
                for p in text.split("\n\n")
            ),
            message_id=f"<broken-{hashlib.sha256(f'{shop.shop_id}|{destination.name}|{reason}'.encode()).hexdigest()[:24]}@{shop.shop_id}.cxloop>",
            tags={"shop": shop.shop_id, "kind": "notice"},
        )
        with contextlib.suppress(MailError):  # the broken state is kept; `cxloop notify status` shows it
            self._mailer.send(email)
