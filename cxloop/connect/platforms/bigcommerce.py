"""BigCommerce's webhooks (``/stores/{store_hash}/v3/hooks``) with the store-level API account's
``X-Auth-Token``.

Shapes: bigcommerce/docs ``reference/webhooks.v3.yml``: answers wrap the hook in ``{"data": ..., "meta":
...}``; the list pages by ``page``/``limit`` with ``meta.pagination.total_pages`` and holds only the hooks
of the API account the token belongs to; managing hooks needs no OAuth scope. BigCommerce signs deliveries
with that API account's client secret (Standard Webhooks): no secret is set per hook.
"""

from __future__ import annotations

from typing import Any

from cxloop.connect.http import Caller, PlatformRejected
from cxloop.connect.model import Subscription, Wanted
from shared.tenancy import Platform

REFUSED = {
    401: "BigCommerce did not accept the access token for this store hash: check the store hash (the "
    "API path's stores/<hash>) and give the store-level API account's access token again "
    "(CXLOOP_BIGCOMMERCE_ACCESS_TOKEN or --prompt)",
    403: "the API account may not do this: create a store-level API account (Settings → Store-level API "
    "accounts) with Orders read-only (store_v2_orders_read_only); order and shipment events are only "
    "delivered to an account that may read orders",
}
LIMIT = 250


class BigCommerceSubscriptions:
    platform = Platform.BIGCOMMERCE

    def __init__(self, call: Caller, api_url: str, store_hash: str, token: str) -> None:
        self._call = call
        self._base = f"{api_url.rstrip('/')}/stores/{store_hash}/v3/hooks"
        self._headers = {"X-Auth-Token": token}
        self.where = f"store {store_hash}"

    def list(self) -> list[Subscription]:
        found: list[Subscription] = []
        page = 1
        while True:
            what = "listing webhooks (GET /v3/hooks)"
            response = self._call("GET", f"{self._base}?page={page}&limit={LIMIT}", self._headers, what=what)
            value = self._call.require(response, what, 200)
            data = value.get("data") if isinstance(value, dict) else None
            if not isinstance(data, list):
                raise PlatformRejected(f"bigcommerce: {what}: no 'data' list in {response.excerpt()}")
            found += [_subscription(h) for h in data if isinstance(h, dict)]
            pagination = (value.get("meta") or {}).get("pagination") or {}
            if page >= int(pagination.get("total_pages") or 1):
                return found
            page += 1

    def create(self, wanted: Wanted) -> Subscription:
        what = f"creating the {wanted.topic} webhook (POST /v3/hooks)"
        response = self._call("POST", self._base, self._headers, _body(wanted), what=what)
        return _answered(self._call.require(response, what, 200, 201), what)

    def update(self, existing: Subscription, wanted: Wanted) -> Subscription:
        what = f"updating webhook {existing.id} ({wanted.topic}, PUT /v3/hooks/{existing.id})"
        response = self._call("PUT", f"{self._base}/{existing.id}", self._headers, _body(wanted), what=what)
        return _answered(self._call.require(response, what, 200), what)

    def delete(self, existing: Subscription) -> None:
        what = f"deleting duplicate webhook {existing.id} (DELETE /v3/hooks/{existing.id})"
        self._call.require(
            self._call("DELETE", f"{self._base}/{existing.id}", self._headers, what=what), what, 200
        )


def _body(wanted: Wanted) -> dict[str, Any]:
    return {"scope": wanted.topic, "destination": wanted.address, "is_active": True}


def _subscription(h: dict[str, Any]) -> Subscription:
    return Subscription(
        id=str(h.get("id", "")),
        topic=str(h.get("scope", "")),
        address=str(h.get("destination", "")),
        active=h.get("is_active") is True,
    )


def _answered(value: Any, what: str) -> Subscription:
    hook = value.get("data", value) if isinstance(value, dict) else None
    if not isinstance(hook, dict) or "id" not in hook:
        raise PlatformRejected(f"bigcommerce: {what}: the answer names no webhook: {str(value)[:200]}")
    return _subscription(hook)
