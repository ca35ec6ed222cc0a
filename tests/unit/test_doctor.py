"""`cxloop doctor`'s checks against an in-memory stack: each check's ok, warn and fail lines, and what
the report and the exit status make of them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cxloop.cli_errors import CliError
from cxloop.doctor import checks, render
from cxloop.doctor.model import CheckResult, Queue, SenderUse, ShopFacts, Status, Target
from cxloop.doctor.ports import Account, Alarm, Identity, Probe, ReadFailed
from cxloop.doctor_commands import _narrowed, as_results, subscription_check
from shared.link_keys import new_secret_value

OK, WARN, FAIL = Status.OK, Status.WARN, Status.FAIL
QUEUE = Queue(
    logical="feedback-events", dlq_name="cx-feedback-events-dlq", dlq_url="https://sqs/cx-feedback-events-dlq"
)
OPENAPI = json.dumps({"openapi": "3.1.0"}).encode()


@dataclass
class FakeStack:
    """What SES, SQS, CloudWatch and Secrets Manager would answer; ``refuse`` makes every read fail."""

    identities: dict[str, Identity] = field(default_factory=dict)
    production: bool = True
    sending: bool = True
    depths: dict[str, int] = field(default_factory=dict)
    alarms: dict[str, list[Alarm]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    refuse: str | None = None

    def _gate(self) -> None:
        if self.refuse:
            raise ReadFailed(self.refuse)

    def email_identity(self, name: str) -> Identity | None:
        self._gate()
        return self.identities.get(name)

    def account(self) -> Account:
        self._gate()
        return Account(production_access=self.production, sending_enabled=self.sending, max_24_hour_send=200)

    def queue_depth(self, url: str) -> int:
        self._gate()
        return self.depths.get(url, 0)

    def alarms_on_queue(self, queue_name: str) -> list[Alarm]:
        self._gate()
        return self.alarms.get(queue_name, [])

    def secret_value(self, name: str) -> str | None:
        self._gate()
        return self.secrets.get(name)


@dataclass
class FakeProbe:
    answers: dict[str, Probe] = field(default_factory=dict)
    asked: list[tuple[str, float]] = field(default_factory=list)

    def get(self, url: str, timeout_s: float) -> Probe:
        self.asked.append((url, timeout_s))
        return self.answers.get(url, Probe(status=None, seconds=timeout_s, error="TimeoutError: timed out"))


@dataclass
class FakeSink:
    problem: str | None = None

    def greets(self, host: str, port: int, timeout_s: float) -> str | None:
        return self.problem


def aws(**changes: object) -> Target:
    base = Target(
        local=False,
        name="CloudFormation stack cx (eu-west-1)",
        prefix="cx",
        region="eu-west-1",
        api_url="https://abc.execute-api.eu-west-1.amazonaws.com",
        public_url="https://feedback.shop.example",
        alert_sender="Shop Alerts <alerts@shop.example>",
        link_keys_secret="cx/surveys/link-keys",
        queues=(QUEUE,),
        shops=(
            ShopFacts(
                shop_id="blue-kiln",
                platforms=("shopify",),
                survey_sender="hi@shop.example",
                survey_enabled=True,
            ),
            ShopFacts(shop_id="red-kiln", platforms=("woocommerce",), reply_from="Red <care@red.example>"),
        ),
    )
    return base.model_copy(update=changes)


def local(**changes: object) -> Target:
    return aws(
        local=True,
        api_url="http://127.0.0.1:8080",
        public_url="http://127.0.0.1:8080",
        smtp="127.0.0.1:1025",
        alert_sender=None,
    ).model_copy(update=changes)


def domain(name: str, verified: bool = True, dkim: str | None = "SUCCESS") -> Identity:
    return Identity(name=name, kind="DOMAIN", verified_for_sending=verified, dkim_status=dkim)


def address(name: str, verified: bool = True) -> Identity:
    return Identity(name=name, kind="EMAIL_ADDRESS", verified_for_sending=verified)


USE = SenderUse(address="hi@shop.example", uses=("shop blue-kiln surveys",), shops=("blue-kiln",))


# --- SES senders ----------------------------------------------------------------------------------


def test_the_senders_in_use_are_each_programme_s_each_reply_address_and_the_alert_sender_once_each() -> None:
    target = aws(alert_sender="Alerts <HI@shop.example>")
    found = checks.senders_in_use(target, target.shops)
    assert [(u.address, u.uses, u.shops) for u in found] == [
        ("care@red.example", ("shop red-kiln replies",), ("red-kiln",)),
        ("hi@shop.example", ("shop blue-kiln surveys", "alerts and digests"), ("blue-kiln",)),
    ]


def test_a_disabled_programme_s_sender_is_not_in_use() -> None:
    shop = ShopFacts(
        shop_id="s1-x", platforms=("shopify",), survey_sender="a@b.example", survey_enabled=False
    )
    assert checks.senders_in_use(aws(alert_sender=None), [shop]) == []


@pytest.mark.parametrize(
    ("identities", "status", "said", "fix"),
    [
        (
            {"shop.example": domain("shop.example")},
            OK,
            "domain shop.example verified for sending, DKIM SUCCESS",
            "",
        ),
        (
            {"shop.example": domain("shop.example", dkim="PENDING")},
            WARN,
            "DKIM PENDING",
            "publish the DKIM CNAME",
        ),
        (
            {"hi@shop.example": address("hi@shop.example")},
            WARN,
            "verified as an address only",
            "create-email-identity",
        ),
        (
            {},
            FAIL,
            "no SES identity for hi@shop.example or shop.example in eu-west-1",
            "aws sesv2 create-email-identity --email-identity shop.example --region eu-west-1",
        ),
        (
            {"shop.example": domain("shop.example", verified=False)},
            FAIL,
            "exists but is not verified",
            "publish the DNS records",
        ),
        (
            {"hi@shop.example": address("hi@shop.example", verified=False)},
            FAIL,
            "not verified",
            "open the verification link",
        ),
    ],
)
def test_a_sender_is_checked_as_its_domain_or_its_address(
    identities: dict[str, Identity], status: Status, said: str, fix: str
) -> None:
    result = checks.check_sender(FakeStack(identities=identities), USE, aws())
    assert (result.status, result.check, result.shop) == (status, "ses-sender", "blue-kiln")
    assert said in result.detail and fix in result.fix
    assert result.subject == "hi@shop.example (shop blue-kiln surveys)"


def test_the_placeholder_alert_sender_fails_with_how_to_deploy_a_real_one() -> None:
    use = SenderUse(address="alerts@cxloop.invalid", uses=("alerts and digests",))
    result = checks.check_sender(FakeStack(), use, aws())
    assert result.status is FAIL and "placeholder" in result.detail
    assert result.fix.startswith("deploy with a verified sender: CXLOOP_INFRA_NOTIFIER_SENDER=")


def test_ses_refusing_a_read_is_a_failure_naming_the_permission() -> None:
    result = checks.check_sender(FakeStack(refuse="AccessDeniedException: no"), USE, aws())
    assert (
        result.status is FAIL
        and "AccessDeniedException" in result.detail
        and "ses:GetEmailIdentity" in result.fix
    )


@pytest.mark.parametrize(
    ("production", "sending", "status", "said"),
    [
        (True, True, OK, "production access, 200 messages a day"),
        (False, True, WARN, "in the SES sandbox, 200"),
        (True, False, FAIL, "sending is paused"),
    ],
)
def test_the_ses_account_is_in_production_the_sandbox_or_paused(
    production: bool, sending: bool, status: Status, said: str
) -> None:
    result = checks.check_ses_account(FakeStack(production=production, sending=sending), aws())
    assert result.status is status and said in result.detail
    if not production:
        assert "Request production access" in result.fix and "recipient must be a verified" in result.fix


def test_locally_the_smtp_sink_is_checked_instead_of_ses() -> None:
    assert checks.check_local_mail(FakeSink(), local(), 1.0).status is OK
    down = checks.check_local_mail(FakeSink("ConnectionRefusedError: refused"), local(), 1.0)
    assert down.status is FAIL and "refused" in down.detail and down.fix.endswith("cxloop run")


# --- the public URL -------------------------------------------------------------------------------


def test_https_urls_answering_the_openapi_document_are_ok_each_once() -> None:
    target = aws()
    probe = FakeProbe(
        {
            f"{u}/api/v1/openapi.json": Probe(status=200, seconds=0.2, body=OPENAPI)
            for u in (target.api_url, target.public_url)
        }
    )
    results = checks.check_urls(probe, target, 3.0)
    assert [(r.status, r.subject) for r in results] == [(OK, target.api_url), (OK, target.public_url)]
    assert "answered 200 in 0.20 s" in results[0].detail and {t for _, t in probe.asked} == {3.0}


def test_http_is_a_failure_in_aws_without_asking_but_fine_locally() -> None:
    probe = FakeProbe(
        {"http://127.0.0.1:8080/api/v1/openapi.json": Probe(status=200, seconds=0.01, body=OPENAPI)}
    )
    deployed = checks.check_url(probe, "http://api.shop.example", aws(), 3.0)
    assert (
        deployed.status is FAIL
        and "need https" in deployed.detail
        and "--public-url https://" in deployed.fix
    )
    assert probe.asked == []
    here = checks.check_url(probe, "http://127.0.0.1:8080", local(), 3.0)
    assert here.status is OK and "http is fine locally" in here.detail


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Probe(status=None, seconds=3, error="TimeoutError: timed out"), "no answer within 3 s"),
        (Probe(status=502, seconds=0.1, body=b'{"message":"Internal Server Error"}'), "answered 502"),
        (
            Probe(status=200, seconds=0.1, body=b"<html>a parking page</html>"),
            "answered 200, not the API's OpenAPI",
        ),
    ],
)
def test_a_url_that_does_not_answer_its_health_route_fails(answer: Probe, said: str) -> None:
    url = "https://feedback.shop.example"
    result = checks.check_url(FakeProbe({f"{url}/api/v1/openapi.json": answer}), url, aws(), 3.0)
    assert (
        result.status is FAIL
        and said in result.detail
        and "aws logs tail /aws/lambda/cx-dashboard-api" in result.fix
    )


def test_links_on_the_api_s_own_url_are_a_warning_and_a_missing_api_url_a_failure() -> None:
    own = "https://abc.execute-api.eu-west-1.amazonaws.com"
    probe = FakeProbe({f"{own}/api/v1/openapi.json": Probe(status=200, seconds=0.1, body=OPENAPI)})
    results = checks.check_urls(probe, aws(public_url=own), 3.0)
    assert [r.status for r in results] == [OK, WARN] and "custom domain" in results[1].fix
    missing = checks.check_urls(FakeProbe(), aws(api_url=None, public_url=None), 3.0)
    assert [(r.status, r.detail) for r in missing] == [(FAIL, "the stack has no ApiUrl output")]


# --- webhook subscriptions ------------------------------------------------------------------------


def test_the_subscription_check_is_cxloop_connect_s_verify_and_builds_the_admin_once() -> None:
    """Wired to ``cxloop.connect.verify``: a shop it does not know is a failure naming the fix, and the
    admin (AWS clients) is built on first use, once for every shop."""

    class NoShops:
        def get(self, shop_id: str) -> None:
            return None

    built: list[int] = []

    def admin() -> Any:
        built.append(1)
        return type("Admin", (), {"shops": NoShops()})()

    check = subscription_check(admin, env={})
    results = [r for shop in aws().shops for r in check(aws(), shop)]
    assert [(r.status, r.shop, r.detail) for r in results] == [
        (FAIL, "blue-kiln", "no such shop"),
        (FAIL, "red-kiln", "no such shop"),
    ]
    assert built == [1]


def test_locally_the_subscriptions_are_one_line_and_not_asked() -> None:
    target = local()
    stack, probe = healthy(target)
    asked: list[str] = []

    def never(target: Target, shop: ShopFacts) -> list[CheckResult]:
        asked.append(shop.shop_id)
        return []

    results = checks.run_all(target, stack, probe, FakeSink(), never, 5.0)
    lines = [r for r in results if r.check == "subscriptions"]
    assert asked == [] and [(r.status, r.subject) for r in lines] == [(OK, "local stack")]


def test_cxloop_connect_s_results_become_doctor_lines() -> None:
    @dataclass
    class Verified:  # the shape cxloop.connect.verify returns: status, detail, fix
        status: str
        detail: str
        fix: str
        platform: str

    shop = aws().shops[0]
    lines = as_results(
        shop, [Verified("fail", "orders/create missing", "cxloop shop connect blue-kiln", "shopify")]
    )
    assert lines == [
        CheckResult(
            check="subscriptions",
            subject="blue-kiln shopify",
            status=FAIL,
            detail="orders/create missing",
            fix="cxloop shop connect blue-kiln",
            shop="blue-kiln",
        )
    ]


# --- dead-letter queues ---------------------------------------------------------------------------


def test_an_empty_dlq_is_ok_and_a_non_empty_one_fails_with_the_cli_that_inspects_and_replays() -> None:
    assert checks.check_dlq(FakeStack(), QUEUE, aws()).status is OK
    full = checks.check_dlq(
        FakeStack(depths={QUEUE.dlq_url: 3}), QUEUE, aws(cli_env="AWS_PROFILE=p", cli_options="--prefix cx")
    )
    assert full.status is FAIL and full.detail.startswith("3 message(s) dead-lettered from feedback-events")
    assert "AWS_PROFILE=p cxloop --prefix cx dlq list --queue feedback-events" in full.fix
    assert "AWS_PROFILE=p cxloop --prefix cx dlq replay --queue feedback-events" in full.fix
    refused = checks.check_dlq(FakeStack(refuse="AccessDenied"), QUEUE, aws())
    assert refused.status is FAIL and "sqs:GetQueueAttributes" in refused.fix


def alarm(actions: tuple[str, ...] = ("arn:aws:sns:eu-west-1:1:ops",), enabled: bool = True) -> Alarm:
    return Alarm(
        name="whatever-it-is-called",
        metric="ApproximateNumberOfMessagesVisible",
        actions_enabled=enabled,
        alarm_actions=actions,
    )


@pytest.mark.parametrize(
    ("alarms", "target", "status", "said"),
    [
        ([alarm()], aws(), OK, "whatever-it-is-called → 1 action(s)"),
        ([alarm(actions=())], aws(), FAIL, "alarm without an action: whatever-it-is-called"),
        ([alarm(enabled=False)], aws(), FAIL, "whatever-it-is-called (actions disabled)"),
        ([], aws(), FAIL, "no CloudWatch alarm watches its depth"),
    ],
)
def test_a_dlq_needs_an_alarm_that_tells_someone(
    alarms: list[Alarm], target: Target, status: Status, said: str
) -> None:
    result = checks.check_dlq_alarm(FakeStack(alarms={QUEUE.dlq_name: alarms}), QUEUE, target)
    assert result.status is status and said in result.detail


# --- link keys ------------------------------------------------------------------------------------


def test_link_keys_present_missing_or_unreadable_and_never_printed() -> None:
    value = new_secret_value()
    ok = checks.check_link_keys(FakeStack(secrets={"cx/surveys/link-keys": value}), aws())
    assert ok.status is OK and ok.detail == "1 key(s) of at least 32 bytes; the first signs"
    assert json.loads(value)["keys"][0] not in ok.model_dump_json()
    missing = checks.check_link_keys(FakeStack(), aws())
    assert missing.status is FAIL and "cxloop deploy --region eu-west-1" in missing.fix
    assert "cxloop run" in checks.check_link_keys(FakeStack(), local()).fix
    short = checks.check_link_keys(FakeStack(secrets={"cx/surveys/link-keys": '{"keys": ["abcd"]}'}), aws())
    assert short.status is FAIL and "at least 32 bytes" in short.detail and "AWSCURRENT" in short.fix


# --- the whole report -----------------------------------------------------------------------------


def healthy(target: Target) -> tuple[FakeStack, FakeProbe]:
    stack = FakeStack(
        identities={"shop.example": domain("shop.example"), "red.example": domain("red.example")},
        alarms={QUEUE.dlq_name: [alarm()]},
        secrets={"cx/surveys/link-keys": new_secret_value()},
    )
    probe = FakeProbe(
        {
            f"{u}/api/v1/openapi.json": Probe(status=200, seconds=0.1, body=OPENAPI)
            for u in (target.api_url, target.public_url)
        }
    )
    return stack, probe


def test_a_healthy_deployment_reports_nothing_failed_in_the_operator_s_order() -> None:
    target = aws()
    stack, probe = healthy(target)
    results = checks.run_all(target, stack, probe, FakeSink(), checks.not_checked("in a unit test"), 5.0)
    assert not checks.failed(results)
    assert [r.check for r in results] == [
        "ses-sender",
        "ses-sender",
        "ses-sender",
        "ses-account",
        "public-url",
        "public-url",
        "subscriptions",
        "subscriptions",
        "dlq",
        "dlq-alarm",
        "link-keys",
    ]
    report = render.text(target, results)
    assert report.splitlines()[0] == "cxloop doctor: CloudFormation stack cx (eu-west-1)"
    assert report.splitlines()[-1] == "9 ok, 2 warn, 0 fail: nothing failed"


def test_one_dead_letter_fails_the_report_and_its_line_says_the_fix() -> None:
    target = aws()
    stack, probe = healthy(target)
    stack.depths[QUEUE.dlq_url] = 1
    results = checks.run_all(target, stack, probe, FakeSink(), checks.not_checked("in a unit test"), 5.0)
    assert checks.failed(results)
    line = next(render.line(r) for r in results if r.check == "dlq")
    assert line.startswith("FAIL  dlq cx-feedback-events-dlq: 1 message(s) dead-lettered")
    assert " — fix: cxloop dlq list --queue feedback-events" in line
    doc = json.loads(render.as_json(target, results))
    assert doc["ok"] is False and doc["target"]["local"] is False
    assert {"check", "subject", "status", "detail", "fix", "shop"} <= set(doc["checks"][0])


def test_locally_ses_is_not_asked_and_alarms_are_one_line() -> None:
    target = local()
    stack, probe = healthy(target)
    stack.alarms.clear()
    results = checks.run_all(target, stack, probe, FakeSink(), checks.not_checked("in a unit test"), 5.0)
    assert "ses-sender" not in {r.check for r in results} and not checks.failed(results)
    alarms = [r for r in results if r.check == "dlq-alarm"]
    assert len(alarms) == 1 and alarms[0].status is OK and "in AWS each dead-letter queue" in alarms[0].detail


def test_shop_narrows_the_per_shop_checks_and_an_unknown_shop_names_the_option_and_the_shops() -> None:
    assert [s.shop_id for s in _narrowed(aws(), "red-kiln").shops] == ["red-kiln"]
    with pytest.raises(
        CliError, match=r"--shop 'green-kiln': no such shop in this stack \(the shops: blue-kiln, red-kiln;"
    ):
        _narrowed(aws(), "green-kiln")
