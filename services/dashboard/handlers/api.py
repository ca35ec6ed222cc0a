"""HTTP handler: the owner's REST API under ``/api/v1`` (API Gateway HTTP API, payload v2).

Powertools' resolver validates every parameter and body against the annotations below and generates
the OpenAPI document served at ``/api/v1/openapi.json``. Every route but that document needs a shop's
API key (``Authorization: Bearer <key>`` or ``X-Api-Key``) and works in that shop only: no route takes
a shop id. Errors are ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from functools import cache
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel

from services.dashboard import service
from services.dashboard.bootstrap import dashboard
from services.dashboard.domain import keys
from services.dashboard.domain.model import (
    Band,
    CasePage,
    CaseView,
    CustomerPage,
    ErasureReceipt,
    ErasureRequest,
    Error,
    FeedPage,
    Me,
    Overview,
    ReplyBody,
    RetentionReport,
    SentimentLabel,
    ServiceReport,
    SuppressionPage,
    ThemesReport,
)
from services.dashboard.domain.reports import Interval, MetricsReport
from services.feedback.api import SurveyProgramme
from services.notifier.api import AlertSettings
from shared import http, json_bodies
from shared.clock import utcnow
from shared.errors import CxloopError, NotFound
from shared.observability import logger

log = logger("dashboard")
PREFIX = "/api/v1"
DOC_PATH = f"{PREFIX}/openapi.json"
UNAUTHORIZED = "an active API key is needed (Authorization: Bearer <key>, or X-Api-Key)"
VERSION = "1.0.0"

app = APIGatewayHttpResolver(enable_validation=True)

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=600, description="next_cursor of the previous page")]
Day = Annotated[date | None, Query(description="YYYY-MM-DD (UTC), inclusive")]
# A case id holds a colon (response:<invite>); a client may send it percent-encoded.
CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9:%._-]{1,200}$", description="a case id")]
Word = Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,40}$")]


def _doc(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


ERRORS: dict[int, Any] = {
    400: _doc(Error, "The request is malformed; the message says what is wrong"),
    401: _doc(Error, "No API key, or not an active one"),
}
NOT_FOUND: dict[int, Any] = {404: _doc(Error, "No such record in this shop")}
CONFLICT: dict[int, Any] = {409: _doc(Error, "Not possible in the record's current state")}


def ok(description: str) -> dict[int, Any]:
    return {200: {"description": description}, **ERRORS}


def error(status: int, code: str, message: str, details: list[str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=http.api_error_payload(code, message, details or ()),
    )


# --- authentication ---------------------------------------------------------------------------------


def _presented(headers: dict[str, str]) -> str:
    bearer = headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        return bearer[7:].strip()
    return headers.get("x-api-key", "").strip()


def authenticate(event: dict[str, Any]) -> dict[str, Any] | None:
    """Before the resolver (whose validation runs before any middleware): a request without an active
    key learns nothing, not even whether its parameters were valid. None: go on."""
    if event.get("rawPath") == DOC_PATH:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key = keys.authenticate(dashboard().keys, _presented(headers))
    if key is None:
        return http.json_response(401, http.api_error_payload("unauthorized", UNAUTHORIZED))
    app.append_context(shop_id=key.shop_id, key_id=key.key_id)  # type: ignore[no-untyped-call]
    log.append_keys(shop_id=key.shop_id, key_id=key.key_id)
    return None


def shop() -> str:
    shop_id: str = app.context["shop_id"]
    return shop_id


# --- errors -----------------------------------------------------------------------------------------


def _details(errors: Any) -> list[str]:
    return [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg') or e.get('type')}" for e in errors]


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _invalid(e: RequestValidationError) -> Response[Any]:
    return error(400, "bad_request", "the request does not match the API", _details(e.errors()))


@app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
def _content_type(e: RequestUnsupportedContentType) -> Response[Any]:
    return error(400, "bad_request", "send JSON (content-type: application/json)", _details(e.errors()))


@app.exception_handler(CxloopError)  # type: ignore[untyped-decorator]
def _refused(e: CxloopError) -> Response[Any]:
    return error(e.status, e.code, e.message)


@app.not_found
def _no_route(e: NotFoundError) -> Response[Any]:
    return error(404, "not_found", "no such endpoint (see /api/v1/openapi.json)")


# --- the shop ---------------------------------------------------------------------------------------


@app.get(f"{PREFIX}/me", summary="The shop and key in use", tags=["shop"], responses=ok("The caller"))
def me() -> Me:
    found = dashboard().notifier.shop(shop())
    return Me(shop_id=shop(), shop_name=found.name if found else shop(), key_id=app.context["key_id"])


@app.get(
    f"{PREFIX}/settings/surveys",
    summary="The survey programme",
    tags=["settings"],
    responses={**ok("The shop's survey programme"), **NOT_FOUND},
)
def get_surveys() -> SurveyProgramme:
    programme: SurveyProgramme | None = dashboard().feedback.programme(shop())
    if programme is None:
        raise NotFound("this shop has no survey programme yet")
    return programme


@app.put(
    f"{PREFIX}/settings/surveys",
    summary="Replace the survey programme",
    tags=["settings"],
    responses=ok("The programme as stored"),
)
def put_surveys(programme: SurveyProgramme) -> SurveyProgramme:
    return service.save_surveys(dashboard(), shop(), programme)


@app.get(f"{PREFIX}/settings/alerts", summary="Alert rules and destinations", tags=["settings"],
         responses=ok("The notifier settings (Slack URLs are never shown)"))  # fmt: skip
def get_alerts() -> AlertSettings:
    return dashboard().notifier.alert_settings(shop(), fresh=True)


@app.put(f"{PREFIX}/settings/alerts", summary="Replace alert rules and destinations", tags=["settings"],
         responses=ok("The settings as stored"))  # fmt: skip
def put_alerts(settings: AlertSettings) -> AlertSettings:
    return service.save_alerts(dashboard(), shop(), settings)


# --- figures ----------------------------------------------------------------------------------------


@app.get(f"{PREFIX}/overview", summary="The overview page's figures", tags=["metrics"],
         responses=ok("12 weeks of scores, 4 weeks of themes, open cases"))  # fmt: skip
def get_overview() -> Overview:
    return service.overview(dashboard(), shop(), utcnow())


@app.get(f"{PREFIX}/metrics", summary="NPS, CSAT, CES and response rates with 95% intervals",
         tags=["metrics"], responses=ok("Per day, week or month, and over the whole period"))  # fmt: skip
def get_metrics(
    interval: Annotated[Interval, Query(description="bucket size")] = Interval.WEEK,
    start: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
) -> MetricsReport:
    first, last = service.period(start, end, utcnow().date(), 12 * 7)
    return service.metrics(dashboard(), shop(), first, last, interval)


@app.get(f"{PREFIX}/themes", summary="Themes: how often, how negative, rising or not", tags=["metrics"],
         responses=ok("Each theme in the period against the period before"))  # fmt: skip
def get_themes(
    start: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
) -> ThemesReport:
    first, last = service.period(start, end, utcnow().date(), 28)
    return service.themes(dashboard(), shop(), first, last)


@app.get(f"{PREFIX}/retention", summary="Cohorts, repeat and churn rates, RFM segments and who moved",
         tags=["metrics"], responses=ok("The shop's retention snapshot and its definitions"))  # fmt: skip
def get_retention() -> RetentionReport:
    return service.retention(dashboard(), shop(), utcnow())


# --- the feed ---------------------------------------------------------------------------------------


def _query(
    kind: str | None,
    start: date | None,
    end: date | None,
    channel: str | None,
    survey_type: str | None,
    band: str | None,
    sentiment: str | None,
    theme: str | None,
    has_text: bool | None,
) -> service.FeedQuery:
    return service.FeedQuery(
        start=start,
        end=end,
        kind=kind,
        channel=channel,
        survey_type=survey_type,
        band=band,
        sentiment=sentiment,
        theme=theme,
        has_text=has_text,
    )


From = Annotated[date | None, Query(alias="from", description="first day (UTC)")]
To = Annotated[date | None, Query(alias="to", description="last day (UTC)")]
Channel = Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,40}$", description="email, google, ...")]
SurveyType = Annotated[str | None, Query(pattern=r"^(nps|csat|ces)$")]
ScoreBand = Annotated[Band | None, Query(description="a score band (implies its survey type)")]
Sentiment = Annotated[SentimentLabel | None, Query()]
Theme = Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,60}$", description="a theme id")]
HasText = Annotated[bool | None, Query(description="only those with (or without) a comment")]


@app.get(f"{PREFIX}/responses", summary="Survey answers, newest first", tags=["feed"],
         responses=ok("A page of answers"))  # fmt: skip
def get_responses(
    limit: Limit = 50,
    cursor: Cursor = None,
    start: From = None,
    end: To = None,
    survey_type: SurveyType = None,
    band: ScoreBand = None,
    sentiment: Sentiment = None,
    theme: Theme = None,
    has_text: HasText = None,
) -> FeedPage:
    query = _query("response", start, end, None, survey_type, band, sentiment, theme, has_text)
    return service.feed(dashboard(), shop(), query, limit, cursor)


@app.get(f"{PREFIX}/reviews", summary="Reviews and mentions, newest first", tags=["feed"],
         responses=ok("A page of reviews and mentions"))  # fmt: skip
def get_reviews(
    limit: Limit = 50,
    cursor: Cursor = None,
    start: From = None,
    end: To = None,
    channel: Channel = None,
    sentiment: Sentiment = None,
    theme: Theme = None,
) -> FeedPage:
    query = _query("mention", start, end, channel, None, None, sentiment, theme, None)
    return service.feed(dashboard(), shop(), query, limit, cursor)


@app.get(f"{PREFIX}/feed", summary="Answers and reviews together, newest first", tags=["feed"],
         responses=ok("A page of the feed"))  # fmt: skip
def get_feed(
    limit: Limit = 50,
    cursor: Cursor = None,
    start: From = None,
    end: To = None,
    channel: Channel = None,
    survey_type: SurveyType = None,
    band: ScoreBand = None,
    sentiment: Sentiment = None,
    theme: Theme = None,
    has_text: HasText = None,
) -> FeedPage:
    query = _query(None, start, end, channel, survey_type, band, sentiment, theme, has_text)
    return service.feed(dashboard(), shop(), query, limit, cursor)


CSV_DOC: dict[int, Any] = {
    200: {
        "description": "CSV (UTF-8, a header row); X-Next-Cursor names the rest when there is more",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    **ERRORS,
}


def _csv(name: str, query: service.FeedQuery, cursor: str | None) -> Response[str]:
    text, rest = service.export_csv(dashboard(), shop(), query, cursor)
    headers = {"Content-Disposition": f'attachment; filename="{shop()}-{name}-{utcnow():%Y%m%d}.csv"'}
    if rest:
        headers["X-Next-Cursor"] = rest
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=text, headers=headers)


@app.get(f"{PREFIX}/responses/export", summary="Survey answers as CSV", tags=["export"], responses=CSV_DOC)
def export_responses(
    cursor: Cursor = None,
    start: From = None,
    end: To = None,
    survey_type: SurveyType = None,
    band: ScoreBand = None,
    sentiment: Sentiment = None,
    theme: Theme = None,
    has_text: HasText = None,
) -> Response[str]:
    query = _query("response", start, end, None, survey_type, band, sentiment, theme, has_text)
    return _csv("responses", query, cursor)


@app.get(
    f"{PREFIX}/reviews/export", summary="Reviews and mentions as CSV", tags=["export"], responses=CSV_DOC
)
def export_reviews(
    cursor: Cursor = None,
    start: From = None,
    end: To = None,
    channel: Channel = None,
    sentiment: Sentiment = None,
    theme: Theme = None,
) -> Response[str]:
    query = _query("mention", start, end, channel, None, None, sentiment, theme, None)
    return _csv("reviews", query, cursor)


# --- cases ------------------------------------------------------------------------------------------

Status = Annotated[str | None, Query(pattern=r"^(open|replied|resolved)$", description="only cases in it")]


@app.get(f"{PREFIX}/service", summary="Time to first reply and to resolution, first-contact resolution, "
         "re-contacts", tags=["cases"],
         responses=ok("Over the period (12 weeks unless given) and per week"))  # fmt: skip
def get_service(
    start: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
) -> ServiceReport:
    first, last = service.period(start, end, utcnow().date(), 12 * 7)
    return service.service(dashboard(), shop(), first, last)


@app.get(f"{PREFIX}/cases", summary="Cases, newest first", tags=["cases"], responses=ok("A page of cases"))
def get_cases(limit: Limit = 50, cursor: Cursor = None, status: Status = None) -> CasePage:
    return service.cases(dashboard(), shop(), status, limit, cursor, utcnow())


@app.get(f"{PREFIX}/cases/<case_id>", summary="One case, with its drafted reply", tags=["cases"],
         responses={**ok("The case"), **NOT_FOUND})  # fmt: skip
def get_case(case_id: CaseId) -> CaseView:
    return service.case(dashboard(), shop(), unquote(case_id), utcnow())


@app.post(f"{PREFIX}/cases/<case_id>/reply", summary="Send this reply (to the customer, or post it publicly)",
          tags=["cases"], responses={**ok("The case after sending"), **NOT_FOUND, **CONFLICT})  # fmt: skip
def reply(case_id: CaseId, body: ReplyBody) -> CaseView:
    return service.act(dashboard(), shop(), unquote(case_id), "reply", utcnow(), body.text)


@app.post(f"{PREFIX}/cases/<case_id>/approve", summary="Send the drafted reply as it is", tags=["cases"],
          responses={**ok("The case after sending"), **NOT_FOUND, **CONFLICT})  # fmt: skip
def approve(case_id: CaseId) -> CaseView:
    return service.act(dashboard(), shop(), unquote(case_id), "approve", utcnow())


@app.post(f"{PREFIX}/cases/<case_id>/posted",
          summary="Say you posted the reply yourself, at a source that takes none from cxloop (see by_hand)",
          tags=["cases"], responses={**ok("The case, replied"), **NOT_FOUND, **CONFLICT})  # fmt: skip
def posted(case_id: CaseId, body: ReplyBody | None = None) -> CaseView:
    text = body.text if body else None
    return service.act(dashboard(), shop(), unquote(case_id), "posted", utcnow(), text)


@app.post(f"{PREFIX}/cases/<case_id>/resolve", summary="Resolve without (further) reply", tags=["cases"],
          responses={**ok("The resolved case"), **NOT_FOUND, **CONFLICT})  # fmt: skip
def resolve(case_id: CaseId) -> CaseView:
    return service.act(dashboard(), shop(), unquote(case_id), "resolve", utcnow())


# --- customers and privacy --------------------------------------------------------------------------


@app.get(f"{PREFIX}/customers/at-risk", summary="Customers at risk of churning, riskiest first",
         tags=["customers"], responses=ok("A page of customers"))  # fmt: skip
def get_at_risk(limit: Limit = 50, cursor: Cursor = None) -> CustomerPage:
    return service.at_risk(dashboard(), shop(), limit, cursor, utcnow())


@app.get(f"{PREFIX}/suppressions", summary="Who is not surveyed, and why (newest first)", tags=["customers"],
         responses=ok("A page of the suppression log"))  # fmt: skip
def get_suppressions(limit: Limit = 50, cursor: Cursor = None) -> SuppressionPage:
    return service.suppressions(dashboard(), shop(), limit, cursor)


@app.post(f"{PREFIX}/customers/erasure", summary="Erase a customer's personal data", tags=["customers"],
          responses=ok("What was erased; other services follow within minutes"))  # fmt: skip
def erase(request: ErasureRequest) -> ErasureReceipt:
    return service.erase(dashboard(), shop(), request, utcnow(), f"api:{app.context['key_id']}")


# --- the document -----------------------------------------------------------------------------------


@cache
def openapi_document() -> str:
    raw = app.get_openapi_json_schema(
        title="cxloop API",
        version=VERSION,
        description="The owner's API: scores, themes, the feed, cases, customers at risk, exports. "
        "Every call works in the shop of the API key it presents.",
        servers=[Server(url="/")],
        security_schemes={
            "bearer": HTTPBearer(bearerFormat="cxk_<shop>_<id>_<secret>"),
            "apiKey": APIKey(in_=APIKeyIn.header, name="X-Api-Key"),
        },
        security=[{"bearer": []}, {"apiKey": []}],
    )
    doc = json.loads(raw)
    for item in doc["paths"].values():
        for operation in item.values():
            # Validation errors are 400 here (see _invalid), never powertools' default 422.
            operation["responses"].pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        doc.get("components", {}).get("schemas", {}).pop(name, None)
    return json.dumps(doc)


@app.get(DOC_PATH, include_in_schema=False)
def serve_document() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


def too_deep(event: dict[str, Any]) -> dict[str, Any] | None:
    """The resolver parses a JSON body with the standard library: one nested past any real request
    would end in a RecursionError (a 503 the client retries for ever). A 400 instead."""
    raw = event.get("body")
    if not raw:
        return None
    try:
        json_bodies.loads(base64.b64decode(raw) if event.get("isBase64Encoded") else raw)
    except json_bodies.TooDeep as e:
        return http.json_response(400, http.api_error_payload("bad_request", f"the body {e}"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None  # not JSON at all: the resolver's validation says so
    return None


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = authenticate(event) or too_deep(event) or app.resolve(event, context)
    except Exception:
        log.exception("api request failed")
        body = json.dumps(http.api_error_payload("unavailable", "try again shortly"))
        return http.retry_later(body, {"content-type": http.JSON}, retry_after_s=5)
    log.info("api", path=event.get("rawPath"), status=response.get("statusCode"))
    return response
