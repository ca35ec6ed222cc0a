"""The survey e-mail of a programme as a customer would get it, for the owner's preview and test send.

The same view and renderer as a real invitation (``dispatch.compose``), with a sample order and links
that point at a page which records nothing: a test is never an invitation, never counted as a survey
sent, and its links can be clicked without changing any figure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.utils import formataddr

from services.feedback.domain.surveys.dispatch import Rendered
from services.feedback.domain.surveys.programme import SurveyProgramme
from services.feedback.domain.surveys.views import InvitationEmail, ScoreLink
from shared.mail.message import OutgoingEmail

SAMPLE_ORDER = "#1001"
SAMPLE_NAME = "Alex"
TEST_SUBJECT = "[Test] {subject}"
# Marks a test send in its headers and the provider's tags (so bounce handling can tell it apart).
TEST_HEADER = "X-Cxloop-Test"


def sample_view(programme: SurveyProgramme, test_url: str) -> InvitationEmail:
    """The invitation e-mail's view for a sample order; every link goes to ``test_url`` (records nothing)."""
    low, high = programme.scale
    brand = programme.brand
    return InvitationEmail(
        language=programme.language,
        brand_name=brand.name,
        colour=brand.colour,
        logo_url=brand.logo_url,
        survey_type=programme.survey_type,
        question=programme.question_text(),
        first_name=SAMPLE_NAME,
        order_name=SAMPLE_ORDER,
        scale=[ScoreLink(score=s, url=f"{test_url}?score={s}") for s in range(low, high + 1)],
        unsubscribe_url=f"{test_url}?unsubscribe=1",
    )


def trial_email(
    programme: SurveyProgramme,
    to: str,
    test_url: str,
    render: Callable[[InvitationEmail], Rendered],
    shop_id: str,
) -> OutgoingEmail:
    """The test e-mail to the owner: from the programme's sender, marked as a test in subject and headers."""
    rendered = render(sample_view(programme, test_url))
    brand = programme.brand
    domain = brand.sender.rpartition("@")[2]
    return OutgoingEmail(
        sender=formataddr((brand.name, brand.sender)),
        to=to,
        reply_to=brand.reply_to,
        subject=TEST_SUBJECT.format(subject=rendered.subject),
        html=rendered.html,
        text=rendered.text,
        message_id=f"<test.{uuid.uuid4().hex}@{domain}>",
        headers={TEST_HEADER: "1"},
        tags={"shop": shop_id, "test": "1"},
    )
