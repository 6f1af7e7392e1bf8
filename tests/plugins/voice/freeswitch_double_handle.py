"""A test's handle on one leg of the FreeSWITCH double (``Call``), and ``wait_all``.

``Call`` drives the far end of a leg (digits, BYE) and exposes what a test asserts on: its
variables and what the leg hears (``call.hears``, see freeswitch_double_media).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from freeswitch_double_calls import Leg
from freeswitch_double_conn import Connection


async def wait_all(waits: list[Coroutine[Any, Any, Any]], within: float) -> None:
    """Wait for all of them, at most ``within`` seconds; what is left is cancelled."""
    if not waits:
        return
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()


class Call:
    """A test's handle on one leg: press digits, hang up, run applications, hand it to a socket."""

    def __init__(self, leg: Leg) -> None:
        self.leg = leg

    @property
    def uuid(self) -> str:
        """The leg's Unique-ID."""
        return self.leg.uuid

    @property
    def variables(self) -> dict[str, str]:
        """The leg's channel variables."""
        return self.leg.variables

    @property
    def hears(self) -> frozenset[str]:
        """What the far end of this leg hears now: leg uuids and media paths (``Leg.hears``)."""
        return self.leg.hears

    async def press(self, digits: str) -> None:
        """RFC 2833 digits from the caller: one DTMF event each, then the running app sees them."""
        self.leg.switch.press(self.leg, digits)
        await asyncio.sleep(0)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The far end hangs up (BYE); the hangup events follow as the application unwinds."""
        self.leg.hangup(cause)

    async def execute(self, app: str, arg: str = "") -> None:
        """Add a dialplan step (for calls created with ``dialplan=[]``)."""
        self.leg.plan.append((app, arg))
        self.leg.poke()
        await asyncio.sleep(0)

    async def socket(self, target: str, within: float = 5.0) -> Connection:
        """Run ``socket <target>``: the double dials our outbound server; returns once TCP connects."""
        future: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self.leg.socket_result = future
        if self.leg.parked:
            self.leg.plan.appendleft(("socket", target))
            self.leg.poke("transfer")
        else:
            await self.execute("socket", target)
        return await asyncio.wait_for(future, within)

    async def ended(self, within: float = 5.0) -> None:
        """Wait until CHANNEL_HANGUP_COMPLETE has been fired."""
        await asyncio.wait_for(self.leg.finished.wait(), within)
