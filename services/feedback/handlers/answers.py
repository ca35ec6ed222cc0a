"""HTTP handler: the links in survey e-mails (API Gateway HTTP API, payload v2).

``GET /r/{token}?score=N`` records a score, ``POST /r/{token}`` a comment; ``GET /u/{token}`` asks,
``POST /u/{token}`` unsubscribes (RFC 8058 one-click: no cookies, no redirect, 200). Pages carry a
strict Content-Security-Policy and ``Referrer-Policy: no-referrer`` (a token in a Referer header would
leak the link to whatever the page links to).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from services.feedback import bootstrap, rendering
from services.feedback.domain.surveys import answers
from services.feedback.domain.surveys.views import Page, PageView
from shared import http
from shared.observability import logger
from shared.pages import html_headers

log = logger("feedback")
MAX_FORM_BYTES = 64 * 1024

HEADERS = html_headers(images="https: data:")


def _page(result: answers.Result) -> dict[str, Any]:
    page, view = result
    status = 404 if page is Page.NOT_FOUND else 200
    return http.respond(status, rendering.render_page(page, view), HEADERS)


def _form(event: APIGatewayProxyEventV2) -> dict[str, str]:
    """The form's fields; a body past MAX_FORM_BYTES is read up to it (a long comment is cut like any
    other, decision 24, never lost with the rest)."""
    raw = event.body or ""
    body = (base64.b64decode(raw) if event.is_base64_encoded else raw.encode())[:MAX_FORM_BYTES]
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


def route(event: APIGatewayProxyEventV2) -> answers.Result:
    method = event.request_context.http.method.upper()
    parts = (event.raw_path or "").strip("/").split("/")
    if len(parts) != 2 or parts[0] not in ("r", "u") or method not in ("GET", "POST"):
        return answers.NOT_FOUND
    kind, token = parts
    corr = event.request_context.request_id
    deps = bootstrap.surveys().answer_deps()
    if kind == "u":
        return (
            answers.confirm_unsubscribe(deps, token) if method == "GET" else answers.unsubscribe(deps, token)
        )
    if method == "GET":
        return answers.record_score(deps, token, (event.query_string_parameters or {}).get("score"), corr)
    return answers.record_comment(deps, token, _form(event), corr)


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayProxyEventV2(event)
    try:
        result = route(request)
    except Exception:
        log.exception("answer page failed")
        body = rendering.render_page(Page.NOT_FOUND, PageView())
        return http.retry_later(body, HEADERS)
    log.info("answer page", page=result[0].value, method=request.request_context.http.method)
    return _page(result)
