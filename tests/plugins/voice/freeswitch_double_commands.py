"""The command half of the double's ESL listener: a port of mod_event_socket's parse_command().

Reply texts are the literal ones of reference 1.4 (sic spellings included) and capture 14; commands
are matched by prefix, case-insensitively, in mod_event_socket's order (``events`` parses as ``event``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from freeswitch_double_api import run_api
from freeswitch_double_apps import handle_message, message_headers, queue_message
from freeswitch_double_calls import Leg
from freeswitch_double_channel import new_uuid, switch_true
from freeswitch_double_wire import (
    EVENT_NAMES,
    Command,
    Event,
    api_response,
    c_atoi,
    command_reply,
    event_type,
    raw_reply,
    serialize_plain,
)

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

# What `myevents` subscribes to (reference 2.1), plus the BACKGROUND_JOBs the session owns.
MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK", "BACKGROUND_JOB",
})
LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5,
              "info": 6, "debug": 7}
_DOWN, _LINGER = "down", "linger"  # markers queued behind the hangup events of the controlled call
__all__ = ["_DOWN", "_LINGER", "ListenerCommands", "switch_true"]


class ListenerCommands:
    """parse_command(): every ESL command a listener understands, with its exact reply text."""

    switch: FreeSwitchDouble
    session: Leg | None
    outbound: bool
    full: bool
    async_mode: bool
    authed: bool
    running: bool
    connected: asyncio.Event
    format: str
    events_on: bool
    event_list: set[str]
    custom: set[str]
    filters: list[tuple[str, str]]
    myevents: bool
    linger: int | None
    log_level: int | None
    resume: bool
    queue: deque[Event | str | bytes]
    queued: int

    def bind(self, leg: Leg) -> None:
        """Control a session (implemented by the connection)."""
        raise NotImplementedError

    async def _dispatch(self, command: Command) -> bytes | None:
        line = command.line
        low = line.lower()
        if low.startswith(("exit", "...")):
            self.running = False
            return command_reply("+OK bye")
        if not self.authed:
            return command_reply(self._auth(line))
        if low.startswith("filter "):
            return command_reply(self._filter(line[7:]))
        if self.session is not None and low.startswith("resume"):
            self.resume = True
            self.session.set_var("socket_resume", "true")
            return command_reply("+OK")
        if self.session is not None or low.startswith("myevents "):
            if low.startswith("connect"):
                return self._connect()
            if low.startswith("getvar"):
                name = line.split(" ", 1)[1] if " " in line else ""
                value = self.session.get_var(name) if self.session and name else None
                return command_reply(value or "-ERR command not found")
            if low.startswith("myevents"):
                return command_reply(self._myevents(line))
        if low.startswith("divert_events"):
            return command_reply(self._divert(line[13:].strip(" ")))
        if low.startswith("sendmsg"):
            return command_reply(await self._sendmsg(command))
        if self.outbound and not self.full:
            return command_reply("-ERR command not found")
        return await self._full_command(command, low)

    async def _full_command(self, command: Command, low: str) -> bytes | None:
        line = command.line
        if low.startswith("sendevent"):
            return command_reply(self._sendevent(command))
        if low.startswith("api "):
            name, _, arg = line[4:].partition(" ")
            output = await run_api(self.switch, name, arg if _ else None)
            return api_response(output or "-ERR no reply\n")  # empty output is replaced (tested 05)
        if low.startswith("bgapi "):
            name, _, arg = line[6:].partition(" ")
            job = command.header("job-uuid") or new_uuid()
            self.switch.spawn(self._job(job, name, arg if _ else None))
            await asyncio.sleep(0)  # FreeSWITCH replies once the job thread has started (its ack)
            return raw_reply(f"Reply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n")
        for prefix, handler in (("log", self._log), ("linger", self._linger), ("nolinger", self._nolinger),
                                ("nolog", self._nolog), ("event", self._event), ("nixevent", self._nixevent),
                                ("noevents", self._noevents)):
            if low.startswith(prefix):
                return command_reply(handler(line))
        return command_reply("-ERR command not found")

    def _auth(self, line: str) -> str:
        if line.lower().startswith("auth "):
            if line[5:] == self.switch.password:
                self.authed = True
                return "+OK accepted"
            self.running = False
            return "-ERR invalid"
        if line.lower().startswith("userauth "):
            self.running = False  # not in the reference: the double has no user directory to check
            return "-ERR invalid"
        return "-ERR command not found"

    def _filter(self, rest: str) -> str:
        name, space, value = rest.lstrip(" ").partition(" ")
        value_or_none = value if space else None
        if name.lower() == "delete" and value_or_none is not None:
            name, space, value = value.partition(" ")
            target = value if space else None
            if name.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [(k, v) for k, v in self.filters
                                if not (k.lower() == name.lower() and (not target or v == target))]
            return f"+OK filter deleted. [{name}][{target or ''}]"
        if value_or_none is None:
            return "-ERR invalid syntax"
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        self.filters.append((name, value))
        return f"+OK filter added. [{name}]=[{value}]"

    def _connect(self) -> bytes:
        self.connected.set()
        if self.session is not None:
            self.session.poke()  # the socket app parks the call the moment it sees the connect
        event = self.switch.new_event("CHANNEL_DATA", ("mod_event_socket.c", "parse_command", 2021))
        if self.session is not None:
            event.extend(self.session.profile.headers("Channel"))
            event.extend(self.session.data_headers(verbose=True))
        event.add("Content-Type", "command/reply")
        event.add("Reply-Text", "+OK\n")
        event.add("Socket-Mode", "async" if self.async_mode else "static")
        event.add("Control", "full" if self.full else "single-channel")
        return serialize_plain(event)  # a url-encoded event as the reply, no Content-Length (tested 20)

    def _myevents(self, line: str) -> str:
        if self.myevents:
            return "-ERR aready enabled."
        if self.session is None:
            uuid, space, _fmt = line[9:].partition(" ")
            leg = self.switch.locate(uuid)
            if leg is None and space:
                return "-ERR invalid uuid"
            if leg is not None:
                self.bind(leg)
            self.async_mode = True
        self.event_list |= MYEVENTS
        self.myevents = self.events_on = True
        if "xml" in line or "XML" in line:
            self.format = "xml"
        if "json" in line or "JSON" in line:
            self.format = "json"
        return "+OK Events Enabled"

    def _divert(self, value: str) -> str:
        if self.session is None:
            return "-ERR not controlling a session."
        if not value:
            return "-ERR missing value."
        return "+OK events diverted" if value.lower() == "on" else "+OK events not diverted"

    async def _sendmsg(self, command: Command) -> str:
        uuid = command.line[7:].strip(" ") or command.header("session-id") or ""
        headers = message_headers(command.headers)
        if command.body is not None:
            headers["_body"] = command.body.decode("utf-8", "replace")
        asynchronous = self.async_mode or switch_true(command.header("async"))
        if self.session is not None and uuid in ("", self.session.uuid):
            if asynchronous:
                queue_message(self.session, headers)
            else:
                await handle_message(self.session, headers)  # static: +OK only after the app (tested 21)
            return "+OK"
        leg = self.switch.locate(uuid) if uuid else None
        if leg is None:
            return f"-ERR invalid session id [{uuid}]"
        queue_message(leg, headers)
        return "+OK"

    def _sendevent(self, command: Command) -> str:
        event_uuid = new_uuid()
        name = event_type(command.line[9:].strip(" \t")) or "CLONE"
        event = Event([("Command", command.line)])
        event.extend(list(command.headers))
        event.add("Event-UUID", event_uuid)
        subclass = event.get("Event-Subclass")
        if name == "CUSTOM" and subclass:
            event.prepend("Event-Subclass", subclass)
        event.body = command.body.decode("utf-8", "replace") if command.body else None
        target = self.switch.locate(event.get("Unique-ID") or "")
        if target is not None:
            # switch_core_session_queue_event takes the event: it goes to that channel, not to listeners.
            queue_message(target, message_headers([(k, v) for k, v in event.headers if isinstance(v, str)]))
            return f"+OK {event_uuid}"
        self.switch.fire(self.switch.prepare(event, name, ("mod_event_socket.c", "parse_command", 2275)))
        return f"+OK {event_uuid}"

    async def _job(self, job: str, name: str, arg: str | None) -> None:
        output = await run_api(self.switch, name, arg)
        event = self.switch.new_event("BACKGROUND_JOB", ("mod_event_socket.c", "api_exec", 1572))
        event.add("Job-UUID", job)
        event.add("Job-Command", name)
        event.add("Job-Command-Arg", arg)
        if self.session is not None:
            event.add("Job-Owner-UUID", self.session.uuid)  # reference 1.7 [src]; position not captured
        event.body = output
        self.switch.fire(event)

    def _log(self, line: str) -> str:
        level = line[3:].strip(" ").split(" ")[0]
        number = int(level) if level.isdigit() else LOG_LEVELS.get(level.lower(), -1) if level else 7
        if number < 0:
            return "-ERR invalid log level"
        self.log_level = number  # not in the reference: the double never emits log/data messages
        return f"+OK log level {level} [{number}]"

    def _linger(self, line: str) -> str:
        if self.session is None:
            return "-ERR not controlling a session"
        self.linger = c_atoi(line[7:]) if line[6:7] == " " and line[7:] else -1
        return f"+OK will linger {self.linger} seconds" if self.linger != -1 else "+OK will linger"

    def _nolinger(self, line: str) -> str:
        if self.session is None:
            return "-ERR not controlling a session"
        self.linger = None
        return "+OK will not linger"

    def _nolog(self, line: str) -> str:
        if self.log_level is None:
            return "-ERR not loging"
        self.log_level = None
        return "+OK no longer logging"

    def _event(self, line: str) -> str:
        words = line.split(" ")[1:]
        keys, custom = 0, False
        for index, word in enumerate(words):
            if index == 0 and word.lower() in ("plain", "json", "xml"):
                self.format = word.lower()  # set even when no keyword follows (last one wins)
                continue
            if custom:
                self.custom.add(word)
                continue
            name = event_type(word)
            if name is None:
                continue
            keys += 1
            self.event_list |= {name} | (set(EVENT_NAMES) if name == "ALL" else set())
            custom = custom or name == "CUSTOM"
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.format}"

    def _nixevent(self, line: str) -> str:
        keys, custom = 0, False
        for word in line.split(" ")[1:]:
            if custom:
                self.custom.discard(word)
                continue
            name = event_type(word)
            if name is None:
                continue
            keys += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.event_list.clear()
            else:
                self.event_list.discard("ALL")
                self.event_list.discard(name)
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"

    def _noevents(self, line: str) -> str:
        self.queue = deque(item for item in self.queue if not isinstance(item, Event))
        self.queued = 0
        if not self.events_on:
            return "-ERR not listening for events"
        self.events_on = False
        self.event_list.clear()
        self.custom.clear()
        return "+OK no longer listening for events"
