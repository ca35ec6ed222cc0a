"""HTTP handler: POST /webhooks/{platform}/{shop_id} (API Gateway HTTP API, payload v2 → Lambda).

Thin on purpose: raw body and headers in, one domain call, errors mapped in one place. API Gateway
routes the one path and extracts its parameters, so no resolver is loaded (the Powertools event
handler package would add 0.02-0.04 s to the cold start, measured 2026-12-07); the event is read
through Powertools' data class. It imports nothing of scoring (no spaCy) and builds its AWS clients
once per container.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from services.feedback import bootstrap
from services.feedback.domain.webhooks.intake import Outcome, WebhookRequest, accept_webhook
from shared import http
from shared.clock import utcnow
from shared.errors import BadRequest, CxloopError, NotFound, PayloadTooLarge, Unauthorized
from shared.observability import WEBHOOKS_REFUSED, Counts, counted, logger
from shared.tenancy import Platform

log = logger("feedback")
metrics = Counts("feedback")

# Why a webhook was refused, as a closed set (a metric dimension): by the error's class, never its text.
REFUSAL_REASONS: dict[type[CxloopError], str] = {
    Unauthorized: "signature",
    BadRequest: "invalid",
    NotFound: "unknown_shop",
    PayloadTooLarge: "too_large",
}


def _request(event: APIGatewayProxyEventV2) -> WebhookRequest:
    raw = event.body or ""
    params = event.path_parameters or {}
    return WebhookRequest(
        platform=params.get("platform", ""),
        shop_id=params.get("shop_id", ""),
        headers={k.lower(): v for k, v in (event.headers or {}).items()},
        body=base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8"),
        received_at=utcnow(),
        correlation_id=event.request_context.request_id,
    )


def _platform(value: str) -> str:
    """The path's platform as a metric dimension: one of the three, else "unknown" (a caller's path must
    not mint metrics)."""
    return value if value in set(Platform) else "unknown"


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@counted(metrics)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = _request(APIGatewayProxyEventV2(event))
    log.append_keys(platform=request.platform, shop_id=request.shop_id)
    platform = _platform(request.platform)
    try:
        built = bootstrap.intake()
        result = accept_webhook(request, built.deps, built.policy)
    except CxloopError as e:
        log.warning("webhook refused", status=e.status, reason=e.message)
        reason = next((r for kind, r in REFUSAL_REASONS.items() if isinstance(e, kind)), e.code)
        metrics.count(WEBHOOKS_REFUSED, platform=platform, reason=reason, rollup=("reason",))
        return http.error_response(e)
    except Exception as e:
        # A dependency failed (DynamoDB, SQS...): nothing was acknowledged, so the platform retries.
        log.exception("webhook failed", error=type(e).__name__)
        metrics.count("WebhooksFailed", platform=platform)
        return http.unavailable("temporarily unable to accept the webhook; retry")
    level = log.info if result.outcome is not Outcome.IGNORED else log.warning
    level("webhook " + result.outcome.value, topic=result.topic)
    if result.outcome is not Outcome.PING:
        metrics.count(f"Webhooks{result.outcome.value.capitalize()}", platform=platform)
    return http.json_response(200, {"status": result.outcome.value})
