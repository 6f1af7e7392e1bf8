"""Request middlewares: who is calling, CSRF on every state change, errors as stable JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.errors import HubError, InvalidRequest, PermissionDenied
from hub.models import Agent, AgentRole
from hub.web.auth import CSRF_HEADER, LOGIN_CSRF_COOKIE, Login, csrf_ok, has_role, load_login
from hub.web.keys import CORE

log = logging.getLogger("contacthub.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Channel webhooks, the chat widget and the worker relay authenticate with their own
# signatures and tokens and are not called from agents' pages; agents' pages and API are.
NO_SESSION_PREFIXES = ("/channels/", "/internal/")
LOGIN: web.RequestKey[Login | None] = web.RequestKey("login", Login)


class NotLoggedIn(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("not_logged_in", "log in first", status=401)


def login_of(request: web.Request) -> Login | None:
    return request.get(LOGIN)


def require(request: web.Request, role: AgentRole = AgentRole.AGENT) -> Agent:
    """The logged-in agent, if their role is at least ``role``; 401/403 otherwise."""
    login = login_of(request)
    if login is None:
        raise NotLoggedIn()
    if not has_role(login.agent, role):
        raise PermissionDenied(f"this needs the {role} role")
    return login.agent


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the hub's errors into JSON (API) or a short page; never leak a traceback."""
    try:
        return await handler(request)
    except InvalidRequest as err:
        if err.status == 401 and _wants_html(request):
            raise web.HTTPFound(f"/login?next={request.path_qs}") from err
        log.info("%s %s refused: %s (%s)", request.method, request.path, err.error_id, err.message)
        return web.json_response({"error": err.error_id, "message": err.message}, status=err.status)
    except HubError as err:
        log.warning("%s %s failed: %s", request.method, request.path, err)
        return web.json_response({"error": "unavailable", "message": str(err)}, status=503)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s crashed", request.method, request.path)
        return web.json_response(
            {"error": "internal", "message": "something went wrong on our side; it is logged"},
            status=500,
        )


def _wants_html(request: web.Request) -> bool:
    return request.method == "GET" and not request.path.startswith("/api/") \
        and "text/html" in request.headers.get("Accept", "")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the login, and refuse a state change that does not carry its CSRF token."""
    if request.path.startswith(NO_SESSION_PREFIXES):
        return await handler(request)
    login = await load_login(request.app[CORE], request)
    request[LOGIN] = login
    if request.method in UNSAFE:
        await _check_csrf(request, login)
    return await handler(request)


async def _check_csrf(request: web.Request, login: Login | None) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                  "multipart/form-data"):
        given = str((await request.post()).get("_csrf", ""))
    # Before login the token is a random value double-submitted as cookie and form field.
    expected = login.csrf_token if login is not None else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_ok(expected, given):
        raise InvalidRequest("csrf_failed",
                             "the form has expired or came from another site; reload the page",
                             status=403)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not request.path.startswith("/channels/"):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
