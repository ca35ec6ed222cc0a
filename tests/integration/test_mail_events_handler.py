"""The mail-events SQS handler on moto: SES bounce and complaint notifications suppress the address for the
shop (and a later dispatcher run honours that), while an unreadable message is reported back alone as a
batch item failure."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cxloop.local.runtime import Functions
from cxloop.resources import provision_link_keys
from services.feedback import bootstrap
from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
from services.feedback.domain.orders.normalise import email_key
from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.invitations import Invitation, Reason, Stage, Status
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme
from shared import topology
from shared.settings import SurveySettings, load
from tests.fakes import SinkMailer
from tests.integration.conftest import Moto

SHOP = "mail-shop"
OTHER_SHOP = "other-shop"
PROGRAMME = SurveyProgramme(
    brand=Brand(name="Mail Shop", sender="surveys@mail-shop.example"), rules=Rules(quiet_hours=None)
)
BOUNCED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:cxloop-mail-events"


@dataclass
class World:
    store: DynamoSurveyStore
    mailer: SinkMailer

    def mail_events(self, *bodies: str) -> tuple[list[str], dict[str, Any]]:
        """Deliver one SQS batch to the handler as Lambda would; returns the message ids and the answer."""
        records = [_sqs_record(body) for body in bodies]
        response = Functions().invoke(topology.function("feedback-mail-events"), {"Records": records})
        return [r["messageId"] for r in records], response

    def dispatch(self) -> dict[str, Any]:
        report: dict[str, Any] = Functions().invoke(topology.function("feedback-dispatcher"), {"limit": 50})
        return report


@pytest.fixture
def world(aws: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    db, resources = aws.clients["dynamodb"], aws.resources
    for key, value in resources.env().items():
        monkeypatch.setenv(key, value)
    provision_link_keys(aws.clients["secretsmanager"], resources.prefix)
    programmes = DynamoProgrammeStore(db, resources.tables["shops"])
    for shop in (SHOP, OTHER_SHOP):
        programmes.put(shop, PROGRAMME)
    mailer = SinkMailer()
    # Not build_surveys(..., mailer=mailer): that keyword is the bool "build a mailer", so the fake
    # would be ignored and SES built instead (see test_build_surveys_installs_the_mailer_it_is_given).
    built = dataclasses.replace(bootstrap.build_surveys(load(SurveySettings)), mailer=mailer)
    bootstrap.surveys.use(built)
    bootstrap.dispatch.use(built)
    yield World(DynamoSurveyStore(db, resources.tables["feedback"]), mailer)
    bootstrap.surveys.use(None)
    bootstrap.dispatch.use(None)


def _sqs_record(body: str) -> dict[str, Any]:
    now_ms = str(int(datetime.now(tz=UTC).timestamp() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def _mail(tags: dict[str, str], to: str) -> dict[str, Any]:
    return {
        "timestamp": (BOUNCED_AT - timedelta(seconds=5)).isoformat(),
        "source": "surveys@mail-shop.example",
        "sendingAccountId": "123456789012",
        "messageId": "0100018e-example",
        "destination": [to],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["cxloop"], **{k: [v] for k, v in tags.items()}},
    }


def _bounce(to: str, tags: dict[str, str], bounce_type: str = "Permanent") -> dict[str, Any]:
    """The EventBridge event SES puts on the default bus for a bounce."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Email Bounced",
        "source": "aws.ses",
        "account": "123456789012",
        "time": BOUNCED_AT.isoformat(),
        "region": "us-east-1",
        "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/cxloop"],
        "detail": {
            "eventType": "Bounce",
            "bounce": {
                "feedbackId": "0100018e-feedback",
                "bounceType": bounce_type,
                "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
                "bouncedRecipients": [
                    {
                        "emailAddress": to,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": BOUNCED_AT.isoformat().replace("+00:00", "Z"),
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            },
            "mail": _mail(tags, to),
        },
    }


def _sns_complaint(to: str, tags: dict[str, str]) -> dict[str, Any]:
    """The same event publishing record, for a complaint, wrapped in an SNS notification."""
    record = {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": to}],
            "timestamp": BOUNCED_AT.isoformat(),
            "feedbackId": "0100018e-complaint",
            "complaintFeedbackType": "abuse",
        },
        "mail": _mail(tags, to),
    }
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": json.dumps(record)}


def _invitation(iid: str, email: str, shop: str = SHOP, **changes: Any) -> Invitation:
    fields: dict[str, Any] = {
        "shop_id": shop,
        "invite_id": iid,
        "order_sk": f"ORDER#shopify#{iid}",
        "order_name": f"#{iid}",
        "email": email,
        "contact_key": email_key(email),
        "survey_type": PROGRAMME.survey_type,
        "status": Status.PLANNED,
        "due_at": datetime.now(tz=UTC) - timedelta(minutes=5),
        "version": 1,
    }
    fields.update(changes)
    return Invitation(**fields)


def test_a_permanent_bounce_suppresses_the_address_and_a_bad_message_fails_alone(world: World) -> None:
    store = world.store
    jane = "Jane.Doe@Example.org"  # as the order gave it; SES reports the address as it was sent
    sent = _invitation(
        "inv-sent",
        jane,
        status=Status.SENT,
        stage=Stage.REMINDER,
        sent_at=BOUNCED_AT - timedelta(minutes=1),
        due_at=BOUNCED_AT + timedelta(days=3),
        message_id="<inv-sent.invite@mail-shop.example>",
    )
    assert store.write(sent, None) is Written.OK

    ids, response = world.mail_events(
        json.dumps(_bounce(jane, {"shop": SHOP, "invite": "inv-sent", "stage": "invite"})),
        "this is not JSON {",
        json.dumps(_sns_complaint("kim@example.org", {"shop": SHOP})),
        json.dumps(_bounce("lee@example.org", {"shop": SHOP}, bounce_type="Transient")),
        json.dumps(_bounce("mo@example.org", {"invite": "inv-x"})),  # no shop tag: whose is it?
        json.dumps(_bounce("jane.doe@example.org", {"shop": OTHER_SHOP})),
    )

    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [ids[1], ids[4]], "only the unreadable messages are retried (then dead-lettered)"

    contact = store.contact(SHOP, email_key(jane))
    assert contact is not None
    assert (contact.suppressed, contact.suppressed_at) == (Reason.BOUNCED, BOUNCED_AT)
    kim = store.contact(SHOP, email_key("kim@example.org"))
    assert kim is not None and kim.suppressed is Reason.COMPLAINED
    assert store.contact(SHOP, email_key("lee@example.org")) is None, "a transient bounce suppresses nothing"
    other = store.contact(OTHER_SHOP, email_key(jane))
    assert other is not None and other.suppressed is Reason.BOUNCED, "per shop"
    log = store.suppressions(SHOP)
    assert [(e.invite_id, e.reason, e.email_masked) for e in log] == [
        ("inv-sent", Reason.BOUNCED, "J***@Example.org")
    ]
    after = store.invitation(SHOP, "inv-sent")
    assert after is not None and after.due_at is None, "the pending reminder is dropped"

    # A later order of the same person: the dispatcher suppresses it, with the reason it was bounced.
    assert store.write(_invitation("inv-next", "jane.doe@example.org"), None) is Written.OK
    assert store.write(_invitation("inv-clean", "nora@example.org"), None) is Written.OK
    report = world.dispatch()
    assert (report["sent"], report["suppressed"]) == (1, {"bounced": 1}), report
    assert [e.to for e in world.mailer.sent] == ["nora@example.org"]
    suppressed = store.invitation(SHOP, "inv-next")
    assert suppressed is not None
    assert (suppressed.status, suppressed.reason, suppressed.due_at) == (
        Status.SUPPRESSED,
        Reason.BOUNCED,
        None,
    )
    assert [(e.invite_id, e.reason) for e in store.suppressions(SHOP, limit=1)] == [
        ("inv-next", Reason.BOUNCED)
    ]


def test_a_batch_of_only_readable_messages_reports_no_failures(world: World) -> None:
    """The failures above are the handler's verdict on those messages, not on the batch."""
    ids, response = world.mail_events(json.dumps(_bounce("zoe@example.org", {"shop": SHOP})))
    assert len(ids) == 1 and response == {"batchItemFailures": []}
    zoe = world.store.contact(SHOP, email_key("zoe@example.org"))
    assert zoe is not None and zoe.suppressed is Reason.BOUNCED


def test_build_surveys_installs_the_mailer_it_is_given(world: World) -> None:
    """bootstrap's docstring: tests pass fakes through ``overrides``. ``mailer`` is also the name of the
    keyword-only bool, so a mailer passed as an override lands there and a real one is built instead."""
    fake = SinkMailer()
    built = bootstrap.build_surveys(load(SurveySettings), mailer=fake)  # type: ignore[arg-type]
    assert built.mailer is fake, f"got {type(built.mailer).__name__}, not the mailer passed in"
