"""The body of the generic signed review webhook: any platform (Judge.me, Yotpo, a marketplace, a
shop's own script) posts its reviews in one documented shape, so cxloop needs no connector per platform.

Accepted: one review object, ``{"reviews": [...]}`` (at most 100), or a Yotpo review object as Yotpo's
API returns it, wrapped as ``{"yotpo": {...}}``. The signature is checked before this parser runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from services.reviews.domain.errors import Malformed
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem
from shared import json_bodies

MAX_BATCH = 100
DEFAULT_SCALE = 5


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC (the high-water mark compares aware times)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _as_id(value: object) -> object:
    """Integers become strings; a bool or a float is a sender's bug, not an id."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ReviewId = Annotated[str, StringConstraints(min_length=1, max_length=256), BeforeValidator(_as_id)]


class WebhookReview(BaseModel):
    """One review in the webhook's shape; unknown keys are ignored so platforms can send more."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: ReviewId
    source: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")  # a short name: judgeme, yotpo, etsy ...
    text: str = Field(default="", max_length=MAX_TEXT)
    title: str | None = Field(default=None, max_length=1000)
    rating: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    rating_scale: int | None = Field(default=None, gt=0, le=100, validate_default=True)  # 5 with a rating
    author: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    published_at: datetime | None = None
    updated_at: datetime | None = None
    deleted: bool = False

    @field_validator("published_at", "updated_at")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("rating_scale")
    @classmethod
    def _scale(cls, value: int | None, info: ValidationInfo) -> int | None:
        rating = info.data.get("rating")
        if rating is None:
            return None
        scale = value or DEFAULT_SCALE
        if rating > scale:
            raise ValueError(f"the rating {rating:g} is above the scale {scale}")
        return scale

    def item(self) -> SourceItem:
        return SourceItem(
            source=Source.WEBHOOK,
            source_id=f"{self.source}:{self.id}",
            text=self.text,
            title=self.title or None,
            rating=self.rating,
            rating_scale=self.rating_scale,
            author=self.author or None,
            url=self.url,
            published_at=self.published_at,
            updated_at=self.updated_at,
            deleted=self.deleted,
        )


class WebhookBatch(BaseModel):
    reviews: list[WebhookReview] = Field(max_length=MAX_BATCH)


class YotpoReview(BaseModel):
    """A review object of Yotpo's reviews API (``GET /v1/apps/{app_key}/reviews``), as exported."""

    model_config = ConfigDict(extra="ignore")

    id: ReviewId
    score: int | None = Field(default=None, ge=0, le=DEFAULT_SCALE)
    title: str | None = None
    content: str = Field(default="", max_length=MAX_TEXT)
    name: str | None = None
    user_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted: bool = False
    archived: bool = False  # hidden by the shop: gone from its public reviews, like a deletion

    @field_validator("created_at", "updated_at")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


def _malformed(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> Malformed:
    first = error.errors()[0]
    field = ".".join(str(part) for part in (*prefix, *first["loc"])) or "body"
    return Malformed(f"review webhook: {field}: {first['msg'].removeprefix('Value error, ')}")


def from_yotpo(obj: dict[str, Any]) -> SourceItem:
    try:
        review = YotpoReview.model_validate(obj)
    except ValidationError as e:
        raise _malformed(e, ("yotpo",)) from e
    return SourceItem(
        source=Source.WEBHOOK,
        source_id=f"yotpo:{review.id}",
        text=review.content,
        title=review.title or None,
        rating=review.score,
        rating_scale=DEFAULT_SCALE if review.score is not None else None,
        author=review.name or review.user_name or None,
        published_at=review.created_at,
        updated_at=review.updated_at,
        deleted=review.deleted or review.archived,
    )


def parse_review_webhook(body: bytes) -> list[SourceItem]:
    """The items of one delivery, in the sender's order; raises Malformed naming the bad field."""
    try:
        data = json_bodies.loads(body)
    except json_bodies.TooDeep as e:
        raise Malformed(f"review webhook: body: {e}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise Malformed(f"review webhook: body: not JSON ({e.__class__.__name__})") from e
    if not isinstance(data, dict):
        raise Malformed("review webhook: body: expected a JSON object")
    if "yotpo" in data:
        if not isinstance(data["yotpo"], dict):
            raise Malformed("review webhook: yotpo: expected a review object")
        return [from_yotpo(data["yotpo"])]
    try:
        if "reviews" in data:
            return [review.item() for review in WebhookBatch.model_validate(data).reviews]
        return [WebhookReview.model_validate(data).item()]
    except ValidationError as e:
        raise _malformed(e) from e
