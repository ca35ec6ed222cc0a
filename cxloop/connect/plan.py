"""Which subscriptions a shop needs on a platform, and how the ones there differ from them (pure logic).

The topics are exactly those the intake acts on (``services.feedback...parsing.TOPICS``), so a topic
added there is subscribed by the next ``cxloop shop connect``. Shopify's three compliance topics are left
out: the Admin API cannot subscribe them (they are declared in the app's configuration).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from cxloop.connect.model import Change, Plan, Subscription, Wanted
from services.feedback.domain.webhooks.parsing import SHOPIFY_COMPLIANCE, TOPICS
from shared.tenancy import Platform

SHOPIFY_API_VERSION = "2025-10"  # the version cxloop's replay signs with and the adapters call
_MARK = re.compile(r"\[cx:([0-9a-f]{12})\]\s*$")


def topics(platform: Platform) -> tuple[str, ...]:
    """The topics to subscribe, sorted (Shopify's compliance topics are not the Admin API's to set)."""
    wanted = TOPICS[platform] - SHOPIFY_COMPLIANCE if platform is Platform.SHOPIFY else TOPICS[platform]
    return tuple(sorted(wanted))


def webhook_url(api_url: str, platform: Platform, shop_id: str) -> str:
    return f"{api_url.rstrip('/')}/webhooks/{platform.value}/{shop_id}"


def secret_mark(secret: str) -> str:
    """A short digest naming which secret a WooCommerce webhook was given (its API never shows it back).
    Anyone who can read it can already read the secret itself in WooCommerce's admin."""
    return hashlib.sha256(f"cxloop-webhook-secret:{secret}".encode()).hexdigest()[:12]


def woocommerce_name(shop_id: str, topic: str, mark: str | None) -> str:
    return f"cxloop {shop_id} {topic}" + (f" [cx:{mark}]" if mark else "")


def mark_in(name: str) -> str | None:
    found = _MARK.search(name or "")
    return found.group(1) if found else None


def wanted(platform: Platform, shop_id: str, api_url: str, secret: str | None = None) -> tuple[Wanted, ...]:
    """One subscription per topic, to this stack's URL for the shop; WooCommerce's carry the secret."""
    address = webhook_url(api_url, platform, shop_id)
    woo = platform is Platform.WOOCOMMERCE
    return tuple(
        Wanted(
            topic=topic,
            address=address,
            secret=secret if woo else None,
            secret_mark=secret_mark(secret) if woo and secret else None,
            api_version=SHOPIFY_API_VERSION if platform is Platform.SHOPIFY else None,
        )
        for topic in topics(platform)
    )


def _same_address(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")


def is_ours(subscription: Subscription, platform: Platform, shop_id: str) -> bool:
    """A subscription delivering to some cxloop stack's URL for this shop (an older deployment's too)."""
    path = urlsplit(subscription.address.strip()).path.rstrip("/")
    return path.endswith(f"/webhooks/{platform.value}/{shop_id}")


def diff(
    wanted: Sequence[Wanted], existing: Iterable[Subscription], platform: Platform, shop_id: str
) -> Plan:
    """Per wanted topic: keep the subscription that matches, update one of ours that does not (wrong
    address, inactive, another secret), or create one; further subscriptions of ours to the same topic
    are duplicates to delete. Subscriptions of other apps or URLs are never touched."""
    ours = [s for s in existing if is_ours(s, platform, shop_id)]
    changes: list[Change] = []
    for want in wanted:
        same_topic = sorted(
            (s for s in ours if s.topic == want.topic),
            key=lambda s: (not _same_address(s.address, want.address), not s.active, s.id),
        )
        if not same_topic:
            changes.append(Change(kind="create", topic=want.topic, wanted=want, reasons=("missing",)))
            continue
        best, *duplicates = same_topic
        reasons = _reasons(want, best)
        changes.append(
            Change(
                kind="update" if reasons else "keep",
                topic=want.topic,
                wanted=want,
                existing=best,
                reasons=reasons,
                warnings=_warnings(want, best),
            )
        )
        changes += [
            Change(kind="delete", topic=want.topic, existing=d, reasons=(f"duplicate of {best.id}",))
            for d in duplicates
        ]
    return Plan(changes=tuple(changes))


def _reasons(want: Wanted, have: Subscription) -> tuple[str, ...]:
    reasons = []
    if not _same_address(have.address, want.address):
        reasons.append(f"delivers to {have.address}, not {want.address}")
    if not have.active:
        reasons.append("inactive")
    if want.secret_mark and have.secret_mark != want.secret_mark:
        reasons.append("signed with another secret" if have.secret_mark else "secret not set by cxloop")
    return tuple(reasons)


def _warnings(want: Wanted, have: Subscription) -> tuple[str, ...]:
    if want.api_version and have.api_version and have.api_version != want.api_version:
        return (
            f"payloads come in API version {have.api_version}, cxloop reads {want.api_version}: set the "
            f"app's webhooks API version to {want.api_version}",
        )
    return ()
