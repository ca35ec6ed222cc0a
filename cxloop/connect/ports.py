"""The one port of ``cxloop shop connect``: a platform's webhook subscriptions, behind its own API."""

from __future__ import annotations

from typing import Protocol

from cxloop.connect.model import Subscription, Wanted
from shared.tenancy import Platform


class Subscriptions(Protocol):
    """Each method returns what the platform answered; a refusal or an answer that does not confirm the
    change raises ``cxloop.connect.http.PlatformError``."""

    platform: Platform
    where: str  # the store as the owner knows it (site URL, store hash, *.myshopify.com)

    def list(self) -> list[Subscription]: ...
    def create(self, wanted: Wanted) -> Subscription: ...
    def update(self, existing: Subscription, wanted: Wanted) -> Subscription: ...
    def delete(self, existing: Subscription) -> None: ...
