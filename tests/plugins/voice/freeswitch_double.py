"""A faithful in-process double of FreeSWITCH 1.10.12's Event Socket, for tests that cannot run FreeSWITCH.

Start one per test (``async with FreeSwitchDouble(time_scale=0.01) as fs``), connect to ``fs.port`` as
to mod_event_socket, and script calls: ``await fs.incoming_call(...)``, ``fs.endpoint("user/1001")``,
``await call.press("1")``, ``call.hangup()``, ``await call.socket("127.0.0.1:PORT async full")``.
Behaviour follows the voice/fax reference (sections 1, 2, 3 and 6) and the captures in ``captures/``.

Where the modules are:

- ``_wire``, ``_conn``, ``_commands``, ``_outbound``: the ESL protocol, inbound and outbound;
- ``_channel``, ``_calls``, ``_steps``, ``_handle``: legs, their sessions, and a test's ``Call``;
- ``_apps``: dialplan applications and sendmsg; ``_dial``: originate, bridge, uuid_bridge, transfer;
- ``_api``: mod_commands' api commands; ``_media``: uuid_hold and hold music, uuid_audio,
  uuid_record masks, and ``leg.hears`` (what a leg's far end hears now: leg uuids and media);
- ``_conference``, ``_conference_api``: mod_conference rooms (``fs.conferences[<room>]``, members
  as ``leg.member``), the ``conference`` application and api; ``_eavesdrop``: eavesdrop and
  three_way, whose mode shows as ``leg.eavesdrop_mode`` with ``leg.eavesdrop_target``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from freeswitch_double_api import VERSION, run_api, uptime_text
from freeswitch_double_calls import Endpoint, Leg, prelude, sofia_inbound, start_inbound
from freeswitch_double_channel import new_uuid
from freeswitch_double_conn import Connection
from freeswitch_double_handle import Call, wait_all
from freeswitch_double_wire import SHUTDOWN_TEXT, Event, log_frame

if TYPE_CHECKING:
    from freeswitch_double_conference import Conference

DEFAULT_EXTENSIONS: dict[str, list[tuple[str, str]]] = {
    # The extensions the captures dial: 9196 echo, 9664 tone loop, park (reference section 7).
    "9196": [("answer", ""), ("echo", "")],
    "9664": [("answer", ""), ("playback", "tone_stream://%(2000,4000,440,480);loops=-1")],
    "park": [("park", "")],
}


class FreeSwitchDouble:
    """The switch: ESL server, event bus, channel registry, scripted endpoints and extensions."""

    def __init__(self, *, password: str = "ClueCon", host: str = "127.0.0.1", port: int = 0,
                 auth_timeout: float = 25.0, time_scale: float = 1.0, hostname: str = "fs-double",
                 ipv4: str = "192.0.2.2", ipv6: str = "::1", chunking: int | str | None = None,
                 chunk_delay: float = 0.0005, chunk_seed: int = 0, coalesce: bool = False,
                 event_queue_size: int = 100_000, max_missed_events: int = 500,
                 send_buffer: int | None = None, acl_reject: bool = False, default_media_seconds: float = 1.0,
                 heartbeat_interval: float | None = None) -> None:
        """Knobs: ``time_scale`` multiplies protocol time (media, originate timeouts, linger);
        ``chunking`` writes every frame in pieces of that many bytes, or of random sizes with
        ``"random"``; ``coalesce`` sends several frames in one write; ``event_queue_size`` and
        ``max_missed_events`` scale down the slow-consumer rule (100 000 / 500 in FreeSWITCH);
        ``send_buffer`` shrinks the socket buffer so a client that stops reading blocks quickly;
        ``acl_reject`` answers every connection with the rude rejection; ``heartbeat_interval``
        fires HEARTBEAT periodically (FreeSWITCH: 20 s)."""
        self.password, self.host, self.requested_port = password, host, port
        self.auth_timeout, self.time_scale = auth_timeout, time_scale
        self.hostname, self.ipv4, self.ipv6 = hostname, ipv4, ipv6
        self.chunking, self.chunk_delay, self.coalesce = chunking, chunk_delay, coalesce
        self._chunk_random = random.Random(chunk_seed)
        self.heartbeat_interval = heartbeat_interval
        self.event_queue_size, self.max_missed_events = event_queue_size, max_missed_events
        self.send_buffer, self.acl_reject = send_buffer, acl_reject
        self.default_media_seconds = default_media_seconds
        self.media: dict[str, float] = {}  # playback length in seconds per file path
        self.endpoints: dict[str, Endpoint] = {}
        self.extensions: dict[tuple[str, str | None], list[tuple[str, str]]] = {
            (number, None): steps for number, steps in DEFAULT_EXTENSIONS.items()}
        # vars.xml of the vanilla configuration sets hold_music; channels fall back to globals.
        self.global_vars: dict[str, str] = {"hostname": hostname, "hold_music": "local_stream://moh"}
        self.command_log: list[tuple[int, str]] = []
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._connection_ids = itertools.count(1)  # keeps counting across restarts
        self._reset_core()

    def _reset_core(self) -> None:
        self.core_uuid = new_uuid()
        self.channels: dict[str, Leg] = {}
        self.conferences: dict[str, Conference] = {}  # mod_conference rooms by name
        self.member_ids = itertools.count(1)  # conference member ids, one sequence per switch
        self.sequence = itertools.count(500)  # a fresh FreeSWITCH is a few hundred events in (06)
        self._sessions = itertools.count(1)
        self.session_counter = self.peak = 0
        self.started_at = time.monotonic()

    # --- server -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port or self.requested_port)
        if self.heartbeat_interval:
            self.spawn(self._heartbeats(self.heartbeat_interval))

    async def _heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.heartbeat()

    def chunk_size(self) -> int:
        """How many bytes the next partial write carries."""
        if self.chunking == "random":
            return self._chunk_random.randint(1, 64)
        return int(self.chunking or 1 << 30)

    @property
    def port(self) -> int:
        """The port the ESL server listens on."""
        if self._server is None:
            return self.requested_port
        return self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        connection.task = asyncio.current_task()
        await connection.run()

    async def stop(self) -> None:
        """Shut down: every listener gets the shutdown notice, calls and tasks are dropped."""
        await self._shutdown()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        """A restart: connections get the shutdown notice, calls are forgotten, a new Core-UUID."""
        port = self.port
        await self.stop()
        self._reset_core()
        self.requested_port = port
        await self.start()

    async def _shutdown(self) -> None:
        # Queued events go out first; the calls are then dropped without any event, as when the
        # process goes away: a client learns what is left from `show channels` after reconnecting.
        await wait_all([c.flushed.wait() for c in self.connections], 0.5)
        for connection in list(self.connections):
            connection.kill(SHUTDOWN_TEXT)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=1.0)
        current = asyncio.current_task()
        pending = [c.task for c in self.connections if c.task is not None and c.task is not current]
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        # A client that never reads again must not keep the double from stopping.
        await wait_all([c.closing(1.0) for c in self.connections], 2.0)
        self.connections.clear()
        self.channels.clear()
        self.conferences.clear()

    async def __aenter__(self) -> FreeSwitchDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def kill_connections(self) -> None:
        """Abrupt TCP close (reset) of every connection, without any notice."""
        for connection in list(self.connections):
            connection.abort()

    @property
    def commands(self) -> list[tuple[int, str]]:
        """Every command line received, as (connection id, first line), in arrival order."""
        return list(self.command_log)

    # --- events ------------------------------------------------------------------------------
    def new_event(self, name: str, calling: tuple[str, str, int], subclass: str | None = None) -> Event:
        """An event with the common headers in the captured order (Event-Subclass first for CUSTOM)."""
        event = Event()
        if subclass:
            event.add("Event-Subclass", subclass)
        return self.prepare(event, name, calling)

    def prepare(self, event: Event, name: str, calling: tuple[str, str, int]) -> Event:
        """switch_event_prep_for_delivery: append Event-Name ... Event-Sequence."""
        now = time.time()
        event.extend([
            ("Event-Name", name), ("Core-UUID", self.core_uuid), ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname), ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))), ("Event-Calling-File", calling[0]),
            ("Event-Calling-Function", calling[1]), ("Event-Calling-Line-Number", str(calling[2])),
            ("Event-Sequence", str(next(self.sequence))),
        ])
        return event

    def fire(self, event: Event) -> None:
        """Deliver an event to every listener (each applies its own subscription and filters)."""
        for connection in list(self.connections):
            connection.offer(event)

    def fire_custom(
        self,
        subclass: str,
        headers: list[tuple[str, str]] | None = None,
        body: str | None = None,
        calling: tuple[str, str, int] = ("switch_event.c", "switch_event_fire_detailed", 0),
    ) -> Event:
        """A module's CUSTOM event, e.g. ``callcenter::info`` with CC-Action headers (Event-Calling-*
        is whatever the test says: no module's own CUSTOM event is in the captures)."""
        event = self.new_event("CUSTOM", calling, subclass)
        event.extend(headers or [])
        event.body = body
        self.fire(event)
        return event

    def heartbeat(self) -> Event:
        """A HEARTBEAT with exactly the headers of capture 16."""
        uptime = time.monotonic() - self.started_at
        event = self.new_event("HEARTBEAT", ("switch_core.c", "send_heartbeat", 95))
        event.extend([
            ("Event-Info", "System Ready"), ("Up-Time", uptime_text(self)),
            ("FreeSWITCH-Version", f"{VERSION}~64bit"), ("Uptime-msec", str(int(uptime * 1000))),
            ("Session-Count", str(len(self.channels))), ("Max-Sessions", "1000"), ("Session-Per-Sec", "30"),
            ("Session-Per-Sec-Last", "0"), ("Session-Per-Sec-Max", "0"), ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(self.session_counter)), ("Session-Peak-Max", str(self.peak)),
            ("Session-Peak-FiveMin", str(self.peak)), ("Idle-CPU", "99.000000"),
        ])
        self.fire(event)
        return event

    def log(self, text: str, level: int = 6, file: str = "switch_core.c", func: str = "switch_core_init",
            line: int = 1) -> None:
        """A console log line, delivered as log/data to listeners that sent ``log <level>``."""
        frame = log_frame(text, level, file, func, line)
        for connection in list(self.connections):
            connection.offer_log(level, frame)

    # --- registry ------------------------------------------------------------------------------
    def next_session(self) -> int:
        """The session_id variable of a new channel."""
        self.session_counter += 1
        return next(self._sessions)

    def next_connection_id(self) -> int:
        """Numbers connections in accept order (used in ``commands``)."""
        return next(self._connection_ids)

    def register(self, leg: Leg) -> None:
        """Make a leg visible to uuid_* commands and show channels."""
        self.channels[leg.uuid] = leg
        self.peak = max(self.peak, len(self.channels))

    def forget(self, leg: Leg) -> None:
        """Drop a destroyed leg."""
        self.channels.pop(leg.uuid, None)

    def locate(self, uuid: str) -> Leg | None:
        """switch_core_session_locate: only legs that are not hanging up."""
        leg = self.channels.get(uuid)
        return leg if leg is not None and not leg.is_down else None

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work owned by the double (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds."""
        async def wait() -> None:
            await asyncio.sleep(delay)
            action()
        self.spawn(wait())

    # --- scripting ------------------------------------------------------------------------------
    def endpoint(self, dialstring: str, *, answers: bool = True, answer_after: float = 0.0,
                 reject: str | None = None, registered: bool = True, ring: bool = True,
                 hangup_after: float | None = None, contact: str = "192.0.2.10:5060") -> Endpoint:
        """Script a far end for originate/bridge, e.g. ``endpoint("user/1001", answer_after=0.1)``.

        ``answers=False`` rings until the originate timeout (NO_ANSWER); ``reject="USER_BUSY"`` fails
        after ``answer_after``; ``registered=False`` gives USER_NOT_REGISTERED without a channel;
        ``ring=False`` skips the 180 (no CHANNEL_PROGRESS); ``hangup_after`` makes the far end hang up.
        A key ending in '/' (``sofia/gateway/gw1/``) scripts every number behind it.
        """
        endpoint = Endpoint(dialstring, answers=answers, answer_after=answer_after, reject=reject,
                            registered=registered, ring=ring, hangup_after=hangup_after, contact=contact)
        self.endpoints[dialstring] = endpoint
        return endpoint

    def find_endpoint(self, dialstring: str) -> Endpoint | None:
        """Exact match (user/ ignores @domain), else the longest registered prefix ending in '/'."""
        key = dialstring.split("@", 1)[0] if dialstring.startswith("user/") else dialstring
        if key in self.endpoints:
            return self.endpoints[key]
        prefixes = [k for k in self.endpoints if k.endswith("/") and dialstring.startswith(k)]
        return self.endpoints[max(prefixes, key=len)] if prefixes else None

    def extension(self, number: str, steps: list[tuple[str, str]], context: str | None = None) -> None:
        """Define what an extension runs (any context unless one is given)."""
        self.extensions[(number, context)] = list(steps)

    def route(self, dest: str, context: str) -> list[tuple[str, str]]:
        """The dialplan for a destination: the public prelude, then the extension's steps."""
        steps = self.extensions.get((dest, context), self.extensions.get((dest, None)))
        if steps is None:
            # Only the public prelude matches; without it routing fails (06: NORMAL_CLEARING).
            return prelude(context) or [("__noroute__", "")]
        return prelude(context) + list(steps)

    def inline(self, spec: str) -> list[tuple[str, str]]:
        """An ``inline`` dialplan: ``app:arg,app2:arg``."""
        steps = []
        for item in spec.split(","):
            app, _, arg = item.partition(":")
            steps.append((app, arg))
        return steps

    async def incoming_call(self, caller: str = "+8613800000000", destination: str = "10086", *,
                            caller_name: str | None = None, dialplan: list[tuple[str, str]] | None = None,
                            remote: str = "203.0.113.10:5060", uuid: str | None = None,
                            variables: dict[str, str] | None = None) -> Call:
        """A SIP call arriving in the public context; default dialplan: answer, then park."""
        leg = sofia_inbound(self, caller, destination, caller_name or caller, remote, uuid)
        for key, value in (variables or {}).items():
            leg.set_var(key, value)
        leg.keep_alive = dialplan == []
        self.register(leg)
        steps = [("answer", ""), ("park", "")] if dialplan is None else dialplan
        start_inbound(leg, prelude("public") + steps)
        await asyncio.sleep(0)
        return Call(leg)

    def call(self, uuid: str) -> Call | None:
        """A handle on any live leg (e.g. an agent leg created by originate)."""
        leg = self.channels.get(uuid)
        return Call(leg) if leg is not None else None

    def press(self, leg: Leg, digits: str) -> None:
        """DTMF from the far end: a DTMF event per digit (no variables), then the digit is buffered."""
        for digit in digits:
            leg.fire("DTMF", after=[("DTMF-Digit", digit), ("DTMF-Duration", "2240"), ("DTMF-Source", "RTP")])
            leg.dtmf.put_nowait(digit)
            leg.poke()

    async def api(self, command: str) -> str:
        """Run an API command as fs_cli would (no ESL connection involved)."""
        name, _, arg = command.partition(" ")
        return await run_api(self, name, arg or None)
