"""A shop's survey report: the period is by send time, metrics are over answers, the response rate over
sends, and what was not sent (and why) or is still pending is counted on the side."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.feedback.domain.surveys.invitations import Invitation, Reason, Status, invite_id
from services.feedback.domain.surveys.programme import SurveyType
from services.feedback.domain.surveys.report import SurveyReport, TypeReport, survey_report
from shared.metrics import Metric

pytestmark = pytest.mark.unit

SHOP = "acme-shop"
SINCE = datetime(2026, 5, 1, tzinfo=UTC)
UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
MID = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)

_counter = iter(range(1, 1_000_000))


def inv(status: Status = Status.SENT, **fields: Any) -> Invitation:
    n = next(_counter)
    sk = f"ORDER#shopify#{n}"
    values: dict[str, Any] = {
        "shop_id": SHOP,
        "invite_id": invite_id(SHOP, sk),
        "order_sk": sk,
        "order_name": f"#{n}",
        "email": f"p{n}@example.com",
        "survey_type": SurveyType.NPS,
        "status": status,
        "planned_at": fields.get("sent_at", MID) - timedelta(days=3),
    }
    if status is Status.SENT:
        values["sent_at"] = MID
    values.update(fields)
    if values.get("score") is not None and "answered_at" not in values:
        values["answered_at"] = values["sent_at"] + timedelta(hours=2)
    return Invitation.model_validate(values)


def sent(score: int | None = None, **fields: Any) -> Invitation:
    return inv(Status.SENT, score=score, **fields)


def not_sent(status: Status, reason: Reason, **fields: Any) -> Invitation:
    return inv(status, reason=reason, planned_at=fields.pop("planned_at", MID), **fields)


def metric(t: TypeReport, name: str) -> Metric:
    [found] = [m for m in t.metrics if m.name == name]
    return found


def only(report: SurveyReport) -> TypeReport:
    [t] = report.by_type
    return t


def test_nps_is_over_answers_and_the_response_rate_over_sends() -> None:
    answered = [sent(10), sent(9), sent(3)]
    unanswered = [sent(), sent()]

    report = survey_report(SHOP, answered + unanswered, SINCE, UNTIL)

    t = only(report)
    assert (t.survey_type, t.sent, t.answered) == ("nps", 5, 3)
    nps = metric(t, "nps")
    assert nps.n == 3 and math.isclose(nps.value or 0, 100 * (2 - 1) / 3)
    assert (nps.promoters, nps.passives, nps.detractors) == (2, 0, 1)
    rate = metric(t, "response_rate")
    assert rate.n == 5 and math.isclose(rate.value or 0, 60.0)


def test_unanswered_sends_change_only_the_response_rate() -> None:
    answered = [sent(10), sent(6), sent(8), sent(9)]

    alone = only(survey_report(SHOP, answered, SINCE, UNTIL))
    diluted = only(survey_report(SHOP, [*answered, sent(), sent(), sent(), sent()], SINCE, UNTIL))

    assert metric(alone, "nps") == metric(diluted, "nps")
    assert metric(alone, "response_rate").value == 100.0
    assert metric(diluted, "response_rate").value == 50.0
    assert (alone.sent, diluted.sent) == (4, 8) and alone.answered == diluted.answered == 4


def test_the_period_is_by_the_first_sends_time() -> None:
    inside = [
        sent(10, sent_at=SINCE),  # the start is in
        sent(9, sent_at=UNTIL - timedelta(microseconds=1)),
        sent(0, sent_at=UNTIL - timedelta(days=1), answered_at=UNTIL + timedelta(days=5)),  # answered later
        sent(2, sent_at=MID, planned_at=SINCE - timedelta(days=20)),  # planned before the period
    ]
    outside = [
        sent(0, sent_at=SINCE - timedelta(microseconds=1), answered_at=MID),  # answered in the period
        sent(10, sent_at=UNTIL),  # the end is out
        sent(sent_at=UNTIL + timedelta(days=2)),
    ]

    report = survey_report(SHOP, inside + outside, SINCE, UNTIL)

    t = only(report)
    assert t.sent == 4 and t.answered == 4
    nps = metric(t, "nps")
    assert (nps.promoters, nps.detractors) == (2, 2) and nps.value == 0.0


def test_what_was_not_sent_is_counted_by_reason_and_pending_separately() -> None:
    invitations = [
        sent(9),
        not_sent(Status.SUPPRESSED, Reason.THROTTLED),
        not_sent(Status.SUPPRESSED, Reason.THROTTLED),
        not_sent(Status.SUPPRESSED, Reason.UNSUBSCRIBED),
        not_sent(Status.CANCELLED, Reason.REFUNDED),
        not_sent(Status.FAILED, Reason.FAILED),
        not_sent(Status.SUPPRESSED, Reason.THROTTLED, planned_at=SINCE - timedelta(days=1)),  # before
        not_sent(Status.CANCELLED, Reason.CANCELLED, planned_at=UNTIL),  # after
        inv(Status.PLANNED, planned_at=MID, due_at=MID + timedelta(days=3)),
        inv(Status.PLANNED, planned_at=SINCE, due_at=UNTIL + timedelta(days=1)),  # due after, planned in
        inv(Status.SENDING, planned_at=MID, due_at=MID, claim="run-1"),
        inv(Status.PLANNED, planned_at=SINCE - timedelta(seconds=1), due_at=MID),  # planned before
    ]

    report = survey_report(SHOP, invitations, SINCE, UNTIL)

    assert report.not_sent == {"throttled": 2, "unsubscribed": 1, "refunded": 1, "failed": 1}
    assert report.pending == 3
    assert only(report).sent == 1


def test_reminded_and_commented_are_counted() -> None:
    invitations = [
        sent(9, comment="Great", reminded_at=MID + timedelta(days=3)),
        sent(7, comment=""),  # an empty comment is not a comment
        sent(reminded_at=MID + timedelta(days=3)),
        sent(5),
    ]

    t = only(survey_report(SHOP, invitations, SINCE, UNTIL))

    assert (t.sent, t.answered, t.commented, t.reminded) == (4, 3, 1, 2)


def test_each_survey_type_is_reported_on_its_own() -> None:
    invitations = [
        sent(10),
        sent(9),
        sent(),
        sent(5, survey_type=SurveyType.CSAT),
        sent(2, survey_type=SurveyType.CSAT),
        sent(survey_type=SurveyType.CSAT),
        sent(survey_type=SurveyType.CSAT),
    ]

    report = survey_report(SHOP, invitations, SINCE, UNTIL)

    by = {t.survey_type: t for t in report.by_type}
    assert sorted(by) == ["csat", "nps"]
    assert (by["nps"].sent, by["nps"].answered, by["csat"].sent, by["csat"].answered) == (3, 2, 4, 2)
    assert metric(by["csat"], "csat").value == 50.0 and metric(by["csat"], "csat").n == 2
    assert metric(by["nps"], "nps").value == 100.0
    assert metric(by["csat"], "response_rate").value == 50.0


def test_lines_mention_every_type_its_metrics_and_what_was_not_sent() -> None:
    invitations = [
        sent(10, comment="Love it"),
        sent(4),
        sent(),
        sent(3, survey_type=SurveyType.CES, reminded_at=MID + timedelta(days=3)),
        sent(5, survey_type=SurveyType.CES),
        not_sent(Status.SUPPRESSED, Reason.THROTTLED),
        inv(Status.PLANNED, planned_at=MID, due_at=MID),
    ]

    lines = survey_report(SHOP, invitations, SINCE, UNTIL).lines()
    text = "\n".join(lines)

    assert lines[0].startswith(f"Shop {SHOP}") and "2026-05-01 00:00" in lines[0] and "2026-06-01" in lines[0]
    assert "NPS: 3 sent, 2 answered, 1 with a comment, 0 reminded" in text
    assert "CES: 2 sent, 2 answered, 0 with a comment, 1 reminded" in text
    assert "NPS +0.0" in text and "CES 4.00" in text
    assert "Response rate 66.7%" in text and "Response rate 100.0%" in text
    assert "not sent: throttled 1" in text
    assert "planned, not yet sent: 1" in text


def test_an_empty_period_says_so() -> None:
    lines = survey_report(SHOP, [sent(9, sent_at=SINCE - timedelta(days=1))], SINCE, UNTIL).lines()

    assert any("no surveys sent in this period" in line for line in lines)
    assert not any("not sent" in line or "planned" in line for line in lines)


def reading(label: str | None, *themes: tuple[str, str]) -> dict[str, Any]:
    sentiment = None if label is None else {"label": label, "score": 0.5 if label == "positive" else -0.5,
                                            "confidence": 0.8}  # fmt: skip
    return {
        "revision": 1,
        "sentiment": sentiment,
        "themes": [
            {"theme": t, "sentiment": s, "score": -0.5 if s == "negative" else 0.5} for t, s in themes
        ],
        "language": "en" if label else "de",
        "flags": [] if label else ["not_english"],
        "scored_at": MID,
    }


def test_the_models_readings_of_comments_are_counted_by_label_and_theme() -> None:
    invitations = [
        sent(
            2,
            comment="Late and broken",
            reading=reading("negative", ("delivery_shipping", "negative"), ("product_quality", "negative")),
        ),
        sent(9, comment="Quick!", reading=reading("positive", ("delivery_shipping", "positive"))),
        sent(3, comment="Zu spät", reading=reading(None)),
        sent(8, comment="Fine"),  # not scored (yet)
        sent(10),
    ]

    t = only(survey_report(SHOP, invitations, SINCE, UNTIL))

    assert t.scored == 3
    assert t.sentiment == {"negative": 1, "positive": 1, "not_english": 1}
    assert [(c.theme, c.mentions, c.negative) for c in t.themes] == [
        ("delivery_shipping", 2, 1),
        ("product_quality", 1, 1),
    ]
    text = "\n".join(survey_report(SHOP, invitations, SINCE, UNTIL).lines())
    assert "comments read by the model: 3 (negative 1, not_english 1, positive 1)" in text
    assert "themes: delivery_shipping 2 (1 negative), product_quality 1 (1 negative)" in text
