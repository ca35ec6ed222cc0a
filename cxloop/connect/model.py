"""What ``cxloop shop connect`` reasons about: the webhook subscriptions a shop's platform holds, the ones
cxloop wants there, the changes between them, and the results ``cxloop doctor`` shows. No HTTP here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.tenancy import Platform


class Subscription(BaseModel):
    """One webhook subscription as the platform answered it."""

    model_config = ConfigDict(frozen=True)

    id: str
    topic: str
    address: str
    active: bool = True
    # Shopify: the API version it serialises payloads with (the app's, not settable per subscription).
    api_version: str | None = None
    # WooCommerce: the mark of the secret cxloop set (WooCommerce never shows a webhook's secret back);
    # None where the platform keeps no such mark or the webhook was not made by cxloop.
    secret_mark: str | None = None


class Wanted(BaseModel):
    """One subscription cxloop needs: a topic its intake acts on, delivered to this stack's URL."""

    model_config = ConfigDict(frozen=True)

    topic: str
    address: str
    secret: str | None = Field(default=None, repr=False)  # WooCommerce: set on each webhook
    secret_mark: str | None = None
    api_version: str | None = None  # Shopify: the version cxloop reads


Kind = Literal["create", "update", "delete", "keep"]


class Change(BaseModel):
    """What to do about one wanted topic (or one duplicate): ``reasons`` say why an update is needed,
    ``warnings`` what is wrong and no API call can mend (Shopify's payload version)."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    topic: str
    wanted: Wanted | None = None
    existing: Subscription | None = None
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    changes: tuple[Change, ...]

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind != "keep")

    @property
    def settled(self) -> bool:
        return not self.pending


Status = Literal["ok", "warn", "fail"]


class CheckResult(BaseModel):
    """One line of ``cxloop doctor``: a status, what was found, and what to run or do about it."""

    model_config = ConfigDict(frozen=True)

    status: Status
    name: str  # "shopify orders/create", "woocommerce API"
    detail: str
    fix: str | None = None
    platform: Platform | None = None
