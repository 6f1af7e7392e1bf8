"""One ESL connection, whichever side dialled: replies, events, liveness, closing.

FreeSWITCH answers commands strictly in the order it read them, and writes queued events
whenever it waits for the next command, so events can come before, between and after
replies (reference 1.7). The reader therefore hands every reply to the oldest waiting
command and every event to a bounded stream, and never waits for either consumer.

Slow consumers: the stream holds at most ``Options.max_events`` events. When it is full
the connection is dropped (logged once) and the stream ends with ``ConnectionLost`` after
the events already in it. Blocking the reader instead would also hold back the replies a
consumer may be awaiting (a deadlock), and dropping events silently would leave a call
that never hangs up in the hub; FreeSWITCH itself drops events and then the listener when
a client does not read (1.10). A dropped connection is explicit: the supervisor reconnects
and the channel reconciles its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

from hub.errors import AuthFailed, HubError, InvalidRequest
from plugins.voice.esl.delivery import EventStream, Job, checked
from plugins.voice.esl.errors import CommandError, ConnectionLost, FrameError
from plugins.voice.esl.events import Event, parse_event
from plugins.voice.esl.frames import MAX_BODY_BYTES, MAX_HEADER_BYTES, Command, FrameParser, Message

log = logging.getLogger("contacthub.channel.voice.esl")
_REPLIES = frozenset({"command/reply", "api/response", "auth/request"})
_EVENTS = frozenset({"text/event-plain", "text/event-json"})


@dataclass(frozen=True, slots=True)
class Options:
    """Limits and timeouts of one connection."""

    command_seconds: float = 10.0
    """Seconds a command may wait for its reply; past that the connection is dropped,
    because a late reply would be taken for the answer to the next command."""
    idle_seconds: float | None = 30.0
    """After this much silence from FreeSWITCH a probe command is sent; None: never."""
    probe_seconds: float = 5.0
    probe: str = "api status"
    max_events: int = 10_000
    """Events waiting for their consumer before the connection is dropped."""
    max_header_bytes: int = MAX_HEADER_BYTES
    max_body_bytes: int = MAX_BODY_BYTES


class Link:
    """Commands answered in FIFO order, events to a bounded stream, a watch on the peer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                 options: Options | None = None) -> None:
        self.peer = peer
        self.options = options or Options()
        self.events = EventStream(self.options.max_events)
        self.error: Exception | None = None
        """Why the connection closed, when it was not closed by us."""
        self.notice: str | None = None
        """The text of FreeSWITCH's disconnect-notice, when it closed the connection."""
        self._reader, self._writer = reader, writer
        self._parser = FrameParser(self.options.max_header_bytes, self.options.max_body_bytes)
        self._replies: deque[tuple[Command, asyncio.Future[Message]]] = deque()
        self._waiters: dict[str, asyncio.Future[Event]] = {}
        """Futures resolved by an event, by key: ``job <Job-UUID>``, ``app <Application-UUID>``."""
        self._closed = asyncio.Event()
        self._heard = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def request(self, command: Command | str, *, reply_seconds: float | None = None) -> Message:
        """Send ``command`` and return FreeSWITCH's reply as it came; ``reply_seconds``
        (default ``Options.command_seconds``) bounds the wait."""
        command = Command(command) if isinstance(command, str) else command
        data = command.encode()
        future = self._expect(command)
        self._writer.write(data)
        limit = self.options.command_seconds if reply_seconds is None else reply_seconds
        try:
            async with asyncio.timeout(limit):
                await self._writer.drain()
                return await future
        except TimeoutError as err:
            raise self._abort(ConnectionLost(
                f"no reply to {command.label!r} from {self.peer} within {limit:g} s")) from err
        except OSError as err:
            raise self._abort(ConnectionLost(f"writing to {self.peer} failed: {err}")) from err

    async def command(self, command: Command | str, *, reply_seconds: float | None = None) -> str:
        """Send ``command``; its ``Reply-Text``, or ``CommandError`` for ``-ERR ...``."""
        command = Command(command) if isinstance(command, str) else command
        reply = await self.request(command, reply_seconds=reply_seconds)
        return checked(command.label, reply.reply_text)

    async def api(self, command: str, *, reply_seconds: float | None = None) -> str:
        """The output of ``api <command>``, as FreeSWITCH wrote it (usually ending in a
        newline); ``CommandError`` when the output starts with ``-ERR`` or ``-USAGE``.

        ``api`` holds this connection until the command returns: use ``bgapi`` for anything
        slow, and always for ``originate``."""
        if command.lower().split(maxsplit=1)[:1] == ["originate"]:
            raise InvalidRequest("esl_blocking_api", "api originate holds the connection for the whole "
                                 "ring time; use bgapi originate")
        label = f"api {command}"
        reply = await self.request(label, reply_seconds=reply_seconds)
        if reply.content_type != "api/response":
            raise CommandError(label, reply.reply_text)  # e.g. outbound without 'full'
        return checked(label, reply.text)

    async def bgapi(self, command: str, *, job_uuid: str | None = None,
                    reply_seconds: float | None = None) -> Job:
        """Start ``bgapi <command>`` under ``job_uuid`` (a fresh one by default); the
        returned ``Job`` is resolved by the BACKGROUND_JOB event carrying that Job-UUID
        (the connection must receive them: inbound ones subscribe at login)."""
        job_uuid = job_uuid or str(uuid.uuid4())
        # Registered before sending, so no ordering of reply and event can miss it.
        future = self._await_event(f"job {job_uuid}")
        label = f"bgapi {command}"
        try:
            await self.command(Command(label, (("Job-UUID", job_uuid),)), reply_seconds=reply_seconds)
        except BaseException:
            future.cancel()
            raise
        return Job(job_uuid, label, future)

    async def close(self) -> None:
        """Close the connection; waiting commands and jobs fail with ``ConnectionLost``."""
        self._shutdown(None)
        current = asyncio.current_task()
        await asyncio.gather(*(task for task in self._tasks if task is not current), return_exceptions=True)
        with contextlib.suppress(OSError):  # a peer that reset the connection: closed either way
            await self._writer.wait_closed()

    async def __aenter__(self) -> Link:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _start(self) -> None:
        self._tasks.append(asyncio.create_task(self._read(), name=f"esl reader {self.peer}"))

    def _watch_peer(self) -> None:
        if self.options.idle_seconds is not None:
            self._tasks.append(asyncio.create_task(self._watch(), name=f"esl watch {self.peer}"))

    def _await_event(self, key: str) -> asyncio.Future[Event]:
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        future.add_done_callback(lambda _: self._waiters.pop(key, None))
        return future

    def _resolve(self, key: str, event: Event) -> bool:
        """Hand ``event`` to the future waiting under ``key``; whether there was one."""
        future = self._waiters.pop(key, None)
        if future is None:
            return False
        if not future.done():
            future.set_result(event)
        return True

    def _expect(self, command: Command) -> asyncio.Future[Message]:
        """A future for the next reply not yet claimed by an earlier command."""
        if self.closed:
            raise ConnectionLost(f"connection to {self.peer} is closed"
                                 + (f": {self.error}" if self.error else ""))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies.append((command, future))
        return future

    async def _read(self) -> None:
        try:
            while not self.closed:
                data = await self._reader.read(65536)
                if not data:
                    raise ConnectionLost(f"{self.peer} closed the connection")
                self._heard = time.monotonic()
                for message in self._parser.feed(data):
                    self._handle(message)
                    if self.closed:
                        return
        except FrameError as err:
            self._abort(ConnectionLost(f"{self.peer} sent a bad frame: {err}"))
        except HubError as err:
            self._abort(err)
        except OSError as err:
            self._abort(ConnectionLost(f"connection to {self.peer} failed: {err}"))
        except Exception as err:
            # A bug here must not leave commands waiting on a reader that is gone.
            log.exception("%s: the ESL reader failed", self.peer)
            self._abort(ConnectionLost(f"reading from {self.peer} failed: {err!r}"))

    def _handle(self, message: Message) -> None:
        kind = message.content_type
        if kind in _REPLIES:
            if not self._replies:
                raise FrameError(f"a {kind} arrived with no command waiting for it")
            _, future = self._replies.popleft()
            if not future.done():
                future.set_result(message)
        elif kind in _EVENTS:
            self._event(parse_event(message))
        elif kind == "text/disconnect-notice":
            self._notice(message)
        elif kind == "text/rude-rejection":
            self._abort(AuthFailed(f"{self.peer} refused this address (apply-inbound-acl): "
                                   f"{message.text.strip()}"))
        else:
            log.debug("%s: ignoring a %s message", self.peer, kind or "typeless")

    def _event(self, event: Event) -> None:
        if self._claim(event) or not self._wanted(event):
            return
        if not self.events.push(event):
            log.warning("%s: %d events are waiting for a consumer that does not keep up; "
                        "dropping the connection rather than losing events", self.peer, self.events.limit)
            self._abort(ConnectionLost(f"events from {self.peer} were not consumed fast enough "
                                       f"({self.events.limit} waiting)"))

    def _claim(self, event: Event) -> bool:
        """Whether ``event`` answers something waiting here (then it is not streamed)."""
        return event.name == "BACKGROUND_JOB" and self._resolve(f"job {event.get('Job-UUID')}", event)

    def _wanted(self, event: Event) -> bool:
        return True

    def _notice(self, message: Message) -> None:
        if (message.header("Content-Disposition") or "").lower() == "linger":
            self._linger(message)
            return
        self.notice = " ".join(message.text.split()) or "no reason given"
        self._abort(ConnectionLost(f"{self.peer} disconnected: {self.notice}"))

    def _linger(self, message: Message) -> None:
        """The controlled channel hung up; FreeSWITCH keeps the socket open a while."""

    async def _watch(self) -> None:
        idle = self.options.idle_seconds or 0.0
        while not self.closed:
            quiet = time.monotonic() - self._heard
            if quiet < idle or self._replies:
                # A command in flight has its own deadline: that is the probe.
                await asyncio.sleep(max(idle - quiet, 0.01) if not self._replies else idle)
                continue
            try:
                await self.request(self.options.probe, reply_seconds=self.options.probe_seconds)
            except HubError:
                return

    def _abort(self, error: Exception) -> Exception:
        if not self.closed:
            self.error = error
            self._shutdown(error)
        return error

    def _shutdown(self, error: Exception | None) -> None:
        if self.closed:
            return
        self._closed.set()
        failure = error or ConnectionLost(f"connection to {self.peer} closed")
        waiting = [future for _, future in self._replies] + list(self._waiters.values())
        self._replies.clear()
        self._waiters.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(failure)
                future.exception()  # delivered to whoever awaits; not worth a GC warning otherwise
        self.events.end(error)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._writer.close()
