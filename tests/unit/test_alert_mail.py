"""The alert e-mail's cards (issue 17, item 8): the score on its scale, one button per alert, no link as
text."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifier.alert_mail import render_alert_mail
from services.notifier.domain.model import Alert, AlertBatch, Delivery, RuleKind

T0 = datetime(2026, 12, 7, 9, tzinfo=UTC)
APPROVE = "https://alerts.example/n/" + "x" * 150


def _batch(*alerts: Alert) -> AlertBatch:
    return AlertBatch(
        shop_id="s", destination="owner", window="immediate#2026-12-07T09:00", due_at=T0,
        count=len(alerts), by_rule={a.rule.value: 1 for a in alerts}, samples=list(alerts),
    )  # fmt: skip


def test_a_review_alert_shows_its_stars_and_one_button_to_the_case_when_a_reply_is_possible() -> None:
    review = Alert(
        shop_id="s", key="k1", rule=RuleKind.NEGATIVE_MENTION, delivery=Delivery.IMMEDIATE, at=T0,
        title="New 2★ Trustpilot review", text="Fell apart.", url="https://trustpilot.example/r/1",
        approve_url=APPROVE, rating=2.0,
    )  # fmt: skip
    mail = render_alert_mail("Blue Kiln", "owner", _batch(review))
    assert "2 of 5 stars" in mail.html and "Fell apart." in mail.html
    assert mail.html.count('class="cx-button"') == 1 and "Open the case and reply" in mail.html
    assert mail.html.count(APPROVE) == 1 and APPROVE in mail.text
    assert mail.subject == "[Blue Kiln] 1 negative review in the last minute"


def test_without_a_reply_link_the_button_opens_the_review_and_a_surge_has_none() -> None:
    review = Alert(
        shop_id="s", key="k1", rule=RuleKind.NEGATIVE_MENTION, delivery=Delivery.IMMEDIATE, at=T0,
        title="New 1★ Google review", url="https://google.example/r/1", rating=1.0,
    )  # fmt: skip
    surge = Alert(shop_id="s", key="k2", rule=RuleKind.THEME_SURGE, delivery=Delivery.IMMEDIATE, at=T0,
                  title="Delivery & shipping is surging", text="5 today")  # fmt: skip
    mail = render_alert_mail("Blue Kiln", "owner", _batch(review, surge))
    assert mail.html.count('class="cx-button"') == 1 and "Open the review" in mail.html
    assert "No comment written." in mail.html
