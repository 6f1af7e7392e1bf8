"""Voice channel: FreeSWITCH over the Event Socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.channel import Channel
from hub.hookspecs import hookimpl

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.messages import InboundMessage


@hookimpl
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    from plugins.voice.channel import VoiceChannel

    register(VoiceChannel)


@hookimpl
def hub_pick_queue(hub: Hub, interaction: dict[str, Any], message: InboundMessage) -> str | None:
    """A call waits in the queue its caller chose in the IVR."""
    if message.channel != "voice":
        return None
    queue = message.meta.get("queue")
    return str(queue) if queue else None
