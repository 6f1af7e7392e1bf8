"""What waits on a connection: the stream of events for their consumer, and bgapi jobs.

Slow consumers: the stream holds at most ``limit`` events. The connection pushes without
ever waiting (its reader must keep reading, or the replies behind the events would never
reach the commands awaiting them); when ``push`` finds the stream full, the connection is
dropped and the stream ends with that error after the events it holds (see ``link``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Generator
from typing import Any

from plugins.voice.esl.errors import CommandError
from plugins.voice.esl.events import Event

_FAILED = ("-ERR", "-USAGE")


def checked(label: str, output: str) -> str:
    """``output`` as is, unless FreeSWITCH reports a failure in it (``-ERR``, ``-USAGE``)."""
    if output.startswith(_FAILED):
        raise CommandError(label, output.strip())
    return output


class EventStream:
    """The events of one connection waiting for their consumer: ``async for`` over it.

    Iteration ends when the connection closes, after the events already received; if it
    closed on an error, that error is raised then."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._ended = False
        self._error: Exception | None = None

    def __len__(self) -> int:
        return len(self._items)

    def push(self, event: Event) -> bool:
        """Keep ``event``; False when the stream is full."""
        if len(self._items) >= self.limit:
            return False
        self._items.append(event)
        self._ready.set()
        return True

    def end(self, error: Exception | None) -> None:
        self._ended, self._error = True, error
        self._ready.set()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._items:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class Job:
    """A ``bgapi`` command running in FreeSWITCH; await it (once) for its output.

    The output is the BACKGROUND_JOB event's body; ``-ERR ...`` raises ``CommandError``
    (an originate that was not answered: ``-ERR NO_ANSWER``)."""

    def __init__(self, job_uuid: str, label: str, future: asyncio.Future[Event]) -> None:
        self.uuid = job_uuid
        self.label = label
        self._future = future

    def __await__(self) -> Generator[Any, None, str]:
        return self._output().__await__()

    async def _output(self) -> str:
        return checked(self.label, (await self._future).body)
