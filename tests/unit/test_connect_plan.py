"""What ``cxloop shop connect`` wants at each platform and how it compares with what is there (no HTTP)."""

from __future__ import annotations

import pytest

from cxloop.connect.model import Subscription
from cxloop.connect.plan import diff, is_ours, mark_in, secret_mark, topics, wanted, woocommerce_name
from services.feedback.domain.webhooks.parsing import SHOPIFY_COMPLIANCE, TOPICS
from shared.tenancy import Platform

pytestmark = pytest.mark.unit

API = "https://cx.example.com"
URL = f"{API}/webhooks/woocommerce/blue-kiln"


def _have(topic: str, address: str = URL, **kw: object) -> Subscription:
    return Subscription(id=kw.pop("id", topic), topic=topic, address=address, **kw)


def test_the_topics_are_exactly_those_the_intake_acts_on_less_shopifys_compliance_topics() -> None:
    assert set(topics(Platform.WOOCOMMERCE)) == TOPICS[Platform.WOOCOMMERCE]
    assert set(topics(Platform.BIGCOMMERCE)) == TOPICS[Platform.BIGCOMMERCE]
    assert set(topics(Platform.SHOPIFY)) == TOPICS[Platform.SHOPIFY] - SHOPIFY_COMPLIANCE
    assert "fulfillment_events/create" in topics(Platform.SHOPIFY)
    assert not SHOPIFY_COMPLIANCE & set(topics(Platform.SHOPIFY))


def test_wanted_subscriptions_go_to_this_stacks_url_and_only_woocommerce_carries_the_secret() -> None:
    woo = wanted(Platform.WOOCOMMERCE, "blue-kiln", API + "/", "s3cret-value")
    assert {w.address for w in woo} == {URL}
    assert all(w.secret == "s3cret-value" and w.secret_mark == secret_mark("s3cret-value") for w in woo)
    assert "s3cret-value" not in repr(woo)  # a wanted subscription never shows its secret
    shopify = wanted(Platform.SHOPIFY, "blue-kiln", API, "client-secret")
    assert all(w.secret is None and w.api_version == "2025-10" for w in shopify)


def test_nothing_there_means_every_topic_is_created() -> None:
    plan = diff(wanted(Platform.WOOCOMMERCE, "blue-kiln", API, "s"), [], Platform.WOOCOMMERCE, "blue-kiln")
    assert [c.kind for c in plan.changes] == ["create"] * len(TOPICS[Platform.WOOCOMMERCE])
    assert not plan.settled


def test_matching_subscriptions_are_kept_and_nothing_is_created() -> None:
    want = wanted(Platform.WOOCOMMERCE, "blue-kiln", API, "s")
    have = [_have(w.topic, secret_mark=secret_mark("s")) for w in want]
    plan = diff(want, have, Platform.WOOCOMMERCE, "blue-kiln")
    assert plan.settled and {c.kind for c in plan.changes} == {"keep"}


def test_an_old_deployments_address_an_inactive_hook_and_another_secret_are_updated_not_duplicated() -> None:
    want = wanted(Platform.WOOCOMMERCE, "blue-kiln", API, "new")
    mark = secret_mark("new")
    have = [
        _have(
            "order.created", "https://old.example.com/prod/webhooks/woocommerce/blue-kiln", secret_mark=mark
        ),
        _have("order.updated", active=False, secret_mark=mark),
        _have("order.deleted", secret_mark=secret_mark("old")),
        _have("order.restored", secret_mark=None),
    ]
    changes = {c.topic: c for c in diff(want, have, Platform.WOOCOMMERCE, "blue-kiln").changes}
    assert changes["order.created"].kind == "update"
    assert changes["order.created"].reasons == (
        f"delivers to https://old.example.com/prod/webhooks/woocommerce/blue-kiln, not {URL}",
    )
    assert changes["order.updated"].reasons == ("inactive",)
    assert changes["order.deleted"].reasons == ("signed with another secret",)
    assert changes["order.restored"].reasons == ("secret not set by cxloop",)
    assert changes["customer.created"].kind == "create"
    assert (
        changes["order.created"].existing is not None
        and changes["order.created"].existing.id == "order.created"
    )


def test_of_several_of_ours_for_one_topic_the_matching_one_is_kept_and_the_rest_are_duplicates() -> None:
    want = wanted(Platform.BIGCOMMERCE, "blue-kiln", API)
    address = want[0].address
    have = [
        _have("store/order/created", "https://old.example.com/webhooks/bigcommerce/blue-kiln", id="1"),
        _have("store/order/created", address, id="2"),
        _have("store/order/created", address, id="3"),
    ]
    changes = [
        c
        for c in diff(want, have, Platform.BIGCOMMERCE, "blue-kiln").changes
        if c.topic == "store/order/created"
    ]
    assert [(c.kind, c.existing.id if c.existing else None) for c in changes] == [
        ("keep", "2"),
        ("delete", "3"),
        ("delete", "1"),
    ]


def test_other_apps_and_other_shops_subscriptions_are_never_touched() -> None:
    want = wanted(Platform.WOOCOMMERCE, "blue-kiln", API, "s")
    have = [
        _have("order.created", "https://erp.example.com/hooks/woo"),
        _have("order.created", f"{API}/webhooks/woocommerce/red-kiln"),
        _have("order.created", f"{API}/webhooks/shopify/blue-kiln"),
    ]
    plan = diff(want, have, Platform.WOOCOMMERCE, "blue-kiln")
    assert {c.kind for c in plan.changes} == {"create"}
    assert not any(is_ours(s, Platform.WOOCOMMERCE, "blue-kiln") for s in have)


def test_a_shopify_payload_version_cxloop_does_not_read_is_a_warning_no_api_call_can_mend() -> None:
    want = wanted(Platform.SHOPIFY, "blue-kiln", API)
    have = [_have(w.topic, w.address, api_version="2024-07") for w in want]
    plan = diff(want, have, Platform.SHOPIFY, "blue-kiln")
    assert plan.settled
    assert all(c.warnings and "2024-07" in c.warnings[0] and "2025-10" in c.warnings[0] for c in plan.changes)


def test_the_secret_mark_round_trips_through_a_webhook_name_and_differs_per_secret() -> None:
    name = woocommerce_name("blue-kiln", "order.created", secret_mark("a"))
    assert mark_in(name) == secret_mark("a") != secret_mark("b")
    assert name == f"cxloop blue-kiln order.created [cx:{secret_mark('a')}]"
    assert mark_in("Order created (made by hand)") is None
