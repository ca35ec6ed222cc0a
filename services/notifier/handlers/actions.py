"""HTTP handler: the approve link in an alert (API Gateway HTTP API, payload v2).

``GET /n/{token}`` shows the case and the reply drafted for it, editable; ``POST /n/{token}`` with
``action=send`` sends it (or posts it, for a public review), ``action=posted`` records that the owner
posted it at a review site cxloop cannot post to, and ``action=close`` resolves the case without a
reply. A GET never acts: mail scanners open links. The token is signed, names one case of one
shop, and expires; anything wrong with it is a plain 404.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from services.notifier.bootstrap import notifier
from services.notifier.domain import replies
from services.notifier.domain.model import Case
from shared import http, templates
from shared.clock import utcnow
from shared.links import Purpose, read
from shared.observability import logger
from shared.pages import html_headers

if TYPE_CHECKING:
    import jinja2

log = logger("notifier")
MAX_FORM_BYTES = 64 * 1024
HEADERS = html_headers()
NOT_FOUND = http.respond(404, "Not found", {**HEADERS, "content-type": "text/plain"})


def _template() -> jinja2.Template:
    return templates.environment(Path(__file__).resolve().parents[1] / "templates").get_template("case.html")


def page(
    case: Case, now: datetime, notice: str = "", warn: bool = False, status: int = 200
) -> dict[str, Any]:
    built = notifier()
    shop, settings = built.shops.get(case.shop_id), built.settings.get(case.shop_id)
    can_reply = shop is not None and case.reply_state in replies.SENDABLE
    draft = replies.current_draft(case, shop, settings).text if can_reply and shop else ""
    who = case.first_name or ("a customer" if case.subject == "response" else f"a {case.source} reviewer")
    if case.score is not None:
        who = f"{case.survey_type.upper() if case.survey_type else ''} {case.score} from {who}".strip()
    elif case.rating is not None:
        who = f"{case.rating:g}★ on {case.source} from {who}"
    body = _template().render(
        title=f"{shop.name if shop else case.shop_id}: a case to close",
        case=case,
        who=who,
        draft=draft,
        can_reply=can_reply,
        overdue=case.overdue(now),
        notice=notice,
        warn=warn,
    )
    return http.respond(status, body, HEADERS)


def _form(event: APIGatewayProxyEventV2) -> dict[str, str] | None:
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    if len(body) > MAX_FORM_BYTES:
        return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=5).items()}


def _case(event: APIGatewayProxyEventV2, now: datetime) -> Case | None:
    """The case the link names, if the link is genuine and unexpired (and the case still exists)."""
    parts = (event.raw_path or "").strip("/").split("/")
    if len(parts) != 2 or parts[0] != "n":
        return None
    built = notifier()
    claims = read(built.link_keys().keys(), parts[1], Purpose.APPROVE, now)
    return built.store.case(claims.shop_id, claims.invite_id) if claims else None


def route(event: APIGatewayProxyEventV2, now: datetime) -> dict[str, Any]:
    method = event.request_context.http.method.upper()
    case = _case(event, now) if method in ("GET", "POST") else None
    if case is None:
        return NOT_FOUND
    if method == "GET":
        return page(case, now)
    return _act(event, case, now)


def _act(event: APIGatewayProxyEventV2, case: Case, now: datetime) -> dict[str, Any]:
    built = notifier()
    form = _form(event)
    if form is None or form.get("action") not in ("send", "posted", "close"):
        return page(case, now, "That request was not understood; nothing was sent.", warn=True, status=400)
    try:
        if form["action"] == "close":
            done = replies.close(built.reply_deps(), case.shop_id, case.case_id, now)
            return page(done, now, "Closed. Nothing was sent.")
        if form["action"] == "posted":
            done = replies.posted(built.reply_deps(), case.shop_id, case.case_id, now, form.get("text"))
            return page(done, now, _outcome(done))
        done = replies.approve(built.reply_deps(), case.shop_id, case.case_id, now, form.get("text"))
    except replies.ReplyRefused as e:
        return page(case, now, f"Not sent: {e}.", warn=True, status=409)
    return page(done, now, _outcome(done))


def _outcome(case: Case) -> str:
    state = case.reply_state.value
    return {
        "sent": "Sent. The customer's answer will reach your inbox.",
        "requested": "Handed to the review site; the case counts as replied once the site accepts it.",
        "posted": "Marked as posted on the review site; the case counts as replied.",
        "suppressed": "Not sent: this customer unsubscribed from your e-mails.",
        "failed": "Not sent: the mail provider refused the address.",
    }.get(state, f"Saved; the reply is {state.replace('_', ' ')} (it goes out within a few minutes).")


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayProxyEventV2(event)
    try:
        response = route(request, utcnow())
    except Exception:
        log.exception("case page failed")
        return http.retry_later("Try again shortly.", HEADERS)
    log.info("case page", method=request.request_context.http.method, status=response["statusCode"])
    return response
