"""Typed keys for what the aiohttp app and its requests carry."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.web.agent_ws import InboxFanout
    from hub.web.auth import LoginThrottle
    from hub.web.openapi import ApiRegistry

CORE: web.AppKey[HubCore] = web.AppKey("core")
API: web.AppKey[ApiRegistry] = web.AppKey("api")
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("throttle")
INBOX: web.AppKey[InboxFanout] = web.AppKey("inbox")
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
