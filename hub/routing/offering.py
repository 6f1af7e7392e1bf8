"""The offers of the live ACD (``RoutingService``): kept, rung, announced, expired, declined,
missed. Mixed into the service, whose router, timers and agents' states these use."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hub.channel import Channel
from hub.events import OfferEvent
from hub.plugins import call_all
from hub.routing import offers as stored
from hub.routing.model import Offer
from hub.routing.states import AgentState
from hub.routing.topics import MISSED, TOPIC, agent_topic

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.core import HubCore
    from hub.routing.config import RoutingConfig
    from hub.routing.engine import Router
    from hub.routing.states import AgentStates

log = logging.getLogger("contacthub.routing")
S = AgentState


class Offering:
    """Offers: ``_made`` keeps new ones and rings the agents; the rest ends them. Uses the
    service's timers (``_later``, ``_cancel``, ``_wake``, ``_board_soon``) and ``_try_change``."""

    core: HubCore
    router: Router | None
    config: RoutingConfig | None
    states: AgentStates
    agent_state: dict[int, AgentState]
    clock: Callable[[], float]
    _ringing: set[asyncio.Task[None]]

    async def _made(self, offers: list[Offer]) -> None:
        """Keep new offers, ring the agents, start their timers."""
        if not offers:
            return
        config = self.config
        assert config is not None
        kept = await stored.store_offers(self.core.sessions, offers, dict(config.offer_timeout))
        now = self.clock()
        for offer in kept:
            timeout = config.offer_timeout.get(offer.queue, 20.0)
            self._later(("offer", offer.interaction.id), timeout - (now - offer.offered_at), expiry(offer))
            if self.agent_state.get(offer.agent_id, S.IDLE) == S.IDLE:
                await self._try_change(offer.agent_id, S.OFFERED, interaction_id=offer.interaction.id,
                                       expect=S.IDLE)
            await self._announce(offer, "offered", now, rings=timeout)
            self._ring(offer, timeout)
        self._board_soon()

    def _ring(self, offer: Offer, timeout: float) -> None:
        """A channel that acts on offers (voice rings a phone) hears of this one, in a task of
        its own: the router never waits for a phone."""
        channel = self.core.channels.get(offer.interaction.channel)
        if channel is None or type(channel).offer is Channel.offer:
            return
        task = asyncio.create_task(channel.offer(offer.interaction.id, offer.agent_id, rings=timeout))
        self._ringing.add(task)
        task.add_done_callback(self._rung)

    def _rung(self, task: asyncio.Task[None]) -> None:
        self._ringing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("routing: the channel failed to ring an offer", exc_info=task.exception())

    def _ring_off(self, offer: Offer) -> None:
        """The channel that rang for an offer that ended unanswered stops ringing."""
        channel = self.core.channels.get(offer.interaction.channel)
        if channel is None or type(channel).offer_ended is Channel.offer_ended:
            return
        task = asyncio.create_task(channel.offer_ended(offer.interaction.id, offer.agent_id))
        self._ringing.add(task)
        task.add_done_callback(self._rung)

    async def _announce(self, offer: Offer, kind: str, now: float, *, rings: float | None = None,
                        reason: str = "") -> None:
        if kind in ("withdrawn", "timeout"):
            self._ring_off(offer)
        interaction = offer.interaction
        await announce(self.core, OfferEvent(
            kind, interaction.id, offer.agent_id, offer.queue, offer.level, interaction.channel,
            interaction.tier, datetime.fromtimestamp(now, UTC), waited=now - interaction.arrived_at,
            timeout=rings, reason=reason))

    async def _expired(self, interaction_id: int, agent_id: int) -> None:
        router = self.router
        assert router is not None
        offer = router.offers.get(interaction_id)
        if offer is None or offer.agent_id != agent_id:
            return
        if await stored.claim_offer(self.core.sessions, interaction_id, agent_id) is None:
            return  # accepted or withdrawn meanwhile: that event follows
        await self._missed(offer, "timeout")

    async def _on_declined(self, interaction_id: int, agent_id: int) -> None:
        router = self.router
        assert router is not None
        offer = router.offers.get(interaction_id)
        if offer is not None and offer.agent_id == agent_id:
            await self._missed(offer, "declined")

    async def _missed(self, offer: Offer, kind: str) -> None:
        """Not accepted: the next agent gets it, this one is set busy (the missed-offer rule)."""
        router = self.router
        assert router is not None
        now = self.clock()
        self._cancel(("offer", offer.interaction.id))
        made = router.decline(offer, now, MISSED)
        if kind == "timeout":  # a decline was announced, and the agent set busy, by its process
            await self._announce(offer, kind, now)
            await self._try_change(offer.agent_id, S.BUSY, reason=MISSED)
        await self._made(made)
        self._wake()
        await self._report_misses(offer.agent_id)

    async def _report_misses(self, agent_id: int) -> None:
        """Every ``missed_offer_alert`` misses in a day, supervisors hear of the agent."""
        every = self.core.settings.missed_offer_alert
        if every <= 0:
            return
        # Read now, after the change: the busy span just opened counts.
        local = datetime.fromtimestamp(self.clock(), ZoneInfo(self.core.settings.timezone))
        day = await self.states.today(agent_id, local)
        if day.missed_offers and day.missed_offers % every == 0:
            await self.core.bus.publish("supervisors", {
                "type": "alert", "kind": "missed_offers", "agent_id": agent_id, "count": day.missed_offers})

    async def _next(self, agent_id: int) -> None:
        router = self.router
        assert router is not None
        if agent_id not in router.agents:
            return
        offer = router.pick_next(agent_id, self.clock())
        if offer is None:
            await self.core.bus.publish(agent_topic(agent_id), {"type": "next", "found": False})
            return
        await self._made([offer])

async def announce(core: HubCore, event: OfferEvent) -> None:
    """Tell plugins, observers and the agent's screens about an offer; by whichever process
    decided it (the leader for offers, timeouts and withdrawals; the answering process for
    accepts and declines), once."""
    await call_all(core.pm, "hub_on_offer", event=event)
    payload = event.as_dict()
    await core.bus.publish(TOPIC, payload)
    await core.bus.publish(agent_topic(event.agent_id), {"type": "offer", **payload})


def expiry(offer: Offer) -> dict[str, Any]:
    return {"kind": "expire", "interaction_id": offer.interaction.id, "agent_id": offer.agent_id}
