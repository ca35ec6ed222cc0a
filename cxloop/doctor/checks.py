"""The checks, each a small function from what a port reads to :class:`CheckResult` lines. No boto3
here (import-linter keeps it so): tests run them against fakes of ``ports``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from cxloop.doctor.model import CheckResult, Queue, SenderUse, ShopFacts, Status, Target
from cxloop.doctor.ports import HttpProbe, Identity, MailSink, ReadFailed, StackReader, SubscriptionCheck
from shared import link_keys

OK, WARN, FAIL = Status.OK, Status.WARN, Status.FAIL
# The one route every deployment serves without a key: the REST API's OpenAPI document, answered by the
# dashboard-api function behind API Gateway (and by the local gateway the same way).
HEALTH_PATH = "/api/v1/openapi.json"
DKIM_OK = "SUCCESS"


# --- SES ------------------------------------------------------------------------------------------


def senders_in_use(target: Target, shops: Sequence[ShopFacts]) -> list[SenderUse]:
    """Every address mail leaves from: each shop's survey sender (an enabled programme), each shop's
    reply address, and the notifier's alert sender; one entry per address, naming all its uses."""
    uses: dict[str, tuple[list[str], list[str]]] = {}

    def add(address: str | None, use: str, shop: str | None = None) -> None:
        if not address:
            return
        entry = uses.setdefault(bare(address), ([], []))
        entry[0].append(use)
        if shop and shop not in entry[1]:
            entry[1].append(shop)

    for shop in shops:
        if shop.survey_enabled:
            add(shop.survey_sender, f"shop {shop.shop_id} surveys", shop.shop_id)
        add(shop.reply_from, f"shop {shop.shop_id} replies", shop.shop_id)
    add(target.alert_sender, "alerts and digests")
    return [SenderUse(address=a, uses=tuple(u), shops=tuple(s)) for a, (u, s) in sorted(uses.items())]


def bare(address: str) -> str:
    """``Brand <a@b.example>`` → ``a@b.example``."""
    inside = address.rpartition("<")[2].rstrip(">") if "<" in address else address
    return inside.strip().lower()


def check_sender(reader: StackReader, use: SenderUse, target: Target) -> CheckResult:
    """A sender is usable when SES has verified it for sending, as the address or (better) its domain;
    a domain without working DKIM, or an address alone, is a deliverability warning."""
    address, region = use.address, target.region
    domain = address.rpartition("@")[2]
    line = _line(
        "ses-sender", f"{address} ({', '.join(use.uses)})", use.shops[0] if len(use.shops) == 1 else None
    )
    if domain.endswith(".invalid"):
        return line(FAIL, "a placeholder address: nothing can be sent from it", _placeholder_fix(use, target))
    try:
        by_domain, by_address = reader.email_identity(domain), reader.email_identity(address)
    except ReadFailed as e:
        return line(
            FAIL,
            f"could not read the SES identity: {e}",
            f"use credentials allowed ses:GetEmailIdentity in {region}",
        )
    create = (
        f"aws sesv2 create-email-identity --email-identity {domain} --region {region}, then publish the "
        "three DKIM CNAME records it returns in the domain's DNS"
    )
    if by_domain and by_domain.verified_for_sending:
        if by_domain.dkim_status == DKIM_OK:
            return line(OK, f"domain {domain} verified for sending, DKIM {DKIM_OK}")
        return line(
            WARN,
            f"domain {domain} verified for sending, DKIM {by_domain.dkim_status or 'not set up'}",
            f"publish the DKIM CNAME records of {domain} (aws sesv2 get-email-identity --email-identity "
            f"{domain} --region {region} lists them)",
        )
    if by_address and by_address.verified_for_sending:
        return line(
            WARN,
            f"verified as an address only: mail is DKIM-signed by amazonses.com, not {domain}, so receivers "
            f"enforcing {domain}'s DMARC policy may refuse it",
            create,
        )
    return _unverified(line, by_domain or by_address, address, region, create)


def _unverified(
    line: Callable[..., CheckResult], pending: Identity | None, address: str, region: str, create: str
) -> CheckResult:
    domain = address.rpartition("@")[2]
    if pending is None:
        return line(
            FAIL,
            f"no SES identity for {address} or {domain} in {region}: SES refuses to send from it",
            create,
        )
    fix = (
        f"publish the DNS records SES asks for (aws sesv2 get-email-identity --email-identity {domain} "
        f"--region {region})"
        if pending.kind == "DOMAIN"
        else f"open the verification link SES mailed to {address} (SES console → Identities shows its status)"
    )
    return line(FAIL, f"SES identity {pending.name} exists but is not verified for sending", fix)


def _placeholder_fix(use: SenderUse, target: Target) -> str:
    if "alerts and digests" in use.uses:
        return (
            "deploy with a verified sender: CXLOOP_INFRA_NOTIFIER_SENDER='Your Shop <alerts@your-domain>' "
            f"cxloop deploy --region {target.region}"
        )
    shop = use.shops[0] if use.shops else "S"
    return target.cli(f"survey set --shop {shop} --sender surveys@your-domain")


def check_ses_account(reader: StackReader, target: Target) -> CheckResult:
    """Production access or the sandbox (where every recipient must be verified too)."""
    line = _line("ses-account", f"SES account in {target.region}")
    try:
        account = reader.account()
    except ReadFailed as e:
        return line(
            FAIL,
            f"could not read the SES account: {e}",
            f"use credentials allowed ses:GetAccount in {target.region}",
        )
    quota = f", {account.max_24_hour_send:g} messages a day" if account.max_24_hour_send is not None else ""
    if not account.sending_enabled:
        return line(
            FAIL,
            "sending is paused for the account: no survey or alert goes out",
            f"SES console ({target.region}) → Account dashboard says why; then "
            f"aws sesv2 put-account-sending-attributes --sending-enabled --region {target.region}",
        )
    if not account.production_access:
        return line(
            WARN,
            f"in the SES sandbox{quota}: mail reaches only verified addresses",
            f"request production access (SES console → Account dashboard → Request production access, or "
            f"aws sesv2 put-account-details --production-access-enabled ... --region {target.region}); until "
            "then every survey recipient must be a verified SES identity too",
        )
    return line(OK, f"production access{quota}")


def check_local_mail(sink: MailSink, target: Target, timeout_s: float) -> CheckResult:
    """Locally mail goes to the SMTP sink instead of SES: it has to be there."""
    smtp = target.smtp or "127.0.0.1:1025"
    host, _, port = smtp.rpartition(":")
    line = _line("mail", f"SMTP sink {smtp}")
    problem = sink.greets(host, int(port), timeout_s)
    if problem is None:
        return line(OK, "answers (the local stack mails through it; SES senders matter only in AWS)")
    return line(FAIL, f"does not answer: {problem}", "start the local stack again: cxloop run")


# --- the public URL -------------------------------------------------------------------------------


def check_urls(probe: HttpProbe, target: Target, timeout_s: float) -> list[CheckResult]:
    """The API's URL and the base of survey links (when it differs): https in AWS, and answering."""
    found: list[CheckResult] = []
    named = {"api": target.api_url, "links": target.public_url}
    if not target.local and not target.api_url:
        found.append(
            _line("public-url", "ApiUrl")(
                FAIL, "the stack has no ApiUrl output", f"redeploy: cxloop deploy --region {target.region}"
            )
        )
    for what, url in named.items():
        if url and not (what == "links" and url == target.api_url):
            found.append(check_url(probe, url, target, timeout_s, what))
    if target.public_url and target.public_url == target.api_url and _aws_default(target.public_url):
        found.append(
            _line("public-url", target.public_url)(
                WARN,
                "survey links use the API's own execute-api URL: it changes if the API is re-created, "
                "breaking links already sent",
                f"map a custom domain to the API and deploy with it: cxloop deploy --region {target.region} "
                "--public-url https://feedback.your-domain",
            )
        )
    return found


def check_url(probe: HttpProbe, url: str, target: Target, timeout_s: float, what: str = "api") -> CheckResult:
    line = _line("public-url", url)
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        return line(
            FAIL, f"not an http(s) URL (scheme {scheme!r})", "deploy with --public-url https://host[/path]"
        )
    if scheme != "https" and not target.local:
        return line(
            FAIL,
            f"{scheme}:// in AWS: survey links and one-click unsubscribe (RFC 8058) need https",
            f"cxloop deploy --region {target.region} --public-url https://... (an https custom domain)",
        )
    answer = probe.get(url.rstrip("/") + HEALTH_PATH, timeout_s)
    where = f"GET {HEALTH_PATH}"
    if answer.status is None:
        return line(FAIL, f"no answer within {timeout_s:g} s to {where}: {answer.error}", _url_fix(target))
    if answer.status != 200 or not _is_openapi(answer.body):
        return line(
            FAIL, f"{where} answered {answer.status}, not the API's OpenAPI document", _url_fix(target)
        )
    return line(
        OK,
        f"{where} answered 200 in {answer.seconds:.2f} s"
        + (" (http is fine locally)" if scheme == "http" else ""),
    )


def _url_fix(target: Target) -> str:
    if target.local:
        return "start the local stack again: cxloop run"
    return (
        f"look at the API function's logs: aws logs tail /aws/lambda/{target.prefix}-dashboard-api "
        f"--since 1h --region {target.region}; a custom domain must be mapped to the API (API Gateway → "
        "Custom domain names)"
    )


def _is_openapi(body: bytes) -> bool:
    try:
        return "openapi" in json.loads(body)
    except (ValueError, TypeError):
        return False


def _aws_default(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(".amazonaws.com")


# --- webhook subscriptions ------------------------------------------------------------------------


def not_checked(reason: str) -> SubscriptionCheck:
    """The stand-in while `cxloop shop connect` (``cxloop.connect``) is not there: says so, per shop."""

    def check(target: Target, shop: ShopFacts) -> Sequence[CheckResult]:
        return [
            CheckResult(
                check="subscriptions",
                subject=f"{shop.shop_id} ({', '.join(shop.platforms)})",
                status=WARN,
                detail=f"not checked ({reason})",
                fix="check the webhooks in the platform's admin against README § Connecting a real shop",
                shop=shop.shop_id,
            )
        ]

    return check


# --- dead-letter queues ---------------------------------------------------------------------------


def check_dlq(reader: StackReader, queue: Queue, target: Target) -> CheckResult:
    line = _line("dlq", queue.dlq_name)
    try:
        depth = reader.queue_depth(queue.dlq_url)
    except ReadFailed as e:
        return line(FAIL, f"could not read its depth: {e}", "use credentials allowed sqs:GetQueueAttributes")
    if depth == 0:
        return line(OK, "empty")
    return line(
        FAIL,
        f"{depth} message(s) dead-lettered from {queue.logical}: events not acted on",
        f"{target.cli(f'dlq list --queue {queue.logical}')} shows them and why; once the cause is fixed, "
        f"{target.cli(f'dlq replay --queue {queue.logical}')}",
    )


def check_dlq_alarm(reader: StackReader, queue: Queue, target: Target) -> CheckResult:
    """An alarm on the queue's depth (found by its QueueName dimension, whatever it is called) that
    tells someone: an alarm without an action changes colour in a console nobody watches."""
    line = _line("dlq-alarm", queue.dlq_name)
    try:
        alarms = reader.alarms_on_queue(queue.dlq_name)
    except ReadFailed as e:
        return line(
            FAIL, f"could not read the alarms: {e}", "use credentials allowed cloudwatch:DescribeAlarms"
        )
    if not alarms:
        return line(
            FAIL,
            "no CloudWatch alarm watches its depth: a dead letter would go unnoticed",
            f"redeploy (cxloop deploy --region {target.region}): the stack creates one per dead-letter queue",
        )
    acting = [a for a in alarms if a.actions_enabled and a.alarm_actions]
    if acting:
        names = ", ".join(f"{a.name} → {len(a.alarm_actions)} action(s)" for a in acting)
        return line(OK, names)
    silent = ", ".join(a.name + ("" if a.actions_enabled else " (actions disabled)") for a in alarms)
    return line(
        WARN if target.local else FAIL,
        f"alarm without an action: {silent}: nobody is told",
        f"CloudWatch console ({target.region}) → Alarms → {alarms[0].name} → Edit → Configure actions: "
        "notify an SNS topic you are subscribed to (and enable its actions)",
    )


# --- link keys ------------------------------------------------------------------------------------


def check_link_keys(reader: StackReader, target: Target) -> CheckResult:
    """The secret that signs survey, unsubscribe and approve links is there and readable (its keys are
    never printed)."""
    name = target.link_keys_secret
    line = _line("link-keys", name)
    try:
        value = reader.secret_value(name)
    except ReadFailed as e:
        return line(
            FAIL,
            f"could not read it: {e}",
            f"use credentials allowed secretsmanager:GetSecretValue on {name}",
        )
    if value is None:
        fix = (
            "start the local stack again: cxloop run (it creates the keys)"
            if target.local
            else (f"redeploy: cxloop deploy --region {target.region} (the stack creates the secret once)")
        )
        return line(FAIL, "no such secret: no survey or unsubscribe link can be signed or checked", fix)
    try:
        keys = link_keys.parse(value)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return line(
            FAIL,
            f"unreadable ({type(e).__name__}: {e}): links cannot be signed or checked",
            f"put the last good version back: aws secretsmanager list-secret-version-ids --secret-id {name}, "
            "then update-secret-version-stage --version-stage AWSCURRENT (see infra/README.md § Link keys)",
        )
    return line(OK, f"{len(keys)} key(s) of at least {link_keys.MIN_KEY_BYTES} bytes; the first signs")


# --- all of them ----------------------------------------------------------------------------------


def run_all(
    target: Target,
    reader: StackReader,
    probe: HttpProbe,
    sink: MailSink,
    subscriptions: SubscriptionCheck,
    timeout_s: float,
) -> list[CheckResult]:
    """Every check, in the order an operator would read them; per-shop checks cover ``target.shops``
    (the composition root narrows them to ``--shop``)."""
    results: list[CheckResult] = []
    if target.local:
        results.append(check_local_mail(sink, target, timeout_s))
    else:
        results += [check_sender(reader, use, target) for use in senders_in_use(target, target.shops)]
        results.append(check_ses_account(reader, target))
    results += check_urls(probe, target, timeout_s)
    if target.local:  # no platform can reach 127.0.0.1: the demo's webhooks are played by the stack
        results.append(
            CheckResult(
                check="subscriptions",
                subject="local stack",
                status=OK,
                detail="not asked locally (platforms cannot reach 127.0.0.1); in AWS each shop's are checked",
                fix="",
            )
        )
    else:
        for shop in target.shops:
            results += subscriptions(target, shop)
    for queue in target.queues:
        results.append(check_dlq(reader, queue, target))
        if not target.local:
            results.append(check_dlq_alarm(reader, queue, target))
    if target.local:  # one line, not a warning per queue for what only AWS has
        results.append(
            CheckResult(
                check="dlq-alarm",
                subject="local stack",
                status=OK,
                detail=(
                    "none locally; in AWS each dead-letter queue has one (cxloop doctor --stack checks them)"
                ),
                fix="",
            )
        )
    results.append(check_link_keys(reader, target))
    return results


def failed(results: Iterable[CheckResult]) -> bool:
    return any(r.status is FAIL for r in results)


def _line(check: str, subject: str, shop: str | None = None) -> Callable[..., CheckResult]:
    def make(status: Status, detail: str, fix: str = "") -> CheckResult:
        return CheckResult(check=check, subject=subject, status=status, detail=detail, fix=fix, shop=shop)

    return make
