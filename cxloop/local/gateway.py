"""A local API Gateway (HTTP API, payload v2): requests become the same events Lambda receives.

Also serves the local stack's own pages under ``/_local``: the SMTP sink's inbox, a Slack-compatible
incoming-webhook sink, and a stand-in for BigCommerce's order API fed by the demo data.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from cxloop.local.pages import Pages
from cxloop.local.runtime import Functions
from shared import topology

TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/", "application/xml")


def _rule_path(api_path: str) -> str:
    greedy = re.sub(r"\{(\w+)\+\}", r"<path:\1>", api_path)  # {proxy+}: the rest of the path
    return re.sub(r"\{(\w+)\}", r"<\1>", greedy)


def api_event(request: Request, route: topology.Route, path_params: dict[str, str]) -> dict[str, Any]:
    body = request.get_data(cache=False)
    content_type = request.headers.get("content-type", "")
    try:
        text = body.decode("utf-8")
        binary = not content_type.startswith(TEXT_TYPES) and bool(content_type)
    except UnicodeDecodeError:
        text, binary = "", True
    now = datetime.now(tz=UTC)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "queryStringParameters": dict(request.args) or None,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.host,
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": base64.b64encode(body).decode() if binary else text,
        "isBase64Encoded": binary,
    }


def lambda_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result.get("statusCode", 200)))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = value
    return response


class Gateway:
    def __init__(self, functions: Functions, pages: Pages) -> None:
        self.functions = functions
        self.pages = pages
        rules = []
        for fn in topology.FUNCTIONS:
            for route in fn.routes:
                rules.append(
                    Rule(_rule_path(route.path), methods=[route.method], endpoint=(fn.logical, route))
                )
        self._api = Map(rules)
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            if request.path.startswith("/_local") or request.path == "/":
                response = self.pages.dispatch(request)
            else:
                response = self._invoke(request)
        except HTTPException as e:
            response = Response(
                json.dumps({"message": e.description or e.name}),
                status=e.code or 500,
                content_type="application/json",
            )
        return response(environ, start_response)

    def _invoke(self, request: Request) -> Response:
        adapter = self._api.bind_to_environ(request.environ)
        try:
            (logical, route), params = adapter.match()
        except NotFound:
            # What API Gateway answers for a path with no route.
            return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")
        self.requests += 1
        started = time.perf_counter()
        result = self.functions.invoke(topology.function(logical), api_event(request, route, dict(params)))
        response = lambda_response(result)
        response.headers["x-local-latency-ms"] = f"{(time.perf_counter() - started) * 1000:.2f}"
        return response
