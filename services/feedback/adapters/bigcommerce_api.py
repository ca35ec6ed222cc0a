"""BigCommerce's REST API: the full order, its products, shipments (v2) and refunds (v3) behind a thin
webhook.

Uses urllib3 (already in the Lambda package through botocore) rather than another HTTP client.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from services.feedback.domain.orders.normalise import MAX_LINE_ITEMS
from shared.errors import Unavailable
from shared.tenancy import SecretStore

_http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=8.0), retries=False)


class BigCommerceOrders:
    def __init__(self, secrets: SecretStore, http: urllib3.PoolManager | None = None) -> None:
        self._secrets = secrets
        self._http = http or _http

    def _get(self, shop_id: str, path: str, api: str = "v2") -> Any:
        secrets = self._secrets.get(shop_id)
        store = secrets.bigcommerce_api if secrets else None
        if store is None:
            return None
        url = f"{store.base_url.rstrip('/')}/stores/{store.store_hash}/{api}/{path}"
        headers = {"X-Auth-Token": store.access_token, "Accept": "application/json"}
        try:
            response = self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as e:
            raise Unavailable(f"BigCommerce API unreachable: {e}") from e
        if response.status in (204, 404):
            return None
        if response.status == 429 or response.status >= 500:
            raise Unavailable(f"BigCommerce API answered {response.status} for {path}")
        if response.status >= 400:
            raise Unavailable(f"BigCommerce API refused {path}: {response.status} {response.data[:200]!r}")
        return json.loads(response.data) if response.data else None

    def order(self, shop_id: str, order_id: str) -> dict[str, Any] | None:
        """The order with its ``products`` sub-resource (a link in the v2 order) fetched in its place, and
        its ``refunds`` (v3 only)."""
        value = self._get(shop_id, f"orders/{order_id}")
        if not isinstance(value, dict):
            return None
        return {
            **value,
            "products": self._products(shop_id, order_id),
            "refunds": self._refunds(shop_id, order_id),
        }

    def _refunds(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        value = self._get(shop_id, f"orders/{order_id}/payment_actions/refunds", api="v3")
        data = value.get("data") if isinstance(value, dict) else None
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def _products(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        # The sub-resource is paged (``page``, ``limit`` up to 250); the order record keeps the first
        # MAX_LINE_ITEMS, so one page of that size is all it needs.
        value = self._get(shop_id, f"orders/{order_id}/products?page=1&limit={MAX_LINE_ITEMS}")
        return [p for p in value if isinstance(p, dict)][:MAX_LINE_ITEMS] if isinstance(value, list) else []

    def shipments(self, shop_id: str, order_id: str) -> list[dict[str, Any]]:
        value = self._get(shop_id, f"orders/{order_id}/shipments")
        return [s for s in value if isinstance(s, dict)] if isinstance(value, list) else []
