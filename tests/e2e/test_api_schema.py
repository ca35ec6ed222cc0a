"""Schemathesis against the running local stack: every operation of the generated OpenAPI document,
called over HTTP with data generated from the document itself, answers without a server error and
as the document says (status codes, content types, bodies against their schemas)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.dashboard.adapters.dynamo_keys import DynamoKeyStore
from services.dashboard.domain import keys
from shared.events import EventBridgePublisher
from shared.tenancy import Platform, Shop
from tests.e2e.conftest import LiveStack

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SHOP = Shop(
    shop_id="schema-shop", name="Schema Shop", platforms=(Platform.SHOPIFY,), owner_email="o@s.example"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 25


def _events(live: LiveStack) -> None:
    """A few answers, readings, a review and a case, through the bus as the services would send them."""
    bus = EventBridgePublisher(live.admin.events, live.admin.resources.bus_name, "feedback")
    scoring = EventBridgePublisher(live.admin.events, live.admin.resources.bus_name, "scoring")
    now = datetime.now(tz=UTC)
    for i, score in enumerate((2, 9, 10, 6, 8)):
        invite = f"inv-{i}"
        bus.publish(
            "ResponseRecorded",
            SHOP.shop_id,
            {
                "invite_id": invite, "revision": 1, "survey_type": "nps", "score": score,
                "answered_at": (now - timedelta(days=i)).isoformat(), "comment": f"comment {i}",
                "order_id": f"o-{i}", "platform": "shopify", "customer_key": f"email:{i}",
                "email": f"c{i}@customer.example", "first_name": "Ana",
            },
            "schema-test",
        )  # fmt: skip
        scoring.publish(
            "FeedbackScored",
            SHOP.shop_id,
            {
                "subject": "response", "subject_id": invite, "revision": 1, "key": f"{invite}#1",
                "sentiment": {"label": "negative" if score < 7 else "positive", "score": 0.5,
                              "confidence": 0.9},
                "themes": [{"theme": "delivery_shipping", "sentiment": "negative", "score": -0.5}],
                "language": "en", "taxonomy": "ecommerce", "model_version": "t", "scored_at": now.isoformat(),
            },
            "schema-test",
        )  # fmt: skip


@pytest.fixture(scope="module")
def api(live: LiveStack) -> Iterator[tuple[str, str]]:
    live.admin.shops.put(SHOP)
    _, presented = keys.issue(
        DynamoKeyStore(live.admin.dynamodb, live.admin.resources.tables["shops"]),
        SHOP.shop_id,
        "schema",
        datetime.now(tz=UTC),
    )
    _events(live)
    live.wait_idle()
    yield live.api, presented


def _cases(base: str, key: str) -> Any:
    request = urllib.request.Request(f"{base}/api/v1/cases", headers={"authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def test_every_operation_matches_the_document(api: tuple[str, str]) -> None:
    base, key = api
    assert _cases(base, key)["items"], "the seeded detractors opened cases"
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    schema.config.update(base_url=base, headers={"Authorization": f"Bearer {key}"})
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    # Erasure really erases: it is exercised by its own tests, not by random data here.
    operations = [r.ok() for r in schema.exclude(path_regex="erasure").get_all_operations()]
    assert len(operations) >= 18
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            call()
        except Exception as e:  # every operation is tried; the failures are reported together
            failures.append(f"{operation.label}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_without_a_key_every_operation_is_401(api: tuple[str, str]) -> None:
    base, _ = api
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path.replace("{case_id}", "response:inv-0")
        request = urllib.request.Request(
            f"{base}{path}",
            method=operation.method.upper(),
            data=b"{}" if operation.method.upper() in ("POST", "PUT") else None,
            headers={"content-type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=10)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
            body = json.loads(e.read())
            assert body["error"]["code"] == "unauthorized"
        assert status == 401, f"{operation.label} without a key: {status}"
