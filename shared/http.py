"""The HTTP edge of every function behind API Gateway (HTTP API, payload v2): the Lambda proxy
responses, and the one mapping of cxloop's typed errors (``shared.errors``) to a status and a body.

Two bodies on purpose, each pinned by its callers: the endpoints platforms post to (webhooks) answer
``{"error": code, "message": ...}`` as they always have; the owner's REST API answers
``{"error": {"code", "message", "details"}}``, as its OpenAPI document describes. Statuses and codes
come from the error's class, never from its message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import CxloopError

JSON = "application/json"
RETRY_AFTER_S = 30


def respond(status: int, body: str, headers: Mapping[str, str]) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(headers), "body": body}


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return respond(status, json.dumps(payload), {"content-type": JSON, **(headers or {})})


def retry_later(body: str, headers: Mapping[str, str], retry_after_s: int = RETRY_AFTER_S) -> dict[str, Any]:
    """503 with Retry-After: a dependency failed and nothing was done, so the caller may try again."""
    return respond(503, body, {**headers, "retry-after": str(retry_after_s)})


def error_payload(error: CxloopError) -> dict[str, str]:
    """The webhook endpoints' error body."""
    return {"error": error.code, "message": error.message}


def error_response(error: CxloopError) -> dict[str, Any]:
    return json_response(error.status, error_payload(error))


def unavailable(message: str) -> dict[str, Any]:
    """The webhook endpoints' 503: nothing was acknowledged, so the platform retries."""
    return json_response(503, {"error": "unavailable", "message": message})


def api_error_payload(code: str, message: str, details: Sequence[str] = ()) -> dict[str, Any]:
    """The REST API's error body (its OpenAPI ``Error`` schema)."""
    return {"error": {"code": code, "message": message, "details": list(details)}}
