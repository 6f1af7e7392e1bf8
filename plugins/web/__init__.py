"""The web chat channel: an embeddable widget talking to the hub over a websocket."""

from __future__ import annotations

from collections.abc import Callable

from hub.channel import Channel
from hub.hookspecs import hookimpl


@hookimpl
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    from plugins.web.channel import WebChatChannel

    register(WebChatChannel)
