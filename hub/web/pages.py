"""Server-rendered pages: login, logout, and the agent inbox shell."""

from __future__ import annotations

import secrets

from aiohttp import web

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


def install(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/inbox" if login_of(request) else "/login")


def _safe_next(target: str) -> str:
    """Only same-site paths: ``//evil.test`` or ``https://...`` would be an open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/inbox"


async def login_form(request: web.Request) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    body = (
        "<!doctype html><form method=post action=/login>"
        f"<input type=hidden name=_csrf value={token}>"
        "<input name=number><input name=password type=password><button>Log in</button></form>"
    )
    response = web.Response(text=body, content_type="text/html")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return response


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
        return web.json_response(
            {"error": "too_many_attempts", "message": f"too many failed logins; try again in {wait} s"},
            status=429, headers={"Retry-After": str(wait)},
        )
    agent = await authenticate(core, number, password)
    if agent is None:
        throttle.failed(f"number:{number}", f"ip:{ip}")
        await audit(core, None, "login.failed", f"agent:{number}", ip=ip)
        return web.json_response(
            {"error": "bad_login", "message": "agent number or password is wrong"}, status=401
        )
    throttle.succeeded(f"number:{number}")
    token = await open_session(core, agent, ip)
    await audit(core, agent, "login", f"agent:{agent.number}", ip=ip)
    response = web.HTTPFound(_safe_next(request.query.get("next", "/inbox")))
    set_session_cookie(response, core, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    login = login_of(request)
    response = web.HTTPFound("/login")
    if login is not None:
        core = request.app[CORE]
        await close_session(core, login.token_hash)
        await audit(core, login.agent, "logout", f"agent:{login.agent.number}", ip=client_ip(request))
    response.del_cookie("contacthub_session", path="/")
    raise response
