"""The feedback service's published interface: what another service (the owner's dashboard) may read
of it and ask of it. The rest of the service is private to it; `make lint` (import-linter) keeps it so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.feedback.domain import compliance
from services.feedback.domain.compliance import CustomerRef, ErasureReport
from services.feedback.domain.ports import EventPublisher, ProgrammeStore, RecordStore
from services.feedback.domain.surveys import sample
from services.feedback.domain.surveys.invitations import SuppressionEntry
from services.feedback.domain.surveys.programme import LANGUAGES, SurveyProgramme
from shared.mail.message import Mailer, RenderedMail

__all__ = [
    "LANGUAGES",
    "CustomerRef",
    "ErasureReport",
    "FeedbackApi",
    "SuppressionEntry",
    "SurveyProgramme",
    "build_feedback_api",
]


@dataclass(frozen=True)
class FeedbackApi:
    programmes: ProgrammeStore
    surveys: Any  # DynamoSurveyStore: its suppression log is read a page at a time
    records: RecordStore
    publisher: EventPublisher
    mailer: Callable[[], Mailer] | None = None  # built at the first test send only

    def programme(self, shop_id: str) -> SurveyProgramme | None:
        return self.programmes.get(shop_id)

    def save_programme(self, shop_id: str, programme: SurveyProgramme) -> None:
        self.programmes.put(shop_id, programme)

    def preview(self, programme: SurveyProgramme, test_url: str) -> RenderedMail:
        """The programme's survey e-mail for a sample order, rendered as a customer gets it."""
        from services.feedback.rendering import render_email

        return render_email(sample.sample_view(programme, test_url))

    def send_test(self, shop_id: str, programme: SurveyProgramme, to: str, test_url: str) -> str:
        """Sends that e-mail, marked as a test, to ``to`` over the surveys' mailer; returns the provider's
        id. Nothing is stored and no event is published: it is not a survey sent. Raises MailError."""
        from services.feedback.rendering import render_email

        if self.mailer is None:
            raise RuntimeError("this feedback api was built without a mailer")
        return self.mailer().send(sample.trial_email(programme, to, test_url, render_email, shop_id))

    def suppressions(
        self, shop_id: str, limit: int, after: str | None = None
    ) -> tuple[list[SuppressionEntry], str | None]:
        """Newest first, one page, and the sort key to go on after (None: no more)."""
        page: tuple[list[SuppressionEntry], str | None] = self.surveys.suppressions_page(
            shop_id, limit, after
        )
        return page

    def erase_customer(self, shop_id: str, ref: CustomerRef, now: datetime, by: str) -> ErasureReport:
        """As a platform's redact request does: tombstones first, then the records, then CustomerErased."""
        return compliance.erase_customer(self.records, self.publisher, shop_id, ref, now, by)


def build_feedback_api(
    dynamodb: Any,
    events: Any,
    *,
    feedback_table: str,
    shops_table: str,
    event_bus_name: str,
    mailer: Callable[[], Mailer] | None = None,
) -> FeedbackApi:
    from services.feedback.adapters.dynamo_store import DynamoFeedbackStore
    from services.feedback.adapters.dynamo_surveys import DynamoProgrammeStore, DynamoSurveyStore
    from shared.events import EventBridgePublisher

    return FeedbackApi(
        programmes=DynamoProgrammeStore(dynamodb, shops_table),
        surveys=DynamoSurveyStore(dynamodb, feedback_table),
        records=DynamoFeedbackStore(dynamodb, feedback_table),
        publisher=EventBridgePublisher(events, event_bus_name, "feedback"),
        mailer=mailer,
    )
