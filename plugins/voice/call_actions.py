"""What every action on a live call stands on: the hub, the calls it follows, the settings,
and the shared Event Socket connection, with the switch's refusals in words for people."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.errors import ChannelError, HubError

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.config import VoiceConfig
    from plugins.voice.esl.connection import EslConnection
    from plugins.voice.live_calls import LiveCalls

log = logging.getLogger("contacthub.channel.voice")


class CallActions:
    """Base of the call control, supervision, consultation and dialling."""

    def __init__(self, hub: Hub, calls: LiveCalls, config: VoiceConfig,
                 connection: Callable[[], EslConnection | None]) -> None:
        self.hub = hub
        self.calls = calls
        self.config = config
        self._connection = connection

    def connection(self) -> EslConnection:
        """The shared connection, or ``ChannelError`` the agent can act on while it is down."""
        connection = self._connection()
        if connection is None:
            raise ChannelError("the phone system is not connected; try again in a moment")
        return connection

    async def api(self, command: str) -> str:
        """Run an api command; the switch's refusal becomes a ``ChannelError`` with its words."""
        connection = self.connection()
        try:
            return await connection.api(command)
        except HubError as err:
            raise ChannelError(f"the phone system refused: {err}") from err

    async def quietly(self, command: str) -> None:
        """Run a command whose failure changes nothing (hanging up a leg that may be gone)."""
        try:
            await self.api(command)
        except ChannelError as err:
            log.info("voice: %s: %s", command, err)
