"""PeerDriver: how the kit drives a channel's peer, through the plugin test's own code."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PeerDriver(Protocol):
    """What a channel plugin's tests hand the kit (as the ``peer`` fixture) to act as the
    customer's side of its real peer or of a faithful double.

    Every method acts on the peer, never on the channel: the kit wants to see the channel
    react the way it would in production. Where the peer cannot do one of these, the test
    class turns off the contracts that need it (``ChannelContract``'s ``supports_*``
    attributes) and the method is never called.
    """

    def sender_for(self, n: int) -> str:
        """A valid customer address on this channel for customer number ``n`` (1, 2, ...).

        Give it in the form the channel stores it (a normalized phone number, a lower-case
        email address): the kit looks the customer identity up by it. Different ``n`` are
        different customers.
        """
        ...

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        """Make the peer deliver one native inbound message from ``sender``.

        Post the webhook, send the websocket frame, append to the mailbox, emit the event.
        ``external_id`` is the peer's own id for the message (the one the channel turns into
        ``InboundMessage.external_id``); calling again with the same ``external_id`` must be
        the peer delivering the same message again, as a provider's retry does. Return once
        the peer has accepted it (a webhook's response came back); the channel may store it
        later. Called while the peer is disconnected, the peer keeps it for later (only when
        the test class sets ``supports_offline_inbound``).
        """
        ...

    async def inject_bad(self) -> None:
        """Make the peer deliver one malformed native input: broken JSON or XML, a forged
        signature, a missing field. The channel must refuse it, log it and keep going."""
        ...

    async def sent(self) -> list[str]:
        """The texts the peer has received from the channel so far, oldest first."""
        ...

    async def disconnect(self) -> None:
        """Take the peer away: stop the server, drop the link, refuse connections.

        While away, a ``send`` must fail visibly or be delivered after ``reconnect``."""
        ...

    async def reconnect(self) -> None:
        """Bring the peer back; the channel must find it again on its own."""
        ...
