"""The survey editor's use cases: a draft from the form, saved, previewed or sent to the owner as a test.

A draft is validated by the programme model the CLI and the API use, and saved through the same
``service.save_surveys`` as ``PUT /api/v1/settings/surveys`` (so the sender-domain rule holds here too).
The preview and the test send render through the feedback service's published interface: one renderer
for real surveys and for what the owner sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.dashboard import service
from services.dashboard.bootstrap import Dashboard
from services.dashboard.domain import survey_form
from services.feedback.api import SurveyProgramme
from shared.errors import BadRequest, CxloopError
from shared.mail.message import MailError, RenderedMail

TEST_PATH = "/dashboard/survey-test"


class FormInvalid(BadRequest):
    """The form broke the programme's rules: the messages by field (``""``: the form as a whole)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


class TooManyTests(CxloopError):
    status = 429
    code = "too_many_requests"


def starting_document(d: Dashboard, shop_id: str) -> dict[str, Any]:
    """The stored programme as a document; for a shop without one, the defaults, named after the shop."""
    stored = d.feedback.programme(shop_id)
    if stored is not None:
        return stored.model_dump(mode="json")
    shop = d.notifier.shop(shop_id)
    return {
        "brand": {"name": (shop.name if shop else shop_id)[:100], "sender": ""},
        "timezone": shop.timezone if shop else "UTC",
        "rules": SurveyProgramme.model_fields["rules"]
        .get_default(call_default_factory=True)
        .model_dump(mode="json"),
    }


def draft(d: Dashboard, shop_id: str, form: Mapping[str, str]) -> SurveyProgramme:
    """The programme the form describes. Raises FormInvalid with every problem next to its field."""
    doc = survey_form.document(form, starting_document(d, shop_id))
    try:
        return SurveyProgramme.model_validate(doc)
    except ValidationError as e:
        raise FormInvalid(survey_form.field_errors(e.errors())) from e


def _sender_allowed(d: Dashboard, shop_id: str, programme: SurveyProgramme) -> None:
    stored = d.feedback.programme(shop_id)
    try:
        service.may_send_as(d, shop_id, programme.brand.sender, stored.brand.sender if stored else None)
    except BadRequest as e:
        raise FormInvalid({"brand.sender": [e.message]}) from e


def save(d: Dashboard, shop_id: str, form: Mapping[str, str]) -> SurveyProgramme:
    programme = draft(d, shop_id, form)
    _sender_allowed(d, shop_id, programme)
    return service.save_surveys(d, shop_id, programme)


def test_url(d: Dashboard) -> str:
    return f"{d.config.public_url.rstrip('/')}{TEST_PATH}"


def preview(d: Dashboard, programme: SurveyProgramme) -> RenderedMail:
    return d.feedback.preview(programme, test_url(d))


def send_test(d: Dashboard, shop_id: str, form: Mapping[str, str], now: datetime) -> str:
    """The form's survey e-mail, marked as a test, to the owner's address; returns that address.
    At most ``TEST_SENDS_PER_HOUR`` per shop and hour; never stored or counted as a survey sent."""
    programme = draft(d, shop_id, form)
    _sender_allowed(d, shop_id, programme)
    shop = d.notifier.shop(shop_id)
    owner = shop.owner_email if shop else None
    if not owner:
        raise BadRequest("the shop has no owner e-mail to send a test to (set it with `cxloop shop add`)")
    limit = survey_form.TEST_SENDS_PER_HOUR
    if not d.limits.take(shop_id, survey_form.test_window(now), limit):
        again = survey_form.next_window(now)
        raise TooManyTests(f"{limit} test e-mails an hour at most: the next can go at {again:%H:%M} UTC")
    try:
        d.feedback.send_test(shop_id, programme, owner, test_url(d))
    except MailError as e:
        raise BadRequest(f"the test e-mail was not sent: {e.message}") from e
    return owner
