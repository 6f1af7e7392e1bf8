"""Endpoints other hub processes call: the event relay from Celery workers."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from hub.events import relay_signature
from hub.web.keys import CORE

MAX_RELAY_BYTES = 1024 * 1024


async def relay_events(request: web.Request) -> web.StreamResponse:
    """POST /internal/events: a signed event from a worker, fanned out to this process's screens."""
    core = request.app[CORE]
    body = await _read_body(request)
    expected = relay_signature(core.settings.secret_key.encode(), body)
    if not hmac.compare_digest(expected, request.headers.get("X-Relay-Signature", "")):
        raise web.HTTPForbidden(text="bad relay signature")
    try:
        envelope = json.loads(body)
        topic, payload = str(envelope["topic"]), dict(envelope["payload"])
    except (ValueError, KeyError, TypeError) as err:
        raise web.HTTPBadRequest(text="relay body must be {topic, payload}") from err
    await core.bus.deliver_local(topic, payload)
    return web.Response(status=204)


async def _read_body(request: web.Request) -> bytes:
    """The whole body, refused past MAX_RELAY_BYTES. ``content.read(n)`` returns whatever has
    arrived so far, not n bytes, so a body in several TCP segments is read until its end."""
    declared = request.content_length
    if declared is not None and declared > MAX_RELAY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_RELAY_BYTES, actual_size=declared)
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > MAX_RELAY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_RELAY_BYTES, actual_size=len(body))
    return bytes(body)


def install(app: web.Application) -> None:
    app.router.add_post("/internal/events", relay_events)
