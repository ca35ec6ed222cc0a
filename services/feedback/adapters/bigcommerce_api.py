"""BigCommerce's REST API: the full order, its products, shipments (v2) and refunds (v3) behind a thin
webhook.

Uses urllib3 (already in the Lambda package through botocore) rather than another HTTP client.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from services.feedback.domain.orders.normalise import MAX_LINE_ITEMS, REFUNDS_UNAVAILABLE
from shared.errors import Unavailable
from shared.tenancy import SecretStore

_http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=8.0), retries=False)

# ``GET /v3/orders/{id}/payment_actions/refunds`` needs one of the scopes store_v2_transactions_read_only,
# store_v2_transactions, store_v2_orders_read_only or store_v2_orders (BigCommerce's Orders V3 reference).
REFUNDS_SCOPE = "Order Transactions: read-only (store_v2_transactions_read_only)"
REFUNDS_REFUSED = {
    403: f"refunds not read: the store's API account lacks the scope {REFUNDS_SCOPE}; "
    "add it in BigCommerce and the order's next event reads them",
    404: "refunds not read: this store has no refunds API (404 from /v3/orders/{id}/payment_actions/refunds)",
}


class BigCommerceOrders:
    def __init__(self, secrets: SecretStore, http: urllib3.PoolManager | None = None) -> None:
        self._secrets = secrets
        self._http = http or _http

    def _response(self, shop_id: str, path: str, api: str) -> Any:
        """The API's answer, or None for a store without API credentials."""
        secrets = self._secrets.get(shop_id)
        store = secrets.bigcommerce_api if secrets else None
        if store is None:
            return None
        url = f"{store.base_url.rstrip('/')}/stores/{store.store_hash}/{api}/{path}"
        headers = {"X-Auth-Token": store.access_token, "Accept": "application/json"}
        try:
            return self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as e:
            raise Unavailable(f"BigCommerce API unreachable: {e}") from e

    def _get(self, shop_id: str, path: str, api: str = "v2") -> Any:
        return _read(self._response(shop_id, path, api), path)

    def order(self, shop_id: str, order_id: str) -> dict[str, Any] | None:
        """The order with its ``products`` sub-resource (a link in the v2 order) fetched in its place, and
        its ``refunds`` (v3 only)."""
        value = self._get(shop_id, f"orders/{order_id}")
        if not isinstance(value, dict):
            return None
        return {
            **value,
            "products": self._products(shop_id, order_id),
            **self._refunds(shop_id, order_id),
        }

    def _refunds(self, shop_id: str, order_id: str) -> dict[str, Any]:
        """``{"refunds": [...]}``; when the store will not show them (403: the token lacks the scope; 404:
        a store without the refunds API), none, and why (``REFUNDS_UNAVAILABLE``): the order is still
        applied, where retrying could only be refused the same way."""
        path = f"orders/{order_id}/payment_actions/refunds"
        response = self._response(shop_id, path, "v3")
        if response is not None and response.status in REFUNDS_REFUSED:
            return {
                "refunds": [],
                REFUNDS_UNAVAILABLE: {"status": response.status, "action": REFUNDS_REFUSED[response.status]},
            }
        value = _read(response, path)
        data = value.get("data") if isinstance(value, dict) else None
        return {"refunds": [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []}

    def _products(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        # The sub-resource is paged (``page``, ``limit`` up to 250); the order record keeps the first
        # MAX_LINE_ITEMS, so one page of that size is all it needs.
        value = self._get(shop_id, f"orders/{order_id}/products?page=1&limit={MAX_LINE_ITEMS}")
        return [p for p in value if isinstance(p, dict)][:MAX_LINE_ITEMS] if isinstance(value, list) else []

    def shipments(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        value = self._get(shop_id, f"orders/{order_id}/shipments")
        return [s for s in value if isinstance(s, dict)] if isinstance(value, list) else []


def _read(response: Any, path: str) -> Any:
    """The JSON of a successful answer; None for none (204, 404); transient failures raise."""
    if response is None or response.status in (204, 404):
        return None
    if response.status == 429 or response.status >= 500:
        raise Unavailable(f"BigCommerce API answered {response.status} for {path}")
    if response.status >= 400:
        raise Unavailable(f"BigCommerce API refused {path}: {response.status} {response.data[:200]!r}")
    return json.loads(response.data) if response.data else None
