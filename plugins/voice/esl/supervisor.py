"""Keeping the inbound connection up: reconnect with backoff, say so once each way.

After every (re)connect ``on_connected`` runs with the new connection: the voice channel
subscribes, sets its filters and reconciles its calls (``EslConnection.channels``), since
events sent while it was away are lost for good. A lost connection is logged once as a
warning, further failed attempts only at debug level, and the recovery once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from hub.errors import AuthFailed
from plugins.voice.esl.connection import EslConnection
from plugins.voice.esl.errors import ConnectionLost

log = logging.getLogger("contacthub.channel.voice.esl")

Connect = Callable[[], Awaitable[EslConnection]]
OnConnected = Callable[[EslConnection], Awaitable[None]]


class Supervisor:
    """Holds one inbound connection open for as long as ``run`` runs."""

    def __init__(self, connect: Connect, on_connected: OnConnected, *, label: str = "FreeSWITCH",
                 first_delay: float = 1.0, max_delay: float = 60.0, refused_delay: float = 300.0,
                 announce: bool = True) -> None:
        self.connect = connect
        self.on_connected = on_connected
        self.label = label
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.refused_delay = refused_delay
        """The wait after the password was refused: the same password will be refused again."""
        self.announce = announce
        """Log down and back (once each); False when the owner's health line says it already."""
        self.answered = asyncio.Event()
        """Set once the first attempt came up or failed: start-up waits for this, not longer."""
        self.connection: EslConnection | None = None
        """The live connection, None while down."""
        self.up = asyncio.Event()
        self.error: Exception | None = None
        """Why the last attempt or connection failed; None while up."""
        self._reported_down = False

    async def run(self) -> None:
        """Connect, hand over, wait for the loss, back off, again; until cancelled."""
        delay = self.first_delay
        while True:
            came_up = False
            try:
                came_up = await self._session()
            except asyncio.CancelledError:
                raise
            except AuthFailed as err:
                # The same password will be refused again: do not hammer the server with it.
                self._down(err)
                await asyncio.sleep(self.refused_delay)
                continue
            except Exception as err:
                self._down(err)
            if came_up:
                delay = self.first_delay
            await asyncio.sleep(min(delay * random.uniform(1.0, 1.25), self.max_delay))
            delay = min(delay * 2, self.max_delay)

    async def _session(self) -> bool:
        """One connection's life: True once it came up and was lost again; raises when it
        could not be set up (connect or ``on_connected`` failed)."""
        connection = await self.connect()
        try:
            await self.on_connected(connection)
            self.connection = connection
            self._up()
            await connection.wait_closed()
        finally:
            self.connection = None
            self.up.clear()
            await connection.close()
        self._down(connection.error or ConnectionLost(f"the connection to {self.label} was closed"))
        return True

    def _up(self) -> None:
        self.answered.set()
        if self._reported_down and self.announce:
            log.info("voice: %s is back", self.label)
        self._reported_down = False
        self.error = None
        self.up.set()

    def _down(self, err: Exception) -> None:
        self.error = err
        self.answered.set()
        if self._reported_down:
            log.debug("voice: %s is still down: %s", self.label, err)
            return
        self._reported_down = True
        if self.announce:
                log.warning("voice: %s is down (%s); reconnecting with backoff", self.label, err)
