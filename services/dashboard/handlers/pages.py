"""HTTP handler: the owner's dashboard under ``/dashboard``, server-rendered (API Gateway HTTP API,
payload v2).

The owner logs in with one of the shop's API keys; the session cookie names the shop and the key (never
the key itself), and every request checks that key is still active, so revoking it ends the session at
once. Every other POST carries the session's CSRF token, and a POST from another origin is refused.
Pages read and act through ``service`` in the session's shop only: no route takes a shop id. The
pages need no network but this function: styles, uPlot and the chart script are served from
``static/``, chart data rides in the page as JSON that is never executed.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2

from services.dashboard import page_views as views
from services.dashboard import retention_views, service, service_views, survey_editor
from services.dashboard.bootstrap import dashboard
from services.dashboard.domain import keys, sessions, survey_form
from services.dashboard.domain.model import BANDS, CaseView
from services.feedback.api import LANGUAGES
from shared import http, templates
from shared.clock import utcnow
from shared.errors import BadRequest, Conflict, CxloopError, NotFound
from shared.observability import logger

if TYPE_CHECKING:
    import jinja2

log = logger("dashboard")
ROOT = "/dashboard"
HERE = Path(__file__).resolve().parents[1]
MAX_FORM_BYTES = 64 * 1024
CASE_ID = re.compile(r"^[A-Za-z0-9:._-]{1,120}$")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The survey e-mail's preview, shown in the editor's iframes: the e-mail's own inline styles and https
# logo, nothing else; sandboxed (no script, its own opaque origin) and framed only by the dashboard.
PREVIEW_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'"
)

HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": CSP,
}
PREVIEW_HEADERS = HEADERS | {"x-frame-options": "SAMEORIGIN", "content-security-policy": PREVIEW_CSP}
ASSETS = {
    "dashboard.css": "text/css; charset=utf-8",
    "uplot.min.css": "text/css; charset=utf-8",
    "uplot.min.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "copy.js": "text/javascript; charset=utf-8",
    "case.js": "text/javascript; charset=utf-8",
    "survey.js": "text/javascript; charset=utf-8",
    "uplot.LICENSE": "text/plain; charset=utf-8",
}
NAV = (
    ("overview", "Overview"), ("themes", "Themes"), ("feed", "Feed"), ("cases", "Cases"),
    ("at-risk", "At risk"), ("retention", "Retention"), ("settings", "Settings"),
    ("suppressions", "Suppressions"),
)  # fmt: skip
PUBLIC = (f"{ROOT}/login", f"{ROOT}/static/", f"{ROOT}/survey-test")
CACHE_STATIC = "public, max-age=86400"
UNAVAILABLE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Try again shortly</title></head>'
    "<body><h1>Try again shortly</h1><p>The dashboard could not answer just now.</p></body></html>"
)

app = APIGatewayHttpResolver()


# --- responses --------------------------------------------------------------------------------------


def _env() -> jinja2.Environment:
    return templates.environment(HERE / "templates")


def render(template: str, status: int = 200, **context: Any) -> Response[str]:
    base = {"nav": (), "shop_name": "", "csrf": "", "current": "", "notice": "", "warn": False}
    body = _env().get_template(template).render(**(base | context))
    return Response(status_code=status, body=body, headers=HEADERS)


def page(template: str, title: str, status: int = 200, **context: Any) -> Response[str]:
    """A page behind the login: the nav with the shop's name, and the CSRF token of its forms."""
    d, session = dashboard(), current_session()
    shop = d.notifier.shop(session.shop_id)
    return render(
        template,
        status,
        title=title,
        nav=NAV,
        shop_name=shop.name if shop else session.shop_id,
        csrf=sessions.csrf_token(d.session_keys(), session, utcnow()),
        **context,
    )


def error_page(status: int, message: str) -> Response[str]:
    titles = {400: "Not possible", 403: "Refused", 404: "Not found", 409: "Not now"}
    title = titles.get(status, "Error")
    if "session" in app.context:
        return page("error.html", title, status, message=message)
    return render("error.html", status, title=title, message=message)


def cookie(value: str, max_age: int) -> str:
    parts = [f"{sessions.SESSION_COOKIE}={value}", "HttpOnly", "SameSite=Lax", f"Path={ROOT}",
             f"Max-Age={max_age}"]  # fmt: skip
    if dashboard().secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def redirect(location: str, set_cookie: str | None = None) -> Response[str]:
    headers = {"location": location, "cache-control": "no-store"}
    if set_cookie is not None:
        headers["set-cookie"] = set_cookie
    return Response(status_code=303, body="", headers=headers)


# --- the request ------------------------------------------------------------------------------------


def presented_cookie(event: APIGatewayProxyEventV2) -> str | None:
    pairs = [*event.cookies, *(event.headers.get("cookie") or "").split(";")]
    for pair in pairs:
        name, _, value = pair.strip().partition("=")
        if name == sessions.SESSION_COOKIE and value:
            return value
    return None


def session_of(event: APIGatewayProxyEventV2, at: datetime) -> sessions.Session | None:
    """The request's session, while it is unexpired and the key that started it is still active."""
    d = dashboard()
    found = sessions.resume(d.session_keys(), presented_cookie(event), at)
    if found is None:
        return None
    key = d.keys.get(found.shop_id, found.key_id)
    return found if key is not None and key[0].active else None


def current_session() -> sessions.Session:
    found: sessions.Session = app.context["session"]
    return found


def shop() -> str:
    return current_session().shop_id


def same_origin(event: APIGatewayProxyEventV2) -> bool:
    """A POST's Origin, when the browser sends one, must be this host."""
    origin = event.headers.get("origin")
    if origin is None:
        return True
    host = event.headers.get("host") or event.request_context.domain_name or ""
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def _read_form(event: APIGatewayProxyEventV2) -> dict[str, str]:
    raw = event.body or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("the form is too large")
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=40)
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise BadRequest("the form could not be read") from e
    return {k: v[0] for k, v in fields.items()}


def form() -> dict[str, str]:
    """The POSTed form, read once per request."""
    if "form" not in app.context:
        app.append_context(form=_read_form(app.current_event))  # type: ignore[no-untyped-call]
    fields: dict[str, str] = app.context["form"]
    return fields


def query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def guard(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Same-origin POSTs; a live session everywhere but the login and the static files; CSRF tokens."""
    event = app.current_event
    post = event.request_context.http.method.upper() == "POST"
    if post and not same_origin(event):
        return error_page(403, "This form came from another site; nothing was done.")
    if event.path.startswith(PUBLIC):
        return next_middleware(app)
    found = session_of(event, utcnow())
    if found is None:
        stale = presented_cookie(event) is not None
        return redirect(f"{ROOT}/login", cookie("", 0) if stale else None)
    app.append_context(session=found)  # type: ignore[no-untyped-call]
    log.append_keys(shop_id=found.shop_id, key_id=found.key_id)
    if post and not sessions.csrf_ok(dashboard().session_keys(), found, form().get("csrf"), utcnow()):
        return error_page(403, "This form has expired or did not come from this dashboard. Reload the page.")
    return next_middleware(app)


app.use(middlewares=[guard])


# --- errors -----------------------------------------------------------------------------------------


@app.exception_handler(CxloopError)  # type: ignore[untyped-decorator]
def _refused(e: CxloopError) -> Response[str]:
    return error_page(e.status, e.message)


@app.not_found
def _no_route(e: NotFoundError) -> Response[str]:
    return error_page(404, "There is no such page.")


# --- logging in and out -----------------------------------------------------------------------------


@app.get(ROOT)
def root() -> Response[str]:
    return redirect(f"{ROOT}/overview")


@app.get(f"{ROOT}/login")
def login_form() -> Response[str]:
    if session_of(app.current_event, utcnow()) is not None:
        return redirect(f"{ROOT}/overview")
    return render("login.html", title="Log in")


@app.post(f"{ROOT}/login")
def login() -> Response[str]:
    d = dashboard()
    key = keys.authenticate(d.keys, form().get("key", ""))
    if key is None:
        log.info("login refused")
        message = "That is not an active API key of a shop. Check it, or issue a new one."
        return render("login.html", 401, title="Log in", notice=message, warn=True)
    started = sessions.start(d.session_keys(), key.shop_id, key.key_id, utcnow())
    log.info("login", shop_id=key.shop_id, key_id=key.key_id)
    return redirect(f"{ROOT}/overview", cookie(started.token, sessions.SESSION_HOURS * 3600))


@app.post(f"{ROOT}/logout")
def logout() -> Response[str]:
    return redirect(f"{ROOT}/login", cookie("", 0))


# --- figures ----------------------------------------------------------------------------------------


@app.get(f"{ROOT}/overview")
def overview() -> Response[str]:
    found = service.overview(dashboard(), shop(), utcnow())
    return page("overview.html", "Overview", current="overview", view=found, kpis=views.kpis(found),
                charts=views.charts(found.metrics), themes=found.themes.themes[:8])  # fmt: skip


@app.get(f"{ROOT}/themes")
def themes() -> Response[str]:
    params = query()
    first, last = service.period(views.day(params, "from"), views.day(params, "to"), utcnow().date(), 28)
    report = service.themes(dashboard(), shop(), first, last)
    quarter_from = (last - timedelta(days=90)).isoformat()
    return page("themes.html", "Themes", current="themes", report=report, quarter_from=quarter_from)


# --- the feed and its exports -----------------------------------------------------------------------


def _exports(chosen: views.FeedForm) -> list[tuple[str, str]]:
    labels = {"responses": "survey answers", "reviews": "reviews"}
    return [(labels[n], views.link(f"{ROOT}/export/{n}.csv", chosen.params(views.EXPORT_FIELDS[n])))
            for n in views.exports(chosen)]  # fmt: skip


@app.get(f"{ROOT}/feed")
def feed() -> Response[str]:
    params = query()
    themes = service.theme_choices(dashboard(), shop(), utcnow().date())
    lists: dict[str, Any] = {"channels": views.CHANNELS, "bands": BANDS, "sentiments": views.SENTIMENTS,
                             "themes": themes, "badge": views.SENTIMENT_BADGE}  # fmt: skip
    try:
        chosen = views.feed_form(params, themes)
    except BadRequest as e:  # the form stays, with what was given and what was wrong
        return page("feed.html", "Feed", 400, current="feed", items=[], form=views.form_values(params),
                    older="", exports=[], notice=e.message, warn=True, refused=True, **lists)  # fmt: skip
    found = service.feed(dashboard(), shop(), chosen.query, views.PAGE_SIZE, views.cursor(params))
    older = views.link(f"{ROOT}/feed", {**chosen.params(), "cursor": found.next_cursor})
    return page("feed.html", "Feed", current="feed", items=found.items, form=chosen.values,
                older=older if found.next_cursor else "", exports=_exports(chosen), refused=False,
                **lists)  # fmt: skip


@app.get(f"{ROOT}/export/<name>")
def export(name: str) -> Response[str]:
    kind = name.removesuffix(".csv")
    if kind == name or kind not in views.EXPORT_FIELDS:
        raise NotFound("no such export")
    params = query()
    chosen = views.export_query(views.feed_form(params), kind)
    text, rest = service.export_csv(dashboard(), shop(), chosen, views.cursor(params))
    headers = {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": f'attachment; filename="{shop()}-{kind}-{utcnow():%Y%m%d}.csv"',
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    if rest:
        headers["x-next-cursor"] = rest
    return Response(status_code=200, body=text, headers=headers)


# --- cases ------------------------------------------------------------------------------------------


def _case_id(raw: str) -> str:
    decoded = unquote(raw)
    if not CASE_ID.match(decoded):
        raise NotFound("no such case")
    return decoded


def case_page(case: CaseView, notice: str = "", warn: bool = False, status: int = 200) -> Response[str]:
    return page("case.html", views.who(case), status, current="cases", case=case, notice=notice, warn=warn,
                badge=views.SENTIMENT_BADGE)  # fmt: skip


@app.get(f"{ROOT}/cases")
def cases() -> Response[str]:
    params = query()
    status = views.choice(params, "status", views.STATUSES)
    found = service.cases(dashboard(), shop(), status, views.PAGE_SIZE, views.cursor(params), utcnow())
    older = views.link(f"{ROOT}/cases", {"status": status, "cursor": found.next_cursor})
    today = utcnow().date()
    figures = service.service(dashboard(), shop(), today - timedelta(weeks=12) + timedelta(days=1), today)
    return page("cases.html", "Cases", current="cases", cases=found.items, chosen=status or "",
                statuses=views.STATUSES, older=older if found.next_cursor else "", who=views.who,
                service=figures, service_tiles=service_views.tiles(figures.total),
                service_weeks=service_views.weeks(figures))  # fmt: skip


@app.get(f"{ROOT}/cases/<raw_id>")
def case(raw_id: str) -> Response[str]:
    return case_page(service.case(dashboard(), shop(), _case_id(raw_id), utcnow()))


@app.post(f"{ROOT}/cases/<raw_id>")
def act(raw_id: str) -> Response[str]:
    d, case_id, fields = dashboard(), _case_id(raw_id), form()
    action = fields.get("action", "")
    try:
        if action not in views.ACTIONS:
            raise BadRequest("that request was not understood")
        text = views.reply_text(fields) if action in ("reply", "posted") else None
        done = service.act(d, shop(), case_id, action, utcnow(), text)
    except Conflict as e:
        return case_page(service.case(d, shop(), case_id, utcnow()), f"{str(e).capitalize()}.", True, 409)
    except BadRequest as e:
        return case_page(service.case(d, shop(), case_id, utcnow()), f"Nothing sent: {e}.", True, 400)
    log.info("case action", case_id=case_id, action=action, reply_state=done.reply_state)
    return case_page(done, views.outcome(done, action))


# --- customers --------------------------------------------------------------------------------------


@app.get(f"{ROOT}/at-risk")
def at_risk() -> Response[str]:
    params = query()
    found = service.at_risk(dashboard(), shop(), views.PAGE_SIZE, views.cursor(params), utcnow())
    older = views.link(f"{ROOT}/at-risk", {"cursor": found.next_cursor}) if found.next_cursor else ""
    return page("at_risk.html", "Customers at risk", current="at-risk", customers=found.items, older=older,
                found=found)  # fmt: skip


@app.get(f"{ROOT}/retention")
def retention() -> Response[str]:
    report = service.retention(dashboard(), shop(), utcnow())
    snap = report.snapshot
    offsets, heat = retention_views.heat_map(snap) if snap else ([], [])
    return page(
        "retention.html", "Retention", current="retention", snap=snap, definitions=report.definitions,
        kpis=retention_views.kpis(snap) if snap else [], offsets=offsets, heat=heat,
        chart=retention_views.churn_chart(snap) if snap else {},
        labels={s.segment: s.label for s in snap.segments} if snap else {},
        month_label=retention_views.month_label, pct=retention_views.percent,
        nps_text=retention_views.nps_text,
    )  # fmt: skip


@app.get(f"{ROOT}/suppressions")
def suppressions() -> Response[str]:
    params = query()
    found = service.suppressions(dashboard(), shop(), views.PAGE_SIZE, views.cursor(params))
    older = views.link(f"{ROOT}/suppressions", {"cursor": found.next_cursor}) if found.next_cursor else ""
    return page("suppressions.html", "Not surveyed", current="suppressions", entries=found.items, older=older)


# --- settings ---------------------------------------------------------------------------------------


def settings_page(notice: str = "", warn: bool = False, status: int = 200) -> Response[str]:
    d = dashboard()
    return page("settings.html", "Settings", status, current="settings", notice=notice, warn=warn,
                programme=d.feedback.programme(shop()), alerts=d.notifier.alert_settings(shop(), fresh=True),
                reply_modes=views.REPLY_MODES)  # fmt: skip


@app.get(f"{ROOT}/settings")
def settings() -> Response[str]:
    return settings_page()


@app.post(f"{ROOT}/settings")
def save_settings() -> Response[str]:
    try:
        change = views.settings_change(form())
    except BadRequest as e:
        return settings_page(f"Not saved: {e}.", True, 400)
    d = dashboard()
    programme = d.feedback.programme(shop())
    if programme is not None and programme.enabled != change.survey_enabled:
        d.feedback.save_programme(shop(), programme.model_copy(update={"enabled": change.survey_enabled}))
    alerts = d.notifier.alert_settings(shop(), fresh=True)
    update = {"reply_mode": change.reply_mode, "first_reply_target_hours": change.first_reply_target_hours}
    d.notifier.save_alert_settings(shop(), alerts.model_copy(update=update))
    log.info("settings saved", reply_mode=change.reply_mode.value, surveys=change.survey_enabled)
    return settings_page("Saved.")


# --- the survey editor -----------------------------------------------------------------------------


def editor_page(values: dict[str, str], errors: dict[str, list[str]] | None = None, notice: str = "",
                warn: bool = False, status: int = 200) -> Response[str]:  # fmt: skip
    """The form with ``values``, each error next to its field, and the preview of exactly these values."""
    errors = errors or {}
    shown = {k: v for k, v in values.items() if v}
    preview = views.link(f"{ROOT}/settings/surveys/preview", shown)
    general = "; ".join(errors.get(survey_form.GENERAL, []))
    return page("survey_editor.html", "Survey", status, current="settings", values=values, errors=errors,
                fields=survey_form.FIELDS, preview=preview, notice=notice or general,
                warn=warn or bool(general), types=("nps", "csat", "ces"), languages=LANGUAGES,
                per_hour=survey_form.TEST_SENDS_PER_HOUR)  # fmt: skip


@app.get(f"{ROOT}/settings/surveys")
def survey_editor_form() -> Response[str]:
    return editor_page(survey_form.values(survey_editor.starting_document(dashboard(), shop())))


@app.post(f"{ROOT}/settings/surveys")
def survey_editor_post() -> Response[str]:
    d, fields = dashboard(), form()
    action = fields.get("action", "")
    values = survey_form.echo(fields)
    try:
        if action == "save":
            saved = survey_editor.save(d, shop(), fields)
            log.info("survey programme saved", survey_type=saved.survey_type.value, enabled=saved.enabled)
            return editor_page(survey_form.values(saved.model_dump(mode="json")), notice="Saved.")
        if action == "test":
            owner = survey_editor.send_test(d, shop(), fields, utcnow())
            log.info("survey test sent")
            notice = (
                f"A test e-mail went to {owner}. Its links record nothing; it is not counted as a survey."
            )
            return editor_page(values, notice=notice)
        if action == "preview":
            survey_editor.draft(d, shop(), fields)
            return editor_page(values)
        raise BadRequest("that request was not understood")
    except survey_editor.FormInvalid as e:
        what = {"save": "Not saved", "test": "Not sent"}.get(action, "No preview")
        return editor_page(values, e.errors, f"{what}: see the fields marked below.", True, 400)
    except CxloopError as e:
        what = {"save": "Not saved", "test": "Not sent"}.get(action, "Not possible")
        return editor_page(values, notice=f"{what}: {e.message}.", warn=True, status=e.status)


@app.get(f"{ROOT}/settings/surveys/preview")
def survey_preview() -> Response[str]:
    """The e-mail as a customer gets it, for the editor's iframes (its own sandboxing CSP)."""
    try:
        programme = survey_editor.draft(dashboard(), shop(), query())
    except survey_editor.FormInvalid as e:
        body = _env().get_template("survey_preview_invalid.html").render(errors=e.errors)
        return Response(status_code=200, body=body, headers=PREVIEW_HEADERS)
    return Response(status_code=200, body=survey_editor.preview(dashboard(), programme).html,
                    headers=PREVIEW_HEADERS)  # fmt: skip


@app.get(f"{ROOT}/survey-test")
def survey_test_link() -> Response[str]:
    """Where a test e-mail's links lead: a page that says so and records nothing (no login needed)."""
    params = query()
    score = params.get("score", "")
    chosen = score if score.isdigit() and len(score) <= 2 else ""
    return render("survey_test.html", title="Test e-mail", score=chosen, unsubscribe="unsubscribe" in params)


# --- static files -----------------------------------------------------------------------------------


@cache
def _asset(name: str) -> str:
    return (HERE / "static" / name).read_text(encoding="utf-8")


@app.get(f"{ROOT}/static/<name>")
def static(name: str) -> Response[str]:
    kind = ASSETS.get(name)
    if kind is None:
        raise NotFound("no such file")
    headers = {"content-type": kind, "cache-control": CACHE_STATIC, "x-content-type-options": "nosniff"}
    return Response(status_code=200, body=_asset(name), headers=headers)


@log.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = app.resolve(event, context)
    except Exception:
        log.exception("dashboard page failed")
        return http.retry_later(UNAVAILABLE, HEADERS, retry_after_s=5)
    log.info("page", path=event.get("rawPath"), status=response.get("statusCode"))
    return response
