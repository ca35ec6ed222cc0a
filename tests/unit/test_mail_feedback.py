"""SES bounce and complaint notifications, in the shapes AWS documents (an EventBridge event on the
default bus, and the event publishing record inside an SNS notification), to suppressed addresses."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.feedback.domain.orders.normalise import email_key, order_sk
from services.feedback.domain.ports import Written
from services.feedback.domain.surveys.bounces import MailFeedback, act, parse
from services.feedback.domain.surveys.dispatch import DispatchDeps, Dispatcher, Links
from services.feedback.domain.surveys.invitations import Invitation, Reason, Status, invite_id
from services.feedback.domain.surveys.programme import Brand, Rules, SurveyProgramme, SurveyType
from services.feedback.rendering import render_email
from shared.errors import BadRequest
from shared.tenancy import Platform
from tests.fakes import InMemoryFeedbackStore, InMemoryProgrammes, InMemorySurveyStore, SinkMailer

pytestmark = pytest.mark.unit

SHOP = "acme-shop"
IID = invite_id(SHOP, "ORDER#shopify#1")
JANE = "jane.doe@example.com"
T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BOUNCED_AT = datetime(2026, 5, 4, 12, 0, 41, 669000, tzinfo=UTC)
COMPLAINED_AT = datetime(2026, 5, 5, 8, 30, tzinfo=UTC)


def mail_object(tags: dict[str, list[str]] | None = None, to: str = JANE) -> dict[str, Any]:
    """The ``mail`` object of an SES event record (headers trimmed to the common ones)."""
    return {
        "timestamp": "2026-05-04T12:00:02.012Z",
        "source": "Acme <surveys@acme.example>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/acme.example",
        "sendingAccountId": "123456789012",
        "messageId": "0102018f3c1e8a7b-5d1e2f3a-9b8c-4d7e-a6f5-0e1d2c3b4a59-000000",
        "destination": [to],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Acme <surveys@acme.example>"},
            {"name": "To", "value": to},
            {"name": "Subject", "value": "Quick question about your order #1001"},
            {"name": "Message-ID", "value": f"<{IID}.invite@acme.example>"},
        ],
        "commonHeaders": {
            "from": ["Acme <surveys@acme.example>"],
            "to": [to],
            "messageId": "0102018f3c1e8a7b-5d1e2f3a-9b8c-4d7e-a6f5-0e1d2c3b4a59-000000",
            "subject": "Quick question about your order #1001",
        },
        "tags": (
            tags
            if tags is not None
            else {
                "ses:configuration-set": ["cxloop-surveys"],
                "ses:source-ip": ["192.0.2.0"],
                "ses:from-domain": ["acme.example"],
                "ses:caller-identity": ["cxloop-dispatcher"],
                "shop": [SHOP],
                "invite": [IID],
                "stage": ["invite"],
            }
        ),
    }


def bounce_record(bounce_type: str = "Permanent", recipients: tuple[str, ...] = (JANE,)) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": "2026-05-04T12:00:41.669Z",
            "feedbackId": "0102018f3c1e8a7b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
        "mail": mail_object(),
    }


def complaint_record() -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "complaint": {
            "feedbackId": "0102018f3c1e8a7b-9a8b7c6d-1111-2222-3333-444455556666-000000",
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": JANE}],
            "timestamp": "2026-05-05T08:30:00.000Z",
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-05-05T08:29:58.000Z",
        },
        "mail": mail_object(),
    }


def delivery_record() -> dict[str, Any]:
    return {
        "eventType": "Delivery",
        "delivery": {
            "timestamp": "2026-05-04T12:00:03.190Z",
            "processingTimeMillis": 1178,
            "recipients": [JANE],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
        "mail": mail_object(),
    }


DETAIL_TYPES = {
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Delivery": "Email Delivered",
}


def eventbridge(record: dict[str, Any]) -> dict[str, Any]:
    """SES on the default event bus (``source: aws.ses``)."""
    return {
        "version": "0",
        "id": "1b3b3c0e-8d7a-4a3c-9d2f-0e7c3b2a1f00",
        "detail-type": DETAIL_TYPES[record["eventType"]],
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-05-04T12:00:42Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:ses:eu-west-1:123456789012:configuration-set/cxloop-surveys"],
        "detail": record,
    }


def sns(record: dict[str, Any]) -> dict[str, Any]:
    """The event publishing record as an SNS notification (``Message`` is a JSON string)."""
    return {
        "Type": "Notification",
        "MessageId": "6f1c1f4e-0c7a-5c4a-9a0b-2f8e8c6d1a22",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:cxloop-mail-events",
        "Message": json.dumps(record),
        "Timestamp": "2026-05-04T12:00:42.301Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


WRAPPERS = {"eventbridge": eventbridge, "sns": sns}


# --- parse


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_a_permanent_bounce_suppresses_each_bounced_recipient(wrap: str) -> None:
    body = WRAPPERS[wrap](bounce_record(recipients=(JANE, "second@example.com")))

    found = parse(body)

    assert found == [
        MailFeedback(SHOP, IID, JANE, Reason.BOUNCED, BOUNCED_AT),
        MailFeedback(SHOP, IID, "second@example.com", Reason.BOUNCED, BOUNCED_AT),
    ]


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_a_transient_bounce_suppresses_nothing(wrap: str) -> None:
    assert parse(WRAPPERS[wrap](bounce_record("Transient"))) == []


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_an_undetermined_bounce_suppresses_nothing(wrap: str) -> None:
    assert parse(WRAPPERS[wrap](bounce_record("Undetermined"))) == []


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_a_complaint_suppresses_the_complainant(wrap: str) -> None:
    assert parse(WRAPPERS[wrap](complaint_record())) == [
        MailFeedback(SHOP, IID, JANE, Reason.COMPLAINED, COMPLAINED_AT)
    ]


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_a_delivery_suppresses_nothing(wrap: str) -> None:
    assert parse(WRAPPERS[wrap](delivery_record())) == []


@pytest.mark.parametrize("wrap", WRAPPERS)
@pytest.mark.parametrize("make", [bounce_record, complaint_record], ids=["bounce", "complaint"])
def test_a_notification_without_the_shop_tag_is_a_bad_request(wrap: str, make: Any) -> None:
    record = make()
    del record["mail"]["tags"]["shop"]

    with pytest.raises(BadRequest, match="shop"):
        parse(WRAPPERS[wrap](record))


def test_a_notification_without_any_tags_is_a_bad_request() -> None:
    record = bounce_record()
    del record["mail"]["tags"]

    with pytest.raises(BadRequest):
        parse(eventbridge(record))


def test_without_the_invite_tag_the_address_is_still_suppressed() -> None:
    record = complaint_record()
    del record["mail"]["tags"]["invite"]

    assert parse(sns(record)) == [MailFeedback(SHOP, None, JANE, Reason.COMPLAINED, COMPLAINED_AT)]


def test_an_unreadable_sns_message_is_a_bad_request() -> None:
    body = sns(bounce_record())
    body["Message"] = body["Message"][:-5]

    with pytest.raises(BadRequest):
        parse(body)


def test_both_wrappers_read_the_same() -> None:
    for make in (bounce_record, complaint_record, delivery_record):
        record = make()
        assert parse(eventbridge(copy.deepcopy(record))) == parse(sns(copy.deepcopy(record)))


# --- act


class Bed:
    def __init__(self) -> None:
        self.now = T0
        self.surveys = InMemorySurveyStore(InMemoryFeedbackStore())
        self.programmes = InMemoryProgrammes()
        brand = Brand(name="Acme", sender="surveys@acme.example")
        self.programmes.put(SHOP, SurveyProgramme(brand=brand, rules=Rules(quiet_hours=None)))
        self.mailer = SinkMailer()

    def plant(self, n: int, email: str = JANE) -> str:
        sk = order_sk(Platform.SHOPIFY, n)
        inv = Invitation(
            shop_id=SHOP,
            invite_id=invite_id(SHOP, sk),
            order_sk=sk,
            order_name=f"#{1000 + n}",
            email=email,
            contact_key=email_key(email),
            survey_type=SurveyType.NPS,
            status=Status.PLANNED,
            planned_at=self.now,
            due_at=self.now,
            version=1,
        )
        assert self.surveys.write(inv, None) is Written.OK
        return inv.invite_id

    def dispatch(self, run_id: str) -> None:
        deps = DispatchDeps(
            surveys=self.surveys,
            programmes=self.programmes,
            mailer=self.mailer,
            render=render_email,
            links=Links("https://fb.example", [bytes(range(32))]),
            clock=lambda: self.now,
        )
        Dispatcher(deps, run_id).run()

    def inv(self, iid: str) -> Invitation:
        found = self.surveys.invitation(SHOP, iid)
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("record", "reason", "at"),
    [(bounce_record, Reason.BOUNCED, BOUNCED_AT), (complaint_record, Reason.COMPLAINED, COMPLAINED_AT)],
    ids=["bounce", "complaint"],
)
@pytest.mark.parametrize("wrap", WRAPPERS)
def test_act_suppresses_the_address_and_drops_the_pending_reminder(
    record: Any, reason: Reason, at: datetime, wrap: str
) -> None:
    bed = Bed()
    iid = bed.plant(1)
    assert iid == IID
    bed.dispatch("run-1")
    assert bed.inv(iid).due_at is not None  # the reminder
    body = WRAPPERS[wrap](record())
    # The provider reports the address as the receiving server spelled it.
    text = json.dumps(body).replace(JANE, "Jane.Doe@Example.COM")

    assert act(bed.surveys, parse(json.loads(text)), T0 + timedelta(days=1)) == 1

    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed is reason and contact.suppressed_at == at
    inv = bed.inv(iid)
    assert inv.due_at is None and inv.status is Status.SENT
    [entry] = bed.surveys.suppressions(SHOP)
    assert entry.reason is reason and entry.invite_id == iid and entry.email_masked == "j***@example.com"

    bed.now = T0 + timedelta(days=3)
    bed.dispatch("run-2")
    assert len(bed.mailer.sent) == 1  # no reminder
    later = bed.plant(2)
    bed.now += timedelta(days=400)
    bed.dispatch("run-3")
    assert (bed.inv(later).status, bed.inv(later).reason) == (Status.SUPPRESSED, reason)
    assert len(bed.mailer.sent) == 1


def test_act_on_nothing_changes_nothing() -> None:
    bed = Bed()
    bed.plant(1)
    bed.dispatch("run-1")

    assert act(bed.surveys, parse(eventbridge(bounce_record("Transient"))), T0) == 0
    assert act(bed.surveys, parse(sns(delivery_record())), T0) == 0

    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is None or contact.suppressed is None
    assert bed.inv(IID).due_at is not None


def test_a_second_bounce_keeps_the_first_reason_and_log_entry() -> None:
    bed = Bed()
    bed.plant(1)
    bed.dispatch("run-1")

    act(bed.surveys, parse(eventbridge(bounce_record())), T0)
    act(bed.surveys, parse(sns(complaint_record())), T0)

    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed is Reason.BOUNCED
    assert [e.reason for e in bed.surveys.suppressions(SHOP)] == [Reason.BOUNCED]


def test_a_bounce_for_an_unknown_invitation_still_suppresses_the_address() -> None:
    bed = Bed()
    record = bounce_record()
    record["mail"]["tags"]["invite"] = ["z" * 26]

    assert act(bed.surveys, parse(eventbridge(record)), T0) == 1

    contact = bed.surveys.contact(SHOP, email_key(JANE))
    assert contact is not None and contact.suppressed is Reason.BOUNCED
    assert bed.surveys.suppressions(SHOP) == []


def test_acting_on_a_bounce_tells_the_other_services_by_the_address_digest_only() -> None:
    from shared import events
    from tests.fakes import ListPublisher

    surveys, publisher = InMemorySurveyStore(InMemoryFeedbackStore()), ListPublisher()
    feedback = [MailFeedback(SHOP, None, JANE, Reason.BOUNCED, BOUNCED_AT)]
    assert act(surveys, feedback, BOUNCED_AT, publisher) == 1
    [told] = publisher.of(events.CONTACT_SUPPRESSED)
    assert told.shop_id == SHOP
    assert told.data == {"email_hash": events.email_digest(JANE), "reason": "bounced"}
    assert JANE not in str(told.model_dump())
