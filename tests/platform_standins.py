"""Local stand-ins for the platforms' webhook-management APIs, each a small threaded HTTP server on
loopback speaking the documented requests and answers:

- WooCommerce REST v3 ``/wp-json/wc/v3/webhooks`` (woocommerce-rest-api-docs ``wp-api-v3/_webhooks.md``
  and the webhooks controller): Basic auth with the consumer key and secret, 201 on create, ``secret``
  write-only, ``force=true`` to delete, ``per_page`` at most 100 with ``X-WP-Total(Pages)``.
- BigCommerce ``/stores/{hash}/v3/hooks`` (bigcommerce/docs ``reference/webhooks.v3.yml``):
  ``X-Auth-Token``, answers wrapped in ``{"data", "meta"}``, 422 for a destination not on https:443.
- Shopify Admin GraphQL ``/admin/api/{version}/graphql.json`` (2025-10): ``X-Shopify-Access-Token``,
  ``webhookSubscriptions`` / ``webhookSubscriptionCreate`` / ``Update`` / ``Delete`` with ``uri``,
  ``userErrors``, and the app's ``apiVersion`` on every subscription.

Each records the requests it took and can be scripted to answer the next ones with a fault (401, 429
with Retry-After, 503, Shopify's THROTTLED).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class StandIn:
    """The server, the scripted faults and the request log; subclasses answer the platform's routes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.hooks: dict[str, dict[str, Any]] = {}
        self._next_id = 100
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, body = owner.dispatch(self.command, self.path, dict(self.headers), raw)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        self.faults.append(Fault(status, body, headers or {}, times))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def writes(self) -> list[Seen]:
        return [s for s in self.seen if s.method in ("POST", "PUT", "DELETE") and not self.is_read(s)]

    def is_read(self, seen: Seen) -> bool:
        return seen.method == "GET"

    def dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            if lowered.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body: Any = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            else:
                body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {}, {"message": "body is not JSON"}
        with self.lock:
            self.seen.append(Seen(method, parts.path, query, lowered, body))
            if self.faults:
                fault = self.faults[0]
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
                return fault.status, fault.headers, fault.body
            return self.answer(method, parts.path, query, lowered, body)

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Answer:
        raise NotImplementedError


WOO_TOPICS = {
    f"{r}.{e}"
    for r in ("coupon", "customer", "order", "product")
    for e in ("created", "updated", "deleted", "restored")
}


class WooCommerceStandIn(StandIn):
    KEY, SECRET = "ck_standin_key", "cs_standin_secret"  # a stand-in's own test key

    def seed(
        self, topic: str, delivery_url: str, status: str = "active", name: str = "", secret: str = ""
    ) -> str:
        hook_id = self.new_id()
        self.hooks[str(hook_id)] = {
            "id": hook_id,
            "name": name or f"Webhook created by hand {hook_id}",
            "status": status,
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret or "hand-made",
        }
        return str(hook_id)

    def ours(self) -> list[dict[str, Any]]:
        return [h for h in self.hooks.values() if "/webhooks/woocommerce/" in h["delivery_url"]]

    def _view(self, hook: dict[str, Any]) -> dict[str, Any]:
        topic = hook["topic"]
        view = {k: v for k, v in hook.items() if k != "secret"}  # secret is write-only
        resource, _, event = topic.partition(".")
        return {
            **view,
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{resource}_{event}"],
            "date_created_gmt": "2026-12-01T10:00:00",
            "date_modified_gmt": "2026-12-01T10:00:00",
            "_links": {"self": [{"href": f"{self.url}/wp-json/wc/v3/webhooks/{hook['id']}"}]},
        }

    def _authorised(self, headers: dict[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.KEY}:{self.SECRET}".encode()).decode()
        return headers.get("authorization") == expected

    def answer(  # noqa: PLR0911 (one answer per documented route and error)
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Answer:
        if not self._authorised(headers):
            return (
                401,
                {},
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
        found = re.fullmatch(r"/wp-json/wc/v3/webhooks(?:/(\d+))?", path)
        if not found:
            return (
                404,
                {},
                {"code": "rest_no_route", "message": "No route was found.", "data": {"status": 404}},
            )
        hook_id = found.group(1)
        if hook_id is None:
            return self._list(query) if method == "GET" else self._create(body or {})
        hook = self.hooks.get(hook_id)
        if hook is None:
            return (
                400,
                {},
                {
                    "code": "woocommerce_rest_webhook_invalid_id",
                    "message": "ID is invalid.",
                    "data": {"status": 400},
                },
            )
        if method == "DELETE":
            if query.get("force") != "true":
                return (
                    501,
                    {},
                    {
                        "code": "woocommerce_rest_trash_not_supported",
                        "message": "Webhooks do not support trashing.",
                        "data": {"status": 501},
                    },
                )
            del self.hooks[hook_id]
            return 200, {}, self._view(hook)
        if method == "PUT":
            for key in ("name", "topic", "delivery_url", "secret", "status"):
                if (body or {}).get(key):
                    hook[key] = body[key]
        return 200, {}, self._view(hook)

    def _list(self, query: dict[str, str]) -> Answer:
        per_page, page = int(query.get("per_page", 10)), int(query.get("page", 1))
        if per_page > 100:
            return (
                400,
                {},
                {
                    "code": "rest_invalid_param",
                    "message": "Invalid parameter(s): per_page",
                    "data": {"status": 400},
                },
            )
        status = query.get("status", "all")
        hooks = [h for h in self.hooks.values() if status == "all" or h["status"] == status]
        pages = max(1, -(-len(hooks) // per_page))
        chunk = hooks[(page - 1) * per_page : page * per_page]
        return (
            200,
            {"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": str(pages)},
            [self._view(h) for h in chunk],
        )

    def _create(self, body: dict[str, Any]) -> Answer:
        if str(body.get("topic", "")).lower() not in WOO_TOPICS:
            return (
                400,
                {},
                {
                    "code": "woocommerce_rest_webhook_invalid_topic",
                    "message": "Webhook topic is required and must be valid.",
                    "data": {"status": 400},
                },
            )
        if not re.match(r"https?://", str(body.get("delivery_url", ""))):
            return (
                400,
                {},
                {
                    "code": "woocommerce_rest_webhook_invalid_delivery_url",
                    "message": "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                    "data": {"status": 400},
                },
            )
        hook_id = self.seed(
            body["topic"],
            body["delivery_url"],
            body.get("status", "active"),
            body.get("name", ""),
            body.get("secret") or "generated-by-woocommerce",
        )
        return 201, {"Location": f"/wp-json/wc/v3/webhooks/{hook_id}"}, self._view(self.hooks[hook_id])


class BigCommerceStandIn(StandIn):
    STORE_HASH, TOKEN, CLIENT_ID = "abc123", "standin-token", "standin-client"

    def seed(self, scope: str, destination: str, is_active: bool = True) -> str:
        hook_id = self.new_id()
        self.hooks[str(hook_id)] = {
            "id": hook_id,
            "client_id": self.CLIENT_ID,
            "store_hash": self.STORE_HASH,
            "scope": scope,
            "destination": destination,
            "headers": None,
            "is_active": is_active,
            "created_at": 1764583200,
            "updated_at": 1764583200,
        }
        return str(hook_id)

    def answer(  # noqa: PLR0911 (one answer per documented route and error)
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Answer:
        found = re.fullmatch(r"/stores/([^/]+)/v3/hooks(?:/(\d+))?", path)
        if headers.get("x-auth-token") != self.TOKEN or (found and found.group(1) != self.STORE_HASH):
            return (
                401,
                {},
                {
                    "status": 401,
                    "title": "Unauthorized - the v3 Auth client ID or token in the request "
                    "are not a valid combination for this store.",
                    "type": "/api-docs/getting-started/api-status-codes",
                },
            )
        if not found:
            return (
                404,
                {},
                {"status": 404, "title": "Not found", "type": "/api-docs/getting-started/api-status-codes"},
            )
        hook_id = found.group(2)
        if hook_id is None:
            return self._list(query) if method == "GET" else self._write(None, body or {})
        if hook_id not in self.hooks:
            return (
                404,
                {},
                {
                    "status": 404,
                    "title": f"Webhook with id [{hook_id}] not found",
                    "type": "/api-docs/getting-started/api-status-codes",
                },
            )
        if method == "DELETE":
            return 200, {}, {"data": self.hooks.pop(hook_id), "meta": {}}
        if method == "PUT":
            return self._write(hook_id, body or {})
        return 200, {}, {"data": self.hooks[hook_id], "meta": {}}

    def _list(self, query: dict[str, str]) -> Answer:
        limit, page = int(query.get("limit", 50)), int(query.get("page", 1))
        hooks = list(self.hooks.values())
        pages = max(1, -(-len(hooks) // limit))
        chunk = hooks[(page - 1) * limit : page * limit]
        pagination = {
            "total": len(hooks),
            "count": len(chunk),
            "per_page": limit,
            "current_page": page,
            "total_pages": pages,
            "links": {"current": f"?page={page}&limit={limit}"},
        }
        return 200, {}, {"data": chunk, "meta": {"pagination": pagination}}

    def _write(self, hook_id: str | None, body: dict[str, Any]) -> Answer:
        destination = str(body.get("destination", ""))
        parts = urlsplit(destination)
        if parts.scheme != "https" or parts.port not in (None, 443):
            return (
                422,
                {},
                {
                    "status": 422,
                    "title": "JSON data is missing or invalid",
                    "type": "/api-docs/getting-started/api-status-codes",
                    "errors": {"destination": "must be https on port 443"},
                },
            )
        if hook_id is None:
            if not body.get("scope"):
                return (
                    422,
                    {},
                    {
                        "status": 422,
                        "title": "JSON data is missing or invalid",
                        "errors": {"scope": "missing"},
                    },
                )
            hook_id = self.seed(body["scope"], destination, body.get("is_active", True))
        hook = self.hooks[hook_id]
        hook.update({k: body[k] for k in ("scope", "destination", "is_active", "headers") if k in body})
        hook["updated_at"] += 1
        return 200, {}, {"data": hook, "meta": {}}


SHOPIFY_VERSION = "2025-10"


class ShopifyStandIn(StandIn):
    TOKEN = "shpat_standin"

    CLIENT_ID = "standin-client-id"

    def __init__(self) -> None:
        super().__init__()
        self.app_api_version = SHOPIFY_VERSION  # the app's webhooks API version: every subscription's
        self.client_secret = (
            "standin-client-secret"  # a Dev Dashboard app's, for the client credentials grant
        )

    def _token(self, body: Any) -> Answer:
        """``POST /admin/oauth/access_token`` with the client credentials grant (form-encoded)."""
        form = body if isinstance(body, dict) else {}
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            self.CLIENT_ID,
            self.client_secret,
        ):
            return 400, {}, {"error": "invalid_client", "error_description": "Client authentication failed."}
        return (
            200,
            {},
            {
                "access_token": self.TOKEN,
                "scope": "read_orders,read_fulfillments,read_customers",
                "expires_in": 86399,
            },
        )

    def is_read(self, seen: Seen) -> bool:
        return "webhookSubscriptions(" in str((seen.body or {}).get("query", ""))

    def seed(self, topic_enum: str, uri: str, api_version: str | None = None) -> str:
        gid = f"gid://shopify/WebhookSubscription/{self.new_id()}"
        self.hooks[gid] = {
            "id": gid,
            "topic": topic_enum,
            "uri": uri,
            "format": "JSON",
            "apiVersion": {"handle": api_version or self.app_api_version},
        }
        return gid

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Answer:
        if method == "POST" and path == "/admin/oauth/access_token":
            return self._token(body)
        if headers.get("x-shopify-access-token") != self.TOKEN:
            return (
                401,
                {},
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
            )
        if method != "POST" or path != f"/admin/api/{SHOPIFY_VERSION}/graphql.json":
            return 404, {}, {"errors": "Not Found"}
        text, variables = str((body or {}).get("query", "")), (body or {}).get("variables") or {}
        for field_name, handler in (
            ("webhookSubscriptionCreate(", self._create),
            ("webhookSubscriptionUpdate(", self._update),
            ("webhookSubscriptionDelete(", self._delete),
            ("webhookSubscriptions(", self._list),
        ):
            if field_name in text:
                cost = {
                    "requestedQueryCost": 10,
                    "actualQueryCost": 10,
                    "throttleStatus": {
                        "maximumAvailable": 2000.0,
                        "currentlyAvailable": 1990,
                        "restoreRate": 100.0,
                    },
                }
                return 200, {}, {"data": handler(variables), "extensions": {"cost": cost}}
        return (
            200,
            {},
            {"errors": [{"message": "Field doesn't exist", "extensions": {"code": "undefinedField"}}]},
        )

    def _list(self, variables: dict[str, Any]) -> dict[str, Any]:
        hooks = list(self.hooks.values())
        start = int(variables.get("after") or 0)
        chunk = hooks[start : start + 100]
        more = start + 100 < len(hooks)
        info = {"hasNextPage": more, "endCursor": str(start + 100) if more else None}
        return {"webhookSubscriptions": {"nodes": chunk, "pageInfo": info}}

    @staticmethod
    def _uri_error(sub: dict[str, Any]) -> list[dict[str, Any]]:
        if not str(sub.get("uri", "")).startswith("https://"):
            return [{"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}]
        return []

    def _create(self, variables: dict[str, Any]) -> dict[str, Any]:
        topic, sub = str(variables.get("topic", "")), variables.get("sub") or {}
        errors = self._uri_error(sub)
        if any(h["topic"] == topic and h["uri"] == sub.get("uri") for h in self.hooks.values()):
            errors.append(
                {
                    "field": ["webhookSubscription", "uri"],
                    "message": "Address for this topic has already been taken",
                }
            )
        if errors:
            return {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": errors}}
        gid = self.seed(topic, sub["uri"])
        return {"webhookSubscriptionCreate": {"webhookSubscription": self.hooks[gid], "userErrors": []}}

    def _update(self, variables: dict[str, Any]) -> dict[str, Any]:
        gid, sub = str(variables.get("id", "")), variables.get("sub") or {}
        errors = self._uri_error(sub)
        if gid not in self.hooks:
            errors.append({"field": ["id"], "message": "Webhook subscription does not exist"})
        if errors:
            return {"webhookSubscriptionUpdate": {"webhookSubscription": None, "userErrors": errors}}
        self.hooks[gid]["uri"] = sub["uri"]
        return {"webhookSubscriptionUpdate": {"webhookSubscription": self.hooks[gid], "userErrors": []}}

    def _delete(self, variables: dict[str, Any]) -> dict[str, Any]:
        gid = str(variables.get("id", ""))
        if self.hooks.pop(gid, None) is None:
            errors = [{"field": ["id"], "message": "Webhook subscription does not exist"}]
            return {"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": None, "userErrors": errors}}
        return {"webhookSubscriptionDelete": {"deletedWebhookSubscriptionId": gid, "userErrors": []}}


THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ]
}


def _serve(standin: StandIn) -> Iterator[Any]:
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def woo_standin() -> Iterator[WooCommerceStandIn]:
    yield from _serve(WooCommerceStandIn())


@pytest.fixture
def bigcommerce_standin() -> Iterator[BigCommerceStandIn]:
    yield from _serve(BigCommerceStandIn())


@pytest.fixture
def shopify_standin() -> Iterator[ShopifyStandIn]:
    yield from _serve(ShopifyStandIn())


@dataclass
class Sleeps:
    """An injected ``sleep`` that records instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
