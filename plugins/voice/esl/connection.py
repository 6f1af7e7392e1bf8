"""Inbound ESL: the hub dials FreeSWITCH's event socket (port 8021) and logs in.

One long-lived connection carries the event stream and the control commands (reference
1.3, 1.11). Right after ``auth`` the connection subscribes to BACKGROUND_JOB, which every
``bgapi`` result arrives as; a job's event answers its ``Job`` and is not streamed, and
the jobs of other clients are streamed only to a caller who subscribed to BACKGROUND_JOB
(or ALL). Every other event that arrives (``subscribe``, ``myevents <uuid>``) is streamed
in ``events``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Literal
from uuid import uuid4

from hub.errors import AuthFailed, ChannelError, InvalidRequest, NotReady
from plugins.voice.esl import frames
from plugins.voice.esl.events import Event
from plugins.voice.esl.frames import Command
from plugins.voice.esl.link import Link, Options

EventFormat = Literal["plain", "json"]


class EslConnection(Link):
    """An authenticated inbound connection to FreeSWITCH; build it with ``connect``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                 options: Options | None = None) -> None:
        super().__init__(reader, writer, peer, options)
        self._names: set[str] = set()
        self._filtered = False

    @classmethod
    async def connect(cls, host: str, port: int = 8021, password: str = "ClueCon", *,
                      login_seconds: float = 5.0, options: Options | None = None) -> EslConnection:
        """Connect and authenticate. ``NotReady`` when FreeSWITCH cannot be reached or does
        not greet like an event socket; ``AuthFailed`` when it refuses the password (or,
        with ``apply-inbound-acl``, this address)."""
        peer = f"FreeSWITCH at {host}:{port}"
        try:
            async with asyncio.timeout(login_seconds):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as err:
            raise NotReady(f"{peer} is unreachable: {err or type(err).__name__}") from err
        connection = cls(reader, writer, peer, options)
        try:
            await connection._login(password, login_seconds)
        except BaseException:
            await connection.close()
            raise
        return connection

    async def _login(self, password: str, seconds: float) -> None:
        # The greeting is awaited like a reply: it comes unasked, but always first.
        greeting = self._expect(Command("(greeting)"))
        self._start()
        try:
            async with asyncio.timeout(seconds):
                message = await greeting
        except TimeoutError as err:
            raise NotReady(f"{self.peer} sent no auth/request within {seconds:g} s") from err
        if message.content_type != "auth/request":
            raise NotReady(f"{self.peer} greeted with {message.content_type!r}, not auth/request")
        reply = await self.request(Command(f"auth {password}"), reply_seconds=seconds)
        if not reply.reply_text.startswith("+OK"):
            raise AuthFailed(f"{self.peer} refused the event socket password ({reply.reply_text})")
        await self.command("event json BACKGROUND_JOB", reply_seconds=seconds)
        self._watch_peer()

    async def subscribe(self, *names: str, custom: Iterable[str] = (), format: EventFormat = "json") -> None:
        """Stream the events ``names`` (``CHANNEL_CREATE``, ``HEARTBEAT``, ``ALL``...) and
        the CUSTOM events of the ``custom`` subclasses (``callcenter::info``).

        Subscriptions add up; ``format`` applies to the whole connection (the last one
        wins), and both formats give the same ``Event``."""
        if format not in ("plain", "json"):
            raise InvalidRequest("esl_event_format", f"event format {format!r} is not plain or json")
        words = [name.upper() for name in names if name.upper() != "CUSTOM"]
        subclasses = list(custom)
        # FreeSWITCH takes every word after CUSTOM as a subclass: CUSTOM goes last.
        tokens = words + (["CUSTOM", *subclasses] if subclasses else [])
        if not tokens or any(len(token.split()) != 1 for token in tokens):
            raise InvalidRequest("esl_event_name", f"not a list of event names: {tokens!r}")
        await self.command(f"event {format} {' '.join(tokens)}")
        self._names.update(words)

    async def add_filter(self, header: str, value: str) -> None:
        """Only stream events whose ``header`` matches ``value`` (semantics: reference 1.6).

        The first filter comes with ``filter Event-Name BACKGROUND_JOB``: an event lacking
        every filtered header is dropped, and BACKGROUND_JOB has no Unique-ID, so without
        it a ``Unique-ID`` filter would swallow every bgapi result."""
        _one_word(header)
        if not self._filtered:
            await self.command("filter Event-Name BACKGROUND_JOB")
            self._filtered = True
        await self.command(f"filter {header} {value}")

    async def delete_filter(self, header: str = "all", value: str | None = None) -> None:
        """Remove one filter, all filters on ``header``, or (default) every filter."""
        _one_word(header)
        await self.command(" ".join(["filter delete", header, *([value] if value else [])]))
        if header == "all":
            self._filtered = False

    async def sendmsg(self, uuid: str, app: str, arg: str | None = None, *, event_uuid: str | None = None,
                      event_lock: bool = False) -> str:
        """Queue application ``app`` on channel ``uuid``; returns the Event-UUID sent with
        it, which comes back as ``Application-UUID`` on CHANNEL_EXECUTE and
        CHANNEL_EXECUTE_COMPLETE. The reply only means "queued" (reference 1.8)."""
        if not uuid.strip():
            raise InvalidRequest("esl_no_uuid", "sendmsg on an inbound connection needs a channel uuid")
        event_uuid = event_uuid or str(uuid4())
        await self.command(frames.sendmsg(app, arg, uuid=uuid, event_uuid=event_uuid, event_lock=event_lock))
        return event_uuid

    async def channels(self) -> list[dict[str, str]]:
        """Every live channel, as ``show channels as json`` lists them (to reconcile after
        a reconnect)."""
        return parse_channels(await self.api("show channels as json"))

    def _wanted(self, event: Event) -> bool:
        # BACKGROUND_JOB is subscribed for bgapi's sake: other jobs' results (any client's
        # bgapi fires them to every subscriber) are streamed only if asked for.
        return event.name != "BACKGROUND_JOB" or bool(self._names & {"BACKGROUND_JOB", "ALL"})


def parse_channels(output: str) -> list[dict[str, str]]:
    """The rows of ``show channels as json``; none is ``{"row_count":0}``, with no rows."""
    try:
        decoded = json.loads(output)
    except ValueError as err:
        raise ChannelError(f"show channels answered something that is not JSON: {output[:80]!r}") from err
    rows = decoded.get("rows", []) if isinstance(decoded, dict) else None
    if not isinstance(rows, list):
        raise ChannelError(f"show channels answered JSON without a list of rows: {output[:80]!r}")
    return [{str(key): "" if value is None else str(value) for key, value in row.items()}
            for row in rows if isinstance(row, dict)]


def _one_word(header: str) -> None:
    if len(header.split()) != 1:
        raise InvalidRequest("esl_filter_header", f"filter header {header!r} must be one word")
