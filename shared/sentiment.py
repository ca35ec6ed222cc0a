"""What scoring says about one text: the shape `cxloop score` prints and ``FeedbackScored`` carries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Label = Literal["positive", "neutral", "negative"]
# A text we cannot score honestly says why instead of carrying a made-up label; a review with stars and
# no words is passed on unread (``no_text``), so its rating still counts.
Flag = Literal["not_english", "no_text"]


class Sentiment(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: Label
    score: float = Field(ge=-1.0, le=1.0)  # P(positive) - P(negative)
    confidence: float = Field(ge=0.0, le=1.0)  # the probability of the label


class ThemeScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    theme: str
    sentiment: Label
    score: float = Field(ge=-1.0, le=1.0)


class Scored(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    # None when the text is flagged (not English): the feedback needs a person, not a guess.
    sentiment: Sentiment | None
    themes: list[ThemeScore] = Field(default_factory=list)
    language: str
    flags: list[Flag] = Field(default_factory=list)
    taxonomy: str = "ecommerce"
    model_version: str = ""


def label_of(positive: float, neutral: float, negative: float) -> Label:
    best = max(positive, neutral, negative)
    if best == positive:
        return "positive"
    if best == negative:
        return "negative"
    return "neutral"


class Reading(BaseModel):
    """What the scoring service made of a text (FeedbackScored), for one revision of it; the owning
    service keeps it on its record (an invitation's answer, a review)."""

    model_config = ConfigDict(frozen=True)

    revision: int
    sentiment: Sentiment | None = None  # None: flagged (not English)
    themes: list[ThemeScore] = Field(default_factory=list)
    language: str
    flags: list[str] = Field(default_factory=list)
    model_version: str = ""
    scored_at: datetime
