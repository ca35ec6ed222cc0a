"""Shops (tenants) and their webhook secrets: models and ports.

Every record in cxloop belongs to one shop. Secrets never live in a table: they are kept in
Secrets Manager (see :mod:`shared.secrets_store`), one secret per shop.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.clock import utcnow

SHOP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    BIGCOMMERCE = "bigcommerce"


class Shop(BaseModel):
    model_config = ConfigDict(frozen=True)

    shop_id: str
    name: str = Field(min_length=1, max_length=200)
    platforms: tuple[Platform, ...] = Field(min_length=1)
    # Per platform, where its webhooks say they come from: Shopify the *.myshopify.com domain,
    # WooCommerce the site URL, BigCommerce the store id. When set, a webhook naming another is refused.
    domains: dict[Platform, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    owner_email: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def domain_for(self, platform: Platform) -> str:
        return self.domains.get(platform, "")

    @field_validator("shop_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not SHOP_ID.match(value):
            raise ValueError(
                "shop id must be 3-40 characters of a-z, 0-9 and '-', not starting or ending in '-'"
            )
        return value


class PlatformSecret(BaseModel):
    """A platform's signing secret; after a rotation the previous one stays valid for a grace period."""

    current: str = Field(min_length=8)
    previous: str | None = None
    previous_valid_until: datetime | None = None

    def valid(self, now: datetime) -> list[str]:
        secrets = [self.current]
        if self.previous and self.previous_valid_until and now < self.previous_valid_until:
            secrets.append(self.previous)
        return secrets


class BigCommerceApi(BaseModel):
    """Credentials to fetch the full order behind BigCommerce's thin webhook (and to manage its webhooks:
    ``cxloop shop connect``)."""

    store_hash: str
    access_token: str = Field(repr=False)
    base_url: str = "https://api.bigcommerce.com"


class WooCommerceApi(BaseModel):
    """A REST API key (Read/Write) with which ``cxloop shop connect`` manages the store's webhooks."""

    store_url: str
    consumer_key: str = Field(repr=False)
    consumer_secret: str = Field(repr=False)


class ShopifyApi(BaseModel):
    """How ``cxloop shop connect`` reaches the Admin API: a legacy custom app's access token, or a Dev
    Dashboard app's client id (its token is asked for each time with the client credentials grant, the
    client secret being the shop's Shopify webhook secret)."""

    access_token: str | None = Field(default=None, repr=False)
    client_id: str | None = None


class ShopSecrets(BaseModel):
    platforms: dict[Platform, PlatformSecret] = Field(default_factory=dict)
    bigcommerce_api: BigCommerceApi | None = None
    # The platforms' admin credentials live in the shop's one secret, so they go with it (shop/redact).
    woocommerce_api: WooCommerceApi | None = None
    shopify_api: ShopifyApi | None = None


class ShopDirectory(Protocol):
    def get(self, shop_id: str) -> Shop | None: ...
    def put(self, shop: Shop) -> None: ...
    def list(self) -> list[Shop]: ...
    def delete(self, shop_id: str) -> None: ...


class SecretStore(Protocol):
    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets | None: ...
    def put(self, shop_id: str, secrets: ShopSecrets) -> None: ...
    def delete(self, shop_id: str) -> None: ...
