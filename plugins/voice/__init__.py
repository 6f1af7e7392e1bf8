"""Voice channel: FreeSWITCH over the Event Socket."""

from __future__ import annotations

from collections.abc import Callable

from hub.channel import Channel
from hub.hookspecs import hookimpl


@hookimpl
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    from plugins.voice.channel import VoiceChannel

    register(VoiceChannel)
