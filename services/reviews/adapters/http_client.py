"""``Http`` over urllib3 (the HTTP library botocore itself uses): pooled, with timeouts, no retries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import urllib3

from services.reviews.domain.errors import Transient
from services.reviews.domain.ports import Response

USER_AGENT = "cxloop-reviews/0.1 (+https://github.com/cxloop/cxloop)"


class Urllib3Http:
    def __init__(self, timeout_s: float = 10.0, user_agent: str = USER_AGENT) -> None:
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(3.0, timeout_s), read=timeout_s), retries=False
        )
        self._user_agent = user_agent

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        sent = {"User-Agent": self._user_agent, "Accept": "application/json", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body, sent["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif form is not None:
            body, sent["Content-Type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        try:
            r = self._pool.request(method, url, headers=sent, body=body, redirect=False)
        except urllib3.exceptions.HTTPError as e:  # timeouts, refused and dropped connections
            raise Transient(f"{method} {url.split('?')[0]}: {e.__class__.__name__}") from e
        return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.data)
