"""Server-rendered pages: login, logout, the agent inbox shell, the work orders shell, the
supervisors' wallboard, static files and JS catalogs."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.dates import format_date, format_datetime, format_timedelta

import hub
from hub.i18n import SUPPORTED, catalog_dict, negotiate, translations
from hub.inbox import is_supervisor
from hub.models import utcnow
from hub.web.access import login_of
from hub.web.auth import (
    LOGIN_CSRF_COOKIE,
    audit,
    authenticate,
    client_ip,
    close_session,
    open_session,
    set_session_cookie,
)
from hub.web.keys import CORE, THROTTLE

WEB_DIR = Path(__file__).parent
LOCALE_DIR = Path(hub.__file__).parent / "locale"
DOMAIN = "messages"
LOCALE_COOKIE = "contacthub_locale"
# One Jinja2 environment per locale, each with its own gettext installed: a render never
# borrows another request's language.
TEMPLATES: dict[str, web.AppKey[jinja2.Environment]] = {
    code: web.AppKey(f"templates_{code}", jinja2.Environment) for code in SUPPORTED
}


def _(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def install(app: web.Application) -> None:
    """Register the pages, the static files and the JS catalogs, and set up the templates."""
    for code, key in TEMPLATES.items():
        env = aiohttp_jinja2.setup(
            app, app_key=key, autoescape=True, extensions=["jinja2.ext.i18n"],
            loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        )
        env.install_gettext_translations(translations(LOCALE_DIR, DOMAIN, code), newstyle=True)  # type: ignore[attr-defined]
        env.filters["datetime"] = _datetime_filter(code)
        env.filters["date"] = _date_filter(code)
        env.filters["timedelta"] = _timedelta_filter(code)
    app.router.add_get("/", index)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/inbox", inbox_page)
    app.router.add_get("/tickets", tickets_page)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/i18n/{locale}.json", js_catalog)
    app.router.add_static("/static/", WEB_DIR / "static", name="static", append_version=True)


def _datetime_filter(code: str) -> Any:
    def fmt(value: datetime, form: str = "medium") -> str:
        return format_datetime(value, form, locale=code)
    return fmt


def _date_filter(code: str) -> Any:
    def fmt(value: datetime, form: str = "full") -> str:
        return format_date(value, form, locale=code)
    return fmt


def _timedelta_filter(code: str) -> Any:
    def fmt(value: timedelta) -> str:
        return format_timedelta(value, locale=code)
    return fmt


def locale_of(request: web.Request) -> str:
    """The agent's own choice, else the language cookie, else the browser's languages."""
    login = login_of(request)
    if login is not None and login.agent.locale in SUPPORTED:
        return login.agent.locale
    cookie = request.cookies.get(LOCALE_COOKIE, "")
    if cookie in SUPPORTED:
        return cookie
    default = request.app[CORE].settings.default_locale
    return negotiate(request.headers.get("Accept-Language", ""), default=default)


def gettext_for(locale: str) -> Any:
    return translations(LOCALE_DIR, DOMAIN, locale).gettext


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200,
           locale: str | None = None) -> web.Response:
    locale = locale or locale_of(request)
    context = {"locale": locale, "html_lang": locale.replace("_", "-"), "locales": _LOCALE_NAMES,
               **context}
    response = aiohttp_jinja2.render_template(template, request, context, status=status,
                                              app_key=TEMPLATES[locale])
    response.headers["Cache-Control"] = "no-store"
    return response


_LOCALE_NAMES = (("en", "English"), ("zh_CN", "简体中文"))


async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask every site for /favicon.ico, pages embedding the widget included."""
    raise web.HTTPMovedPermanently("/static/favicon.svg")


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/inbox" if login_of(request) else "/login")


def _safe_next(target: str) -> str:
    """Only same-site paths: ``//evil.test`` or ``https://...`` would be an open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/inbox"


async def login_form(request: web.Request) -> web.StreamResponse:
    locale = request.query.get("lang", "")
    if login_of(request) is not None and not locale:
        raise web.HTTPFound(_safe_next(request.query.get("next", "/inbox")))
    return _login_page(request, locale=locale if locale in SUPPORTED else None)


def _login_page(request: web.Request, *, error: str = "", status: int = 200,
                locale: str | None = None, number: str = "") -> web.Response:
    token = secrets.token_urlsafe(24)
    next_path = _safe_next(request.query.get("next", "/inbox"))
    shown = locale or locale_of(request)
    response = render(request, "login.html", {
        "csrf": token, "error": error, "next": next_path, "number": number,
    }, status=status, locale=shown)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    if locale:
        response.set_cookie(LOCALE_COOKIE, locale, samesite="Lax", path="/", max_age=365 * 86400)
    return response


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


async def login_submit(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE]
    form = await request.post()
    number = str(form.get("number", "")).strip()[:20]
    password = str(form.get("password", ""))
    ip = client_ip(request)
    throttle = request.app[THROTTLE]
    wait = throttle.retry_after(f"number:{number}", f"ip:{ip}")
    if wait:
        await audit(core, None, "login.throttled", f"agent:{number}", ip=ip)
        message = gettext_for(locale_of(request))(_("Too many failed logins; try again in %(seconds)s s."))
        return _login_failed(request, "too_many_attempts", message % {"seconds": wait}, 429,
                             number, {"Retry-After": str(wait)})
    agent = await authenticate(core, number, password)
    if agent is None:
        throttle.failed(f"number:{number}", f"ip:{ip}")
        await audit(core, None, "login.failed", f"agent:{number}", ip=ip)
        message = gettext_for(locale_of(request))(_("The agent number or password is wrong."))
        return _login_failed(request, "bad_login", message, 401, number)
    throttle.succeeded(f"number:{number}")
    token = await open_session(core, agent, ip)
    await audit(core, agent, "login", f"agent:{agent.number}", ip=ip)
    response = web.HTTPFound(_safe_next(request.query.get("next", "/inbox")))
    set_session_cookie(response, core, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


def _login_failed(request: web.Request, error: str, message: str, status: int, number: str,
                  headers: dict[str, str] | None = None) -> web.Response:
    """The login page again with the reason, or JSON for a client that asked for it."""
    if _wants_json(request):
        response = web.json_response({"error": error, "message": message}, status=status)
    else:
        response = _login_page(request, error=message, status=status, number=number)
    response.headers.update(headers or {})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    login = login_of(request)
    response = web.HTTPFound("/login")
    if login is not None:
        core = request.app[CORE]
        await close_session(core, login.token_hash)
        await audit(core, login.agent, "logout", f"agent:{login.agent.number}", ip=client_ip(request))
    response.del_cookie("contacthub_session", path="/")
    raise response


async def inbox_page(request: web.Request) -> web.StreamResponse:
    login = login_of(request)
    if login is None:
        raise web.HTTPFound(f"/login?next={request.path_qs}")
    return render(request, "inbox.html", {
        "agent": login.agent, "csrf": login.csrf_token, "now": utcnow(),
        "supervisor": is_supervisor(login.agent),
    })


async def tickets_page(request: web.Request) -> web.StreamResponse:
    """Work orders: mine, my unit's and the search, beside one ticket's detail."""
    login = login_of(request)
    if login is None:
        raise web.HTTPFound(f"/login?next={request.path_qs}")
    return render(request, "tickets.html", {
        "agent": login.agent, "csrf": login.csrf_token, "supervisor": is_supervisor(login.agent),
    })


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    """Supervisors' live view of queues, service levels and agents; agents are refused."""
    login = login_of(request)
    if login is None:
        raise web.HTTPFound(f"/login?next={request.path_qs}")
    if not is_supervisor(login.agent):
        message = gettext_for(locale_of(request))(_("The wallboard is for supervisors."))
        raise web.HTTPForbidden(text=message)
    return render(request, "wallboard.html", {"agent": login.agent, "csrf": login.csrf_token})


async def js_catalog(request: web.Request) -> web.StreamResponse:
    """The JS side of the catalog: msgid -> translation, for ``_()`` in the scripts."""
    locale = request.match_info["locale"]
    if locale not in SUPPORTED:
        raise web.HTTPNotFound(text="no catalog for that language")
    return web.json_response(catalog_dict(LOCALE_DIR, DOMAIN, locale),
                             headers={"Cache-Control": "no-cache"})
