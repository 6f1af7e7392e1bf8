"""The aiohttp application: core life cycle, middlewares, API, pages, channel webhooks."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from aiohttp import web

from hub.core import HubCore
from hub.outbound import redeliver_pending
from hub.routing.states import TOPIC as STATES_TOPIC
from hub.routing.topics import BOARD
from hub.tickets.outages import TOPIC as OUTAGES
from hub.web import (  # noqa: F401  (their routes join the API)
    controls_api,
    message_html,
    outages_api,
    routing_api,
    tickets_admin,
    tickets_admin_org,
    tickets_api,
)
from hub.web.access import errors_middleware, headers_middleware, session_middleware
from hub.web.agent_ws import InboxFanout, agent_socket, close_sockets
from hub.web.api import api
from hub.web.auth import LoginThrottle
from hub.web.keys import API, CORE, INBOX, SOCKETS, THROTTLE


def create_app(core: HubCore, *, manage_core: bool = True) -> web.Application:
    """The web app for ``core``; with ``manage_core`` the app starts and stops the core."""
    app = web.Application(
        middlewares=[headers_middleware, errors_middleware, session_middleware],
        client_max_size=core.settings.upload_max_bytes + 64 * 1024,
    )
    app[CORE] = core
    app[API] = api.with_channel_admin(core.channels)
    app[THROTTLE] = LoginThrottle(core.settings.login_attempts_per_minute)
    app[SOCKETS] = weakref.WeakSet()
    app[INBOX] = InboxFanout()
    core.bus.subscribe("inbox", app[INBOX].on_event)
    core.bus.subscribe(STATES_TOPIC, app[INBOX].on_state)
    for topic in (BOARD, "supervisors"):
        core.bus.subscribe(topic, app[INBOX].to_supervisors)
    core.bus.subscribe(OUTAGES, app[INBOX].to_everyone)
    if manage_core:
        app.cleanup_ctx.append(_core_life)
    app.on_shutdown.append(close_sockets)
    app[API].install(app)
    app.router.add_get("/ws/agent", agent_socket)
    from hub.web import internal, pages

    pages.install(app)
    internal.install(app)
    for name, channel in core.channels.items():
        sub = channel.routes()
        if sub is not None:
            app.add_subapp(f"/channels/{name}/", sub)
    return app


async def _core_life(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    await core.start()
    await redeliver_pending(core)
    yield
    await core.stop()
