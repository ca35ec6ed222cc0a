"""What the survey e-mails and pages show, as data; jinja2 turns these into HTML and text.

Everything here is plain (unescaped) text: escaping is the templates' job, on every page and e-mail,
so a comment with markup in it is shown as typed and never runs.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.domain.surveys.programme import SurveyType

MAX_COMMENT_CHARS = 2000


class ScoreLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int
    url: str


class Branding(BaseModel):
    model_config = ConfigDict(frozen=True)

    language: str = "en"
    brand_name: str = "cxloop"
    colour: str = "#1f6feb"
    logo_url: str | None = None


class InvitationEmail(Branding):
    """The survey e-mail (and its reminder): the question with the scale as one-click links."""

    survey_type: SurveyType
    question: str
    first_name: str | None = None
    order_name: str = ""
    scale: list[ScoreLink]
    unsubscribe_url: str
    reminder: bool = False


class Page(StrEnum):
    ANSWER = "answer"  # the score is recorded: thanks, a comment box and the follow-up question
    CHOOSE = "choose"  # a link without a valid score: the scale again
    COMMENTED = "commented"  # the comment is stored (or the answer was already complete)
    UNSUBSCRIBE = "unsubscribe"  # GET /u/...: a confirmation form, nothing changes yet
    UNSUBSCRIBED = "unsubscribed"  # POST /u/...: done
    NOT_FOUND = "not_found"  # any bad, expired or unknown token: one page for all of them


class PageView(Branding):
    survey_type: SurveyType | None = None
    question: str = ""
    score: int | None = None
    scale: list[ScoreLink] = Field(default_factory=list)
    follow_up_question: str | None = None
    comment: str | None = None
    follow_up_answer: str | None = None
    # Where the page's form posts (the same token URL).
    form_action: str = ""
    max_comment_chars: int = MAX_COMMENT_CHARS
    # The answer was complete before this request: shown, not changed.
    already_complete: bool = False
