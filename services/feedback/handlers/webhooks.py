"""HTTP handler: POST /webhooks/{platform}/{shop_id} (API Gateway HTTP API → Lambda).

Thin on purpose: raw body and headers in, one domain call, errors mapped in one place. It imports
nothing of scoring (no spaCy) and builds its AWS clients once per container.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from services.feedback.bootstrap import Intake, build_intake
from services.feedback.domain.inbound import utcnow
from services.feedback.domain.intake import Outcome, WebhookRequest, accept_webhook
from shared.errors import CxloopError, to_http
from shared.observability import logger
from shared.settings import IntakeSettings, load

log = logger("feedback")
app = APIGatewayHttpResolver()
_built: dict[str, Intake] = {}


def intake() -> Intake:
    if "intake" not in _built:
        _built["intake"] = build_intake(load(IntakeSettings))
    return _built["intake"]


def use(built: Intake) -> None:
    """Install an already-built intake (tests, the local stack)."""
    _built["intake"] = built


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


@app.post("/webhooks/<platform>/<shop_id>")
def webhook(platform: str, shop_id: str) -> Response[str]:
    event = app.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    request = WebhookRequest(
        platform=platform,
        shop_id=shop_id,
        headers={k.lower(): v for k, v in (event.headers or {}).items()},
        body=body,
        received_at=utcnow(),
        correlation_id=event.request_context.request_id,
    )
    built = intake()
    try:
        result = accept_webhook(request, built.deps, built.policy)
    except CxloopError as e:
        status, payload = to_http(e)
        log.warning("webhook refused", platform=platform, shop_id=shop_id, status=status, reason=e.message)
        return _json(status, payload)
    level = log.info if result.outcome is not Outcome.IGNORED else log.warning
    level("webhook " + result.outcome.value, platform=platform, shop_id=shop_id, topic=result.topic)
    return _json(200, {"status": result.outcome.value})


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected(error: Exception) -> Response[str]:
    # A dependency failed (DynamoDB, SQS...): nothing was acknowledged, so the platform retries.
    log.exception("webhook failed", error=type(error).__name__)
    return _json(503, {"error": "unavailable", "message": "temporarily unable to accept the webhook; retry"})


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
