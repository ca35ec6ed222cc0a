"""WooCommerce's REST API v3 webhooks (``/wp-json/wc/v3/webhooks``), with a Read/Write REST API key.

Shapes: woocommerce/woocommerce-rest-api-docs ``wp-api-v3/_webhooks.md`` and the controller
``class-wc-rest-webhooks-v1-controller.php`` (v3 extends it): create answers 201 and pings the delivery
URL; ``secret`` is write-only (never in an answer), so cxloop writes a mark of the secret into the
webhook's name; a DELETE needs ``force=true``; lists page by ``page``/``per_page`` (at most 100) with
``X-WP-TotalPages``. Webhooks created through /wc/v3 carry API version ``wp_api_v3``.
"""

from __future__ import annotations

import base64
from typing import Any

from cxloop.connect.http import Caller, PlatformRejected
from cxloop.connect.model import Subscription, Wanted
from cxloop.connect.plan import mark_in, woocommerce_name
from shared.tenancy import Platform

REFUSED = {
    401: "WooCommerce did not accept the consumer key and secret: make a key with Read/Write permission "
    "(WooCommerce → Settings → Advanced → REST API → Add key) and give it again "
    "(CXLOOP_WOO_CONSUMER_KEY, CXLOOP_WOO_CONSUMER_SECRET or --prompt). A key sent over plain http is "
    "refused too: the store URL must be https",
    403: "the key's user may not manage webhooks, or the key is Read only: make a Read/Write key for an "
    "administrator (WooCommerce → Settings → Advanced → REST API)",
}
PER_PAGE = 100


class WooCommerceSubscriptions:
    platform = Platform.WOOCOMMERCE

    def __init__(self, call: Caller, store_url: str, key: str, secret: str, shop_id: str) -> None:
        self._call = call
        self._base = store_url.rstrip("/") + "/wp-json/wc/v3/webhooks"
        self._headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
        self._shop_id = shop_id
        self.where = store_url

    def list(self) -> list[Subscription]:
        found: list[Subscription] = []
        page = 1
        while True:
            url = f"{self._base}?per_page={PER_PAGE}&page={page}&status=all"
            response = self._call("GET", url, self._headers, what="GET /wp-json/wc/v3/webhooks")
            items = self._call.require(response, "listing webhooks (GET /wp-json/wc/v3/webhooks)", 200)
            if not isinstance(items, list):
                raise PlatformRejected(
                    f"woocommerce: the webhook list is not a JSON list: {response.excerpt()}"
                )
            found += [_subscription(w) for w in items if isinstance(w, dict)]
            pages = int(response.headers.get("x-wp-totalpages", "1") or 1)
            if page >= pages or len(items) < PER_PAGE:
                return found
            page += 1

    def _body(self, wanted: Wanted) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": woocommerce_name(self._shop_id, wanted.topic, wanted.secret_mark),
            "topic": wanted.topic,
            "delivery_url": wanted.address,
            "status": "active",
        }
        if wanted.secret:
            body["secret"] = wanted.secret
        return body

    def create(self, wanted: Wanted) -> Subscription:
        what = f"creating the {wanted.topic} webhook (POST /wp-json/wc/v3/webhooks)"
        response = self._call("POST", self._base, self._headers, self._body(wanted), what=what)
        return _answered(self._call.require(response, what, 201, 200), what)

    def update(self, existing: Subscription, wanted: Wanted) -> Subscription:
        what = f"updating webhook {existing.id} ({wanted.topic}, PUT /wp-json/wc/v3/webhooks/{existing.id})"
        url = f"{self._base}/{existing.id}"
        response = self._call("PUT", url, self._headers, self._body(wanted), what=what)
        return _answered(self._call.require(response, what, 200), what)

    def delete(self, existing: Subscription) -> None:
        what = f"deleting duplicate webhook {existing.id} (DELETE /wp-json/wc/v3/webhooks/{existing.id})"
        url = f"{self._base}/{existing.id}?force=true"
        self._call.require(self._call("DELETE", url, self._headers, what=what), what, 200)


def _subscription(w: dict[str, Any]) -> Subscription:
    return Subscription(
        id=str(w.get("id", "")),
        topic=str(w.get("topic", "")),
        address=str(w.get("delivery_url", "")),
        active=w.get("status") == "active",
        secret_mark=mark_in(str(w.get("name", ""))),
    )


def _answered(value: Any, what: str) -> Subscription:
    if not isinstance(value, dict) or "id" not in value:
        raise PlatformRejected(f"woocommerce: {what}: the answer names no webhook: {str(value)[:200]}")
    return _subscription(value)
