"""Shopify's Admin GraphQL API (pinned version) with a custom app's access token
(``X-Shopify-Access-Token``): ``webhookSubscriptions``, ``webhookSubscriptionCreate``,
``webhookSubscriptionUpdate`` and ``webhookSubscriptionDelete``.

Shapes: shopify.dev admin-graphql 2025-10 (``uri`` replaced ``callbackUrl`` in the input and the object;
``apiVersion`` is inherited from the app and cannot be set per subscription). The API lists only the
calling app's subscriptions. Deliveries are signed with the app's client secret, so no secret is set per
subscription. A throttled query answers 200 with a ``THROTTLED`` error and is retried like a 429; a missing
scope answers ``ACCESS_DENIED``. The compliance topics cannot be subscribed here at all.
"""

from __future__ import annotations

from typing import Any

from cxloop.connect.http import Caller, CredentialRefused, PlatformRejected, RateLimited
from cxloop.connect.model import Subscription, Wanted
from cxloop.connect.plan import SHOPIFY_API_VERSION
from shared.tenancy import Platform

SCOPES = "read_orders, read_fulfillments and read_customers"
REFUSED = {
    401: "Shopify did not accept the access token: copy the custom app's Admin API access token (shpat_..., "
    "Settings → Apps and sales channels → Develop apps → the app → API credentials) and give it again "
    "(CXLOOP_SHOPIFY_ACCESS_TOKEN or --prompt)",
    403: f"the app lacks a permission: give it the Admin API scopes {SCOPES} (the app → Configuration), "
    "install the new version, and run this again",
}
_FIELDS = "id topic uri apiVersion { handle }"
LIST = (
    "query CxloopSubscriptions($after: String) { webhookSubscriptions(first: 100, after: $after) "
    f"{{ nodes {{ {_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)
CREATE = (
    "mutation CxloopCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) "
    f"{{ webhookSubscription {{ {_FIELDS} }} userErrors {{ field message }} }} }}"
)
UPDATE = (
    "mutation CxloopUpdate($id: ID!, $sub: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionUpdate(id: $id, webhookSubscription: $sub) "
    f"{{ webhookSubscription {{ {_FIELDS} }} userErrors {{ field message }} }} }}"
)
DELETE = (
    "mutation CxloopDelete($id: ID!) { webhookSubscriptionDelete(id: $id) "
    "{ deletedWebhookSubscriptionId userErrors { field message } } }"
)


CLIENT_REFUSED = (
    "Shopify gave no access token for the client credentials: check the client ID (Dev Dashboard → the "
    "app → Settings), that the shop's shopify secret in cxloop is that app's client secret (cxloop shop "
    "rotate-secret SHOP --platform shopify --secret ... --grace-hours 0), and that the app is installed "
    "on this store (the grant works only for an app of your own organisation on your own store)"
)


def client_credentials_token(call: Caller, shop_url: str, client_id: str, client_secret: str) -> str:
    """A Dev Dashboard app's access token (valid about a day) from the client credentials grant
    (``POST /admin/oauth/access_token``, form-encoded)."""
    what = "asking for an access token (POST /admin/oauth/access_token, client credentials)"
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    try:
        response = call("POST", f"{shop_url.rstrip('/')}/admin/oauth/access_token", {}, what=what, form=form)
    except CredentialRefused as e:
        raise CredentialRefused(f"{str(e).split('. ', 1)[0]}. {CLIENT_REFUSED}") from None
    if response.status in (400, 404):
        raise CredentialRefused(
            f"shopify: {what} was refused: HTTP {response.status} {response.excerpt(200)}. {CLIENT_REFUSED}"
        )
    value = call.require(response, what, 200)
    token = value.get("access_token") if isinstance(value, dict) else None
    if not isinstance(token, str) or not token:
        raise PlatformRejected(f"shopify: {what}: the answer holds no access_token")
    return token


def enum(topic: str) -> str:
    """``fulfillment_events/create`` → ``FULFILLMENT_EVENTS_CREATE`` (WebhookSubscriptionTopic)."""
    return topic.upper().replace("/", "_")


class ShopifySubscriptions:
    platform = Platform.SHOPIFY

    def __init__(self, call: Caller, shop_url: str, token: str, topics: tuple[str, ...]) -> None:
        self._call = call
        self._url = f"{shop_url.rstrip('/')}/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
        self._headers = {"X-Shopify-Access-Token": token}
        self._topics = {enum(t): t for t in topics}
        self.where = shop_url

    def _graphql(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        for attempt in range(self._call.max_retries + 1):
            response = self._call(
                "POST", self._url, self._headers, {"query": query, "variables": variables}, what
            )
            value = self._call.require(response, what, 200)
            errors = value.get("errors") if isinstance(value, dict) else None
            codes = {
                str((e.get("extensions") or {}).get("code")) for e in errors or [] if isinstance(e, dict)
            }
            if "THROTTLED" in codes and attempt < self._call.max_retries:
                self._call.sleep(2.0**attempt)
                continue
            if "THROTTLED" in codes:
                raise RateLimited(
                    f"shopify: {what} was still throttled after {attempt} retries: try again in a minute"
                )
            if "ACCESS_DENIED" in codes:
                raise CredentialRefused(f"shopify: {what} was refused: {_messages(errors)}. {REFUSED[403]}")
            if errors:
                raise PlatformRejected(f"shopify: {what} failed: {_messages(errors)}")
            data = value.get("data") if isinstance(value, dict) else None
            if not isinstance(data, dict):
                raise PlatformRejected(f"shopify: {what}: the answer has no data: {response.excerpt()}")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def list(self) -> list[Subscription]:
        found: list[Subscription] = []
        after = None
        while True:
            data = self._graphql(
                LIST, {"after": after}, "listing webhook subscriptions (webhookSubscriptions)"
            )
            page = data.get("webhookSubscriptions") or {}
            found += [self._subscription(n) for n in page.get("nodes") or [] if isinstance(n, dict)]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            after = info.get("endCursor")

    def create(self, wanted: Wanted) -> Subscription:
        what = f"subscribing {wanted.topic} (webhookSubscriptionCreate)"
        variables = {"topic": enum(wanted.topic), "sub": {"uri": wanted.address, "format": "JSON"}}
        return self._mutated(self._graphql(CREATE, variables, what), "webhookSubscriptionCreate", what)

    def update(self, existing: Subscription, wanted: Wanted) -> Subscription:
        what = f"updating the {wanted.topic} subscription (webhookSubscriptionUpdate)"
        variables = {"id": existing.id, "sub": {"uri": wanted.address, "format": "JSON"}}
        return self._mutated(self._graphql(UPDATE, variables, what), "webhookSubscriptionUpdate", what)

    def delete(self, existing: Subscription) -> None:
        what = f"deleting the duplicate {existing.topic} subscription (webhookSubscriptionDelete)"
        payload = self._graphql(DELETE, {"id": existing.id}, what).get("webhookSubscriptionDelete") or {}
        _no_user_errors(payload, what)
        if payload.get("deletedWebhookSubscriptionId") != existing.id:
            raise PlatformRejected(f"shopify: {what}: Shopify did not confirm the deletion")

    def _mutated(self, data: dict[str, Any], field: str, what: str) -> Subscription:
        payload = data.get(field) or {}
        _no_user_errors(payload, what)
        node = payload.get("webhookSubscription")
        if not isinstance(node, dict):
            raise PlatformRejected(f"shopify: {what}: Shopify answered no subscription")
        return self._subscription(node)

    def _subscription(self, node: dict[str, Any]) -> Subscription:
        topic = str(node.get("topic", ""))
        version = node.get("apiVersion") or {}
        return Subscription(
            id=str(node.get("id", "")),
            topic=self._topics.get(topic, topic.lower()),
            address=str(node.get("uri") or ""),
            api_version=version.get("handle") if isinstance(version, dict) else None,
        )


def _messages(errors: Any) -> str:
    return "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) or str(errors)[:200]


def _no_user_errors(payload: dict[str, Any], what: str) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        raise PlatformRejected(
            f"shopify: {what} was refused: {_messages(errors)} (if it names a topic or permission, give the "
            f"app the Admin API scopes {SCOPES})"
        )
