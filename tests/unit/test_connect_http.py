"""The platform caller's limits without sockets: Retry-After in both forms, bounded retries, 401/403 advice,
and no header (where the credentials are) in any message."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from cxloop.connect.http import (
    Caller,
    CredentialRefused,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
    Response,
    retry_after,
)

pytestmark = pytest.mark.unit


class Script:
    """A transport answering from a list (an exception is raised instead of answered)."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        self.sent.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _r(status: int, body: bytes = b"{}", **headers: str) -> Response:
    return Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def test_retry_after_reads_seconds_and_http_dates_and_ignores_nonsense() -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    assert retry_after({"retry-after": "12"}, now) == 12.0
    assert retry_after({"retry-after": format_datetime(now + timedelta(seconds=30))}, now) == 30.0
    assert retry_after({"retry-after": "soon"}, now) is None
    assert retry_after({}, now) is None


def test_a_429_is_retried_after_its_wait_and_the_answer_returned() -> None:
    waits: list[float] = []
    script = Script(_r(429, retry_after="2"), _r(200, b"[]"))
    call = Caller("woocommerce", script, sleep=waits.append)
    assert (
        call("GET", "https://s.example/wp-json/wc/v3/webhooks", {"Authorization": "Basic c2VjcmV0"}).status
        == 200
    )
    assert waits == [2.0] and len(script.sent) == 2


def test_5xx_then_no_connection_are_retried_a_bounded_number_of_times_then_name_the_call() -> None:
    waits: list[float] = []
    call = Caller("bigcommerce", Script(*[_r(502, b"bad gateway")] * 4), sleep=waits.append)
    with pytest.raises(PlatformUnavailable, match=r"bigcommerce: POST /stores/x/v3/hooks failed: HTTP 502"):
        call("POST", "https://api.example/stores/x/v3/hooks", {}, {"scope": "a"})
    assert waits == [1.0, 2.0, 4.0]
    call = Caller("bigcommerce", Script(*[ConnectionRefusedError("refused")] * 4), sleep=waits.append)
    with pytest.raises(PlatformUnavailable, match="no answer"):
        call("GET", "https://api.example/stores/x/v3/hooks", {})


def test_401_and_403_fail_at_once_with_the_adapters_advice_and_never_the_credential() -> None:
    refused = {401: "give the token again", 403: "add the scope"}
    for status, advice in refused.items():
        script = Script(_r(status, b'{"title": "Unauthorized"}'))
        call = Caller("shopify", script, refused, sleep=lambda s: None)
        with pytest.raises(CredentialRefused) as e:
            call(
                "POST",
                "https://s.myshopify.com/admin/api/2025-10/graphql.json",
                {"X-Shopify-Access-Token": "shpat_x"},
            )
        assert advice in str(e.value) and "shpat_x" not in str(e.value) and len(script.sent) == 1


def test_a_long_retry_after_is_not_slept_through() -> None:
    waits: list[float] = []
    call = Caller("woocommerce", Script(_r(429, retry_after="600")), sleep=waits.append)
    with pytest.raises(RateLimited, match="asks to wait 600 s"):
        call("GET", "https://s.example/x", {})
    assert waits == []


def test_require_names_the_call_and_a_redirects_target() -> None:
    call = Caller("woocommerce", Script(), sleep=lambda s: None)
    with pytest.raises(PlatformRejected, match="creating it was rejected: HTTP 400"):
        call.require(_r(400, b'{"code": "bad"}'), "creating it", 201)
    with pytest.raises(PlatformRejected, match="redirects to https://www"):
        call.require(_r(301, b"", location="https://www.s.example/x"), "listing", 200)


def test_json_and_form_bodies_carry_their_content_type() -> None:
    script = Script(_r(200), _r(200))
    call = Caller("shopify", script, sleep=lambda s: None)
    call("POST", "https://s.example/a", {}, {"query": "q"})
    call("POST", "https://s.example/b", {}, form={"grant_type": "client_credentials"})
    assert script.sent[0][2]["Content-Type"] == "application/json" and script.sent[0][3] == b'{"query": "q"}'
    assert script.sent[1][2]["Content-Type"] == "application/x-www-form-urlencoded"
    assert script.sent[1][3] == b"grant_type=client_credentials"
