"""MemoryPeer: an in-process stand-in for a provider, and the address book channels find it in.

In a real plugin this module is the protocol or provider client (an ESL connection, an IMAP
session, a Bot API client). Here the "network" is a dict: a test makes a peer listen at an
address, the channel's settings name that address, and ``connect`` finds it.
"""

from __future__ import annotations

import asyncio
from typing import Any

_NETWORK: dict[str, MemoryPeer] = {}


class PeerUnavailable(ConnectionError):
    """The link to the peer is down (or nothing listens at the address)."""


class MemoryPeer:
    """A provider that keeps each inbound message until the channel acknowledges it.

    ``inbox`` holds native messages (dicts ``{"id", "from", "text"}``) in arrival order,
    ``outbox`` what the channel sent, ``up`` whether the link to the hub works. Delivery is at
    least once, as with an SMS centre or an IMAP mailbox: ``fetch`` returns the oldest message
    and keeps it until ``ack``, so a channel that dies between the two gets it again.
    """

    def __init__(self) -> None:
        self.inbox: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.up = True
        self._changed = asyncio.Event()

    # The customer's and the test's side.

    def arrive(self, native: dict[str, Any]) -> None:
        """A customer's message reaches the provider; it waits there while the link is down."""
        self.inbox.append(native)
        self._changed.set()

    def set_up(self, up: bool) -> None:
        """Bring the link to the hub down or back up."""
        self.up = up
        self._changed.set()

    # The channel's side.

    async def fetch(self) -> dict[str, Any]:
        """Wait for the oldest unacknowledged message; raise ``PeerUnavailable`` once the link drops."""
        while True:
            self.check()
            if self.inbox:
                return self.inbox[0]
            self._changed.clear()
            await self._changed.wait()

    def ack(self, native: dict[str, Any]) -> None:
        """Forget a message the hub has stored; the peer keeps it if the link is down."""
        self.check()
        if native in self.inbox:
            self.inbox.remove(native)

    async def post(self, native: dict[str, Any]) -> str:
        """Take one outgoing message and return its provider id.

        Like providers with an idempotency key, posting the same ``ref`` again returns the
        first id and sends nothing twice.
        """
        self.check()
        for number, earlier in enumerate(self.outbox, start=1):
            if earlier.get("ref") == native.get("ref"):
                return f"mem-{number}"
        self.outbox.append(native)
        return f"mem-{len(self.outbox)}"

    def check(self) -> None:
        if not self.up:
            raise PeerUnavailable("the memory peer is unreachable")


def listen(address: str, peer: MemoryPeer) -> MemoryPeer:
    """Make ``peer`` reachable at ``address``."""
    _NETWORK[address] = peer
    return peer


def unlisten(address: str) -> None:
    _NETWORK.pop(address, None)


def connect(address: str) -> MemoryPeer:
    """The peer listening at ``address``; ``PeerUnavailable`` if none, or if its link is down."""
    peer = _NETWORK.get(address)
    if peer is None:
        raise PeerUnavailable(f"no memory peer listens at {address!r}")
    peer.check()
    return peer
