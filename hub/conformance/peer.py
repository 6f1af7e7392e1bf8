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


@runtime_checkable
class LivePeerDriver(PeerDriver, Protocol):
    """A ``PeerDriver`` that can also place a live contact (a call), for a channel that declares
    live controls (``Channel.controls()``): the kit then runs the whole life of live contacts,
    from the customer's arrival through the agent's answer and every control to the end.

    The kit adds the agents itself, new ones for each contact: an agent skilled in
    ``live_queue`` and made available, and a supervisor for the supervisors' controls. It tells
    the peer their numbers (``answer``) before the contact starts, and each contact comes from
    a new customer (``sender_for(1)``, ``sender_for(2)``...). A peer that cannot do this turns
    the contract off with ``supports_live_contact = False``.
    """

    live_queue: str
    """The queue the channel puts the contacts ``start_live_contact`` places in, as its settings
    decide (the voice test's IVR flow sends a caller who presses 1 to ``billing``). The kit
    creates it if it is missing and staffs it with one agent."""

    async def answer(self, agent_number: str) -> None:
        """From now on, the device of the agent with number ``agent_number`` answers whenever the
        channel reaches it: their phone picks up when it rings for an offer (or a supervisor's
        phone when listening in). A channel whose agents answer on screen has nothing to do
        here: the kit accepts the offer as the agent's screen would."""
        ...

    async def start_live_contact(self, sender: str) -> None:
        """Make the customer ``sender`` (from ``sender_for``) start one live contact that waits in
        ``live_queue``: a caller dials in and presses 1. Return once the customer is on the way;
        the kit waits for the hub to offer it and the agent's device to answer."""
        ...

    async def end_live_contact(self, sender: str) -> None:
        """The customer ``sender`` ends their live contact (hangs up). Nothing when it is already
        over (the agent hung up); safe to call twice."""
        ...
