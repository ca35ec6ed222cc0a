"""HTTP handler: POST /reviews/{shop_id}/{source}: reviews pushed by a platform (thin: verify, ingest)."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from services.reviews import bootstrap
from services.reviews.domain.ingest import Outcome
from services.reviews.domain.pushed import Pushed, accept_pushed
from shared import http
from shared.clock import utcnow
from shared.errors import CxloopError
from shared.observability import logger

log = logger("reviews")


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayProxyEventV2(event)
    params = request.path_parameters or {}
    raw = request.body or ""
    push = Pushed(
        shop_id=params.get("shop_id", ""),
        source=params.get("source", ""),
        headers={k.lower(): v for k, v in (request.headers or {}).items()},
        query=dict(request.query_string_parameters or {}),
        body=base64.b64decode(raw) if request.is_base64_encoded else raw.encode("utf-8"),
    )
    log.append_keys(shop_id=push.shop_id, source=push.source)
    built = bootstrap.reviews()
    try:
        result = accept_pushed(push, built.credentials, built.store, built.deps.mentions, utcnow())
    except CxloopError as e:
        log.warning("review webhook refused", status=e.status, reason=e.message)
        return http.error_response(e)
    except Exception as e:
        log.exception("review webhook failed", error=type(e).__name__)
        return http.unavailable("temporarily unable to accept the reviews; retry")
    counts = {k.value: v for k, v in result.counts.items()}
    log.info("reviews pushed", counts=counts)
    return http.json_response(200, {"status": "accepted", **{k.value: result.counts[k] for k in Outcome}})
