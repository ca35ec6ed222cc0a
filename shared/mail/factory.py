"""The configured Mailer, from plain values: each service's bootstrap maps its own settings onto them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from shared.mail.message import Mailer

Transport = Literal["ses", "smtp"]


def build_mailer(
    transport: Transport,
    *,
    smtp_host: str = "127.0.0.1",
    smtp_port: int = 1025,
    ses_configuration_set: str | None = None,
    sesv2: Callable[[], Any] | None = None,
) -> Mailer:
    """SMTP to ``smtp_host:smtp_port``, or SES v2 on the client ``sesv2()`` builds (``shared.aws.client``).

    ``sesv2`` is a factory, called for SES only, so an SMTP mailer builds no AWS client; each adapter is
    imported only when chosen (botocore's exceptions are no concern of an SMTP sender's cold start).
    """
    if transport == "smtp":
        from shared.mail.smtp import SmtpMailer

        return SmtpMailer(smtp_host, smtp_port)
    if transport != "ses":
        raise ValueError(f"mail transport must be ses or smtp, not {transport!r}")
    if sesv2 is None:
        raise ValueError("the ses transport needs an sesv2 client factory")
    from shared.mail.ses import SesMailer

    return SesMailer(sesv2(), ses_configuration_set)
