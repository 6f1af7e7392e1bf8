"""One ESL connection of the FreeSWITCH double: a port of mod_event_socket's listener.

Inbound (we are dialled on the ESL port) and outbound (the ``socket`` application dials out) share the
command parser, the reply texts of reference 1.4, subscriptions and filters (1.6), the event queue with
its drop-and-kill rule (1.10) and the linger / disconnect notices (1.9, 1.10).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from collections import deque
from typing import TYPE_CHECKING

from freeswitch_double_calls import Leg
from freeswitch_double_commands import _DOWN, _LINGER, ListenerCommands, switch_true
from freeswitch_double_wire import (
    AUTH_REQUEST,
    GOODBYE,
    LOST_EVENTS_TEXT,
    Command,
    CommandParser,
    Event,
    ProtocolError,
    disconnect_notice,
    event_frame,
    linger_notice,
    rude_rejection,
)

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

class _Killed(Exception):
    """Raised inside the connection task once it has been killed."""


def regex_match(value: str, expression: str) -> bool:
    """switch_regex_perform with a '/pattern/flags' expression (flag i = caseless)."""
    body = expression[1:] if expression.startswith("/") else expression
    pattern, slash, flags = body.rpartition("/") if "/" in body else (body, "", "")
    pattern = pattern if slash else body
    try:
        return re.search(pattern, value, re.IGNORECASE if "i" in flags else 0) is not None
    except re.error:
        return False


def xml_frame(event: Event) -> bytes:
    """not in the reference: an approximation of switch_event_xmlize for `event xml` listeners."""
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = ["<event>", "  <headers>"]
    lines += [f"    <{n}>{esc(v if isinstance(v, str) else '|:'.join(v))}</{n}>" for n, v in event.headers]
    lines.append("  </headers>")
    if event.body is not None:
        lines.append(f"  <body>{esc(event.body)}</body>")
    payload = ("\n".join(lines) + "\n</event>").encode("utf-8")
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-xml\n\n".encode() + payload


class Connection(ListenerCommands):
    """A listener: reads commands, writes replies, queues and writes the events it is subscribed to."""

    def __init__(self, switch: FreeSwitchDouble, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 *, session: Leg | None = None, full: bool = True, async_mode: bool = False) -> None:
        self.switch = switch
        self.id = switch.next_connection_id()
        self.reader, self.writer = reader, writer
        self.outbound = session is not None
        self.session: Leg | None = None
        self.full = full
        self.async_mode = async_mode
        self.authed = self.outbound
        self.connected = asyncio.Event()
        self.parser = CommandParser()
        self.commands: list[Command] = []
        self.format = "plain"
        self.events_on = False
        self.event_list: set[str] = set()
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents = False
        self.linger: int | None = None
        self.log_level: int | None = None
        self.resume = False
        self.queue: deque[Event | str | bytes] = deque()
        self.lost = 0
        self.queued = 0  # events in the queue (markers and log lines do not count)
        self.running = True
        self.eof = False
        self.closed = asyncio.Event()
        self.flushed = asyncio.Event()  # set while no queued event waits to be written
        self.flushed.set()
        self.task: asyncio.Task[None] | None = None
        self._linger_deadline: float | None = None
        self._wake = asyncio.Event()
        self._pending = bytearray()
        self._mid_frame = False
        self._kill_message: str | None = None
        self._silent = False  # no goodbye notice (killed, aborted, or rejected)
        if session is not None:
            self.bind(session)
        sock = writer.get_extra_info("socket")
        if sock is not None and switch.send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, switch.send_buffer)
            writer.transport.set_write_buffer_limits(high=switch.send_buffer)

    def bind(self, leg: Leg) -> None:
        """Control a session: its destroy waits for this listener (it holds a read lock)."""
        self.session = leg
        leg.destroy_blockers.add(self)
        leg.unblocked.clear()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the connection as a task owned by the double."""
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"esl-{self.id}")

    async def run(self) -> None:
        """Serve until exit, timeout, hangup without linger, kill or EOF."""
        reader = asyncio.get_running_loop().create_task(self._read())
        try:
            if self.outbound:
                await self._loop(first_deadline=self.switch.auth_timeout)
            elif self.switch.acl_reject:
                self._silent = True
                await self._emit(rude_rejection())
            else:
                await self._emit(AUTH_REQUEST)
                await self._loop(first_deadline=self.switch.auth_timeout)
            await self._flush_pending()
        except (_Killed, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            reader.cancel()
            self._close()

    def _close(self) -> None:
        if not self._silent and not self.writer.is_closing():
            notice = disconnect_notice(GOODBYE, self.session.uuid if self.session else None)
            self.writer.write(bytes(self._pending) + notice)
            self._pending.clear()
        self.running = False
        self.writer.close()
        self.switch.connections.discard(self)
        leg = self.session
        if leg is not None:
            leg.destroy_blockers.discard(self)
            if not leg.destroy_blockers:
                leg.unblocked.set()
            if self.outbound and not leg.is_down:
                # Closing the socket hangs the call up unless `resume` was sent (reference 1.4).
                # With resume, a call still in the socket application goes on in its dialplan;
                # one the hub moved on (bridged, transferred) carries on as it is: the socket
                # application has already returned (not in the reference: mod_event_socket).
                if not (self.resume or switch_true(leg.get_var("socket_resume"))):
                    leg.hangup("NORMAL_CLEARING")
                elif leg.in_socket_app:
                    leg.poke("transfer")
        self.closed.set()

    def kill(self, message: str) -> None:
        """kill_listener(): a disconnect notice with ``message``, then close (shutdown, lost events)."""
        if not self.running:
            return
        self.running = False
        if self._mid_frame:
            self._kill_message = message  # finish the frame being written first
            return
        self._kill_now(message)

    def _kill_now(self, message: str) -> None:
        self._silent = True
        if not self.writer.is_closing():
            session = self.session.uuid if self.session else None
            self.writer.write(bytes(self._pending) + disconnect_notice(message, session))
            self._pending.clear()
        self.writer.close()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    async def closing(self, within: float) -> None:
        """Give a closed connection ``within`` seconds to flush its last bytes, then reset it."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), within)
        if not self.writer.transport.is_closing() or self.writer.transport.get_write_buffer_size():
            self.writer.transport.abort()

    def abort(self) -> None:
        """Drop the TCP connection with a reset and no notice at all."""
        self.running, self._silent = False, True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        if self.task is not None:
            self.task.cancel()

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                self.parser.feed(data)
                self._wake.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.eof = True
            self._wake.set()

    # --- writing -----------------------------------------------------------------------------
    async def _write(self, data: bytes) -> None:
        if self.switch.coalesce:
            self._pending += data  # several frames leave in one write at the end of the turn
            return
        await self._emit(data)

    async def _flush_pending(self) -> None:
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            await self._emit(data)

    async def _emit(self, data: bytes) -> None:
        if not self.switch.chunking:
            self.writer.write(data)
            await self.writer.drain()
            return
        self._mid_frame = True
        try:
            start = 0
            while start < len(data):
                # Pieces split anywhere: inside a header name, between the two newlines, in a body.
                size = self.switch.chunk_size()
                self.writer.write(data[start:start + size])
                start += size
                await self.writer.drain()
                await asyncio.sleep(self.switch.chunk_delay)
        finally:
            self._mid_frame = False
        if self._kill_message is not None:
            self._kill_now(self._kill_message)
            raise _Killed

    # --- main loop ---------------------------------------------------------------------------
    async def _loop(self, first_deadline: float) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = loop.time() + first_deadline
        first = self.outbound
        while self.running:
            self._wake.clear()
            try:
                command = self.parser.next_command()
            except ProtocolError:
                return
            if command is not None:
                await self._command(command, first)
                first = False
                deadline = None if self.authed else loop.time() + first_deadline
                continue
            if self.eof:
                return
            # Events go out only while no byte of a next command has arrived (reference 1.7).
            if self.queue and not self.parser.partial:
                if not await self._flush_events():
                    return
                continue
            now = loop.time()
            if (self._linger_deadline and now >= self._linger_deadline) or (deadline and now >= deadline):
                return
            await self._flush_pending()
            until = min(filter(None, (deadline, self._linger_deadline)), default=None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if until is None else max(until - now, 0))

    async def _flush_events(self) -> bool:
        while self.queue and self.running:
            item = self.queue.popleft()
            if item == _DOWN:
                return False
            if item == _LINGER:
                assert self.session is not None
                await self._write(linger_notice(self.session.uuid, self.session.name, self.linger or 0))
                if self.linger is not None and self.linger >= 0:
                    # FreeSWITCH compares whole seconds, so the close comes N to N+1 s later (tested 13).
                    delay = (self.linger + 1 - time.time() % 1.0) * self.switch.time_scale
                    self._linger_deadline = asyncio.get_running_loop().time() + delay
                continue
            if isinstance(item, bytes):
                await self._write(item)  # a log/data frame
                continue
            assert isinstance(item, Event)
            self.queued -= 1
            frame = xml_frame(item) if self.format == "xml" else event_frame(item, self.format)
            await self._write(frame)
        self.flushed.set()
        return True

    async def _command(self, command: Command, first: bool) -> None:
        self.commands.append(command)
        self.switch.command_log.append((self.id, command.line))
        reply = await self._dispatch(command)
        if first and self.outbound and not command.line.lower().startswith("connect"):
            return  # the first outbound command is executed, but only `connect` answers (tested 21)
        if reply is not None:
            await self._write(reply)

    # --- events in -----------------------------------------------------------------------------
    def offer(self, event: Event) -> None:
        """event_handler(): subscription, then filters, then the myevents session check."""
        if not self.running:
            return
        if self.events_on and self._subscribed(event) and self._filtered(event) and self._mine(event):
            self._push(event)
        leg = self.session
        if leg is not None and event.get("Unique-ID") == leg.uuid:
            if event.name == "CHANNEL_HANGUP" and self.linger is None:
                self.queue.append(_DOWN)  # without linger the socket closes right after the hangup
            elif event.name == "CHANNEL_HANGUP_COMPLETE" and self.linger is not None:
                self.queue.append(_LINGER)
            self._wake.set()

    def offer_log(self, level: int, frame: bytes) -> None:
        """A console line for listeners that asked for ``log <level>`` at this level or above."""
        if self.running and self.log_level is not None and level <= self.log_level:
            self.queue.append(frame)
            self._wake.set()

    def _subscribed(self, event: Event) -> bool:
        if "ALL" in self.event_list:
            return True
        if event.name not in self.event_list:
            return False
        subclass = event.get("Event-Subclass")
        return event.name != "CUSTOM" or not subclass or subclass in self.custom

    def _filtered(self, event: Event) -> bool:
        if not self.filters:
            return True
        send = False
        for name, value in self.filters:
            have = event.get(name)
            if have is None:
                continue  # an event lacking every filtered header is dropped (reference 1.6)
            positive, rest = True, value
            while rest and rest[0] in "+- ":
                positive = {"+": True, "-": False}.get(rest[0], positive)
                rest = rest[1:]
            if send and positive:
                continue
            hit = regex_match(have, rest) if value.startswith("/") else have.lower() == rest.lower()
            if hit and positive:
                send = True
            elif hit:
                return False
        return send

    def _mine(self, event: Event) -> bool:
        if not self.myevents:
            return True
        owner = self.session.uuid if self.session else None
        if event.name == "BACKGROUND_JOB":
            return owner is not None and event.get("Job-Owner-UUID") == owner
        uuid = event.get("Unique-ID")
        return uuid is not None and (owner is None or uuid == owner)

    def _push(self, event: Event) -> None:
        if self.queued >= self.switch.event_queue_size:
            self.lost += 1
            if self.lost > self.switch.max_missed_events:
                self.kill(LOST_EVENTS_TEXT)
            return
        self.lost = 0
        self.flushed.clear()
        self.queue.append(event)
        self.queued += 1
        self._wake.set()
