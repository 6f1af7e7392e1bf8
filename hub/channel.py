"""The Channel base class: five things a channel implements, the rest it inherits."""

from __future__ import annotations

import abc
import asyncio
import enum
import ipaddress
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from hub.errors import AuthFailed, ChannelError, NotReady
from hub.messages import OutboundMessage

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.web.openapi import ApiRegistry


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only: where a peer may be reached without encryption."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do, declared once and read by the inbox and the router."""

    realtime: bool = False
    """Messages arrive and leave live (chat, voice) rather than store-and-forward (email)."""
    media: tuple[str, ...] = ()
    """Content types it can carry besides text."""
    can_initiate: bool = False
    """The hub may start a conversation on it (outbound campaigns, callbacks)."""
    max_text: int = 0
    """Longest text it accepts in one message; 0 is no limit."""
    typing: bool = False
    read_receipts: bool = False


@dataclass(frozen=True, slots=True)
class Control:
    """One thing a person can do to a live interaction of a channel (hold a call, mute it),
    declared by the channel and offered by the inbox as a button with a key."""

    action: str
    """Its name in ``POST /api/interactions/{id}/controls/{action}`` and ``Channel.control``."""
    label: str
    key: str = ""
    """The inbox's keyboard shortcut (``alt+<key>``); empty for none."""
    params: tuple[str, ...] = ()
    """Names of the values the person gives (``target``, ``digits``); strings, all required."""
    supervisor: bool = False
    """Only for supervisors (listen, whisper, barge), on any agent's interaction; otherwise
    for the agent who holds the interaction."""
    when: tuple[str, ...] = ()
    """The live ``state`` values (``Channel.live``) it applies in; empty for always."""
    private: tuple[str, ...] = ()
    """Params kept out of the audit log (DTMF digits may be a card number)."""
    pressed: str = ""
    """For a toggle: the live field that shows it on (``muted``); the inbox shows the button
    pressed while that field is true."""
    options: tuple[tuple[str, str], ...] = ()
    """(value, label) pairs the first param is chosen from: the inbox offers a list. A first
    param called ``queue`` without options is offered the centre's queues by the hub."""


class HealthState(enum.StrEnum):
    """A channel's standing towards its peer."""

    STARTING = "starting"
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"


@dataclass(slots=True)
class Health:
    """A channel's health: state, a line for people, and details for diagnostics."""

    state: HealthState = HealthState.STARTING
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"state": str(self.state), "detail": self.detail, **self.extra}


class DeliveryStatus(enum.StrEnum):
    """Where an outbound message stands; stored on the message and shown to the agent."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What ``Channel.send`` achieved: a status and the provider's id when it gave one."""

    status: DeliveryStatus
    provider_id: str = ""
    error: str = ""


class Channel(abc.ABC):
    """A channel the hub talks to customers through.

    Subclasses set ``name`` and ``capabilities`` and implement ``start``, ``stop``, ``send``
    and ``health``. They may add ``routes`` (webhooks, mounted under ``/channels/<name>/``),
    and ``offer``/``control`` when the router or the agent must act on the peer (a call).
    ``deliver`` wraps ``send`` with retries; ``report_health`` logs only state changes.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    send_attempts: ClassVar[int] = 3
    send_backoff: ClassVar[float] = 0.5

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.log = logging.getLogger(f"contacthub.channel.{self.name}")
        self._health = Health()

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect to the peer or start listening; return once inbound contacts flow."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop taking new contacts and release every connection; must be safe to repeat."""

    @abc.abstractmethod
    async def send(self, out: OutboundMessage) -> SendResult:
        """Hand one stored message to the peer.

        Raise ``NotReady`` when the peer is unreachable (the hub retries), ``AuthFailed``
        when credentials were refused, ``ChannelError`` when this message can never go.
        Return ``DeliveryStatus.PENDING`` when the message was handed to the channel's own
        background job (``hub_register_tasks``): that job reports the outcome with
        ``Hub.record_delivery``, and the hub records nothing for this call.
        """

    @abc.abstractmethod
    async def health(self) -> Health:
        """The channel's current health; cheap, no network round trip required."""

    def routes(self) -> web.Application | None:
        """A sub-application for this channel's webhooks, or None when it has none."""
        return None

    def admin_api(self) -> ApiRegistry | None:
        """The channel's administration API (its accounts, numbers), or None.

        Declare routes on a ``hub.web.openapi.ApiRegistry`` with paths relative to the
        channel (``/accounts``): the hub serves them under ``/api/admin/channels/<name>``,
        to logged-in admins only, behind the session and CSRF checks, and lists them in the
        OpenAPI document. Handlers audit their changes with ``Hub.audit``.
        """
        return None

    async def offer(self, interaction_id: int, agent_id: int, *, rings: float) -> None:
        """Called when the router offers one of this channel's interactions to an agent, for a
        channel that must act on its peer (voice rings the agent's phone for ``rings``
        seconds). Report the outcome with ``Hub.answered`` or ``Hub.not_answered``; the
        router's own timer ends an offer nobody reports. Runs as a task of its own: take as
        long as the ringing takes."""

    async def initiate(self, customer_id: int, agent_id: int, address: str) -> int:
        """Start a contact with a customer on this channel for an agent (click-to-call): open
        the interaction with ``Hub.open_outbound`` and return its id at once; what follows
        (ringing the agent's phone, then the customer's) is the channel's, reported with
        ``Hub.live``. Only for channels whose ``capabilities.can_initiate``; ``address`` is
        one of the customer's own addresses. ``ChannelError`` in words for the agent."""
        raise ChannelError(f"channel {self.name!r} cannot start a contact")

    async def offer_ended(self, interaction_id: int, agent_id: int) -> None:
        """Called when an offer ``offer`` acted on ended without an answer from the channel's
        side (the customer left, the router's timer won, the agent became unavailable): stop
        what the offer started (voice stops the phone ringing). Runs as a task of its own."""

    def controls(self) -> tuple[Control, ...]:
        """What people can do to this channel's live interactions (``control`` does it)."""
        return ()

    async def control(self, interaction_id: int, action: str, *, agent_id: int,
                      params: dict[str, str]) -> dict[str, Any]:
        """Do one of ``controls()`` to a live interaction for agent ``agent_id`` (the holder, or
        the supervisor for a supervisor's control) and return the live state after it (as
        ``live``). The hub has checked the action is declared, the person may use it and every
        param is given. Raise ``ChannelError`` with words for the person when it cannot be
        done now (the call is over, the number is refused): the inbox shows them."""
        raise ChannelError(f"channel {self.name!r} has no control action {action!r}")

    async def media(self, interaction_id: int, name: str) -> Path | None:
        """The file behind ``name``, one of the ``media`` items (``{"name", "content_type"}``)
        the channel listed in an interaction's record (a call's recording), for the hub to
        play to agents who may read the interaction; None when there is no such file here.
        Check the name against the record and the file against the channel's own directory:
        the name comes from a browser."""
        return None

    async def live(self, interaction_id: int) -> dict[str, Any] | None:
        """The live state of one of this channel's interactions, or None when it has none (not
        a call, or the call is over). A dict with at least ``state`` (e.g. ``talking``,
        ``held``, ``ended``), which ``Control.when`` is matched against; the rest is the
        channel's (``muted``, ``recording``, ``legs``...) and shown by the inbox as given.
        Push changes with ``Hub.live``."""
        return None

    async def deliver(self, out: OutboundMessage) -> SendResult:
        """Send with retries and backoff; a failure is returned, never swallowed or raised."""
        for attempt in range(1, self.send_attempts + 1):
            try:
                return await self.send(out)
            except NotReady as err:
                if attempt == self.send_attempts:
                    return SendResult(DeliveryStatus.FAILED, error=f"peer not ready: {err}")
                await asyncio.sleep(self.send_backoff * 2 ** (attempt - 1) * random.uniform(1, 1.5))
            except (AuthFailed, ChannelError) as err:
                return SendResult(DeliveryStatus.FAILED, error=str(err))
        raise AssertionError("unreachable")

    def report_health(self, state: HealthState, detail: str = "", **extra: Any) -> None:
        """Record health; one log line per change of state, none while it stays the same."""
        if state != self._health.state:
            level = logging.WARNING if state in (HealthState.DOWN, HealthState.DEGRADED) else logging.INFO
            self.log.log(level, "channel %s is %s%s", self.name, state, f": {detail}" if detail else "")
        self._health = Health(state, detail, extra)

    @property
    def current_health(self) -> Health:
        return self._health
