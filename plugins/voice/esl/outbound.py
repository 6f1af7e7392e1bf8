"""Outbound ESL: FreeSWITCH's ``socket`` application dials us, one connection per call.

FreeSWITCH connects and waits, silent, for ``connect``; the reply carries the channel
data (reference 1.9). The session then asks for its channel's events (``myevents json``)
and to linger, so the events fired after the hangup (CHANNEL_HANGUP_COMPLETE with billsec)
still arrive before the socket closes (1.10). Dialplan recommendation: ``socket
<host>:<port> async full``; without ``full`` there is no ``linger`` and no ``api``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from uuid import uuid4

from hub.errors import ChannelError, HubError
from plugins.voice.esl import frames
from plugins.voice.esl.errors import CommandError, ConnectionLost
from plugins.voice.esl.events import Event, channel_data
from plugins.voice.esl.frames import Message
from plugins.voice.esl.link import Link, Options

log = logging.getLogger("contacthub.channel.voice.esl")
_HANGUP = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})

Handler = Callable[["OutboundSession"], Awaitable[None]]


class OutboundSession(Link):
    """One call handed to us by the ``socket`` application, after the handshake."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                 options: Options | None = None) -> None:
        super().__init__(reader, writer, peer, options)
        self.channel = Event("CHANNEL_DATA", {})
        """The channel as it was when FreeSWITCH connected (``connect`` reply)."""
        self.socket_mode = ""
        """``async`` or ``static``: in static mode a sendmsg is answered when its app ends."""
        self.control = ""
        """``full``, or ``single-channel`` without the ``full`` flag (no api, no linger)."""
        self.lingering = False
        """Whether FreeSWITCH agreed to linger after the hangup."""
        self.hungup = asyncio.Event()
        """Set once the channel hung up (its events keep coming while lingering)."""

    @property
    def uuid(self) -> str:
        return self.channel.unique_id or ""

    async def handshake(self, linger: int | None = 10, *, reply_seconds: float = 5.0) -> None:
        """``connect``, ``myevents json``, ``resume`` and ``linger``; then the session is ready.

        ``resume``: if this socket closes (the hub restarts), the call goes on in the dialplan
        instead of being hung up; a caller talking to an agent keeps talking."""
        self._start()
        reply = await self.request("connect", reply_seconds=reply_seconds)
        if not reply.reply_text.startswith("+OK"):
            raise CommandError("connect", reply.reply_text.strip())
        self.channel = channel_data(reply)
        self.socket_mode = reply.header("Socket-Mode") or ""
        self.control = reply.header("Control") or ""
        await self.command("myevents json", reply_seconds=reply_seconds)
        await self.command("resume", reply_seconds=reply_seconds)
        if linger is not None:
            await self._linger_for(linger, reply_seconds)
        self._watch_peer()

    async def _linger_for(self, seconds: int, reply_seconds: float) -> None:
        try:
            await self.command(f"linger {int(seconds)}", reply_seconds=reply_seconds)
        except CommandError as err:
            log.debug("%s: no linger (%s): events after the hangup may be lost", self.peer, err)
            return
        self.lingering = True

    async def sendmsg(self, app: str, arg: str | None = None, *, event_uuid: str | None = None,
                      event_lock: bool = False, reply_seconds: float | None = None) -> str:
        """Queue ``app`` on this call; returns the Event-UUID that comes back as
        ``Application-UUID`` on its CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE."""
        event_uuid = event_uuid or str(uuid4())
        await self.command(frames.sendmsg(app, arg, event_uuid=event_uuid, event_lock=event_lock),
                           reply_seconds=reply_seconds)
        return event_uuid

    async def execute(self, app: str, arg: str | None = None, *, event_uuid: str | None = None,
                      event_lock: bool = False, reply_seconds: float | None = None) -> Event:
        """Run ``app`` and return its CHANNEL_EXECUTE_COMPLETE (``Application-Response``,
        the variables it set); ``ChannelError`` if the call ends before the app runs.

        Bound the whole run with ``asyncio.timeout``. In static mode FreeSWITCH replies
        only when the app has finished, so there ``reply_seconds`` must cover the app."""
        event_uuid = event_uuid or str(uuid4())
        # Registered before sending, so the event is caught whether it comes before or after
        # the reply (in static mode the reply waits for the app).
        done = self._await_event(f"app {event_uuid}")
        try:
            await self.sendmsg(app, arg, event_uuid=event_uuid, event_lock=event_lock,
                               reply_seconds=reply_seconds)
            return await done
        finally:
            done.cancel()

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        await self.command(frames.hangup(cause))

    async def getvar(self, name: str) -> str | None:
        """A channel variable; None when unset (FreeSWITCH answers an empty value as
        ``-ERR command not found``, so the two cannot be told apart)."""
        text = (await self.request(f"getvar {name}")).reply_text
        return None if text == "-ERR command not found" else text

    def _claim(self, event: Event) -> bool:
        if event.name in _HANGUP:
            self.hungup.set()
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            self._fail_apps()
        if event.name == "CHANNEL_EXECUTE_COMPLETE":
            return self._resolve(f"app {event.get('Application-UUID')}", event)
        return super()._claim(event)

    def _fail_apps(self) -> None:
        # An app still waiting now was queued but never ran: nothing will complete it.
        for key, future in list(self._waiters.items()):
            if key.startswith("app ") and not future.done():
                future.set_exception(ChannelError(f"the call {self.uuid} hung up before the application ran"))
                future.exception()  # raised in ``execute``; no GC warning if that gave up first

    def _linger(self, message: Message) -> None:
        self.hungup.set()


class OutboundServer:
    """Accepts FreeSWITCH's outbound connections and runs ``handler`` for each call.

    At most ``max_sessions`` at once: one more is closed at once, and FreeSWITCH goes on
    with the next dialplan action (plan a fallback there). A connection that fails its
    handshake or sends a bad frame is dropped alone, with one log line."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 8084,
                 max_sessions: int = 200, linger: int | None = 10, handshake_seconds: float = 5.0,
                 options: Options | None = None) -> None:
        self.handler = handler
        self.host, self.requested_port = host, port
        self.max_sessions = max_sessions
        self.linger = linger
        self.handshake_seconds = handshake_seconds
        self.options = options
        self.sessions: set[OutboundSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._full_reported = False

    @property
    def port(self) -> int:
        """The port listened on (the real one when asked for port 0)."""
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.requested_port)

    async def close(self) -> None:
        """Stop listening and close every session; handlers see ``ConnectionLost``."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            await session.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> OutboundServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername") or ("?", 0)
        peer = f"FreeSWITCH at {address[0]}:{address[1]} (outbound)"
        if len(self.sessions) >= self.max_sessions:
            self._refuse(writer, peer)
            return
        self._full_reported = False
        session = OutboundSession(reader, writer, peer, self.options)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(session)
        self._tasks.add(task)
        try:
            await self._run(session)
        except asyncio.CancelledError:
            # Only ``close`` cancels this task; the server's stream callback would report a
            # cancelled handler as an error.
            pass
        finally:
            self.sessions.discard(session)
            self._tasks.discard(task)
            await session.close()

    async def _run(self, session: OutboundSession) -> None:
        try:
            await session.handshake(self.linger, reply_seconds=self.handshake_seconds)
        except HubError as err:
            log.warning("voice: %s dropped during the handshake: %s", session.peer, err)
            return
        try:
            await self.handler(session)
        except ConnectionLost:
            pass  # the session's own error says why, below
        except HubError as err:
            log.warning("voice: %s (call %s): %s", session.peer, session.uuid, err)
            return
        except Exception:
            log.exception("voice: the handler for call %s failed", session.uuid)
            return
        # A call ends with FreeSWITCH's disconnect-notice; anything else broke the connection.
        if session.error is not None and session.notice is None:
            log.warning("voice: %s (call %s) dropped: %s", session.peer, session.uuid, session.error)

    def _refuse(self, writer: asyncio.StreamWriter, peer: str) -> None:
        if not self._full_reported:
            log.warning("voice: %d outbound calls at once, the limit; refusing %s and any more "
                        "until one ends", self.max_sessions, peer)
            self._full_reported = True
        writer.close()
