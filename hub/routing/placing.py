"""Contacts in the live ACD (``RoutingService``): admitted and queued on arrival, held while
their queue is closed, let go when they are taken, moved or closed. Mixed into the service,
whose router, timers and agents' states these use."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from hub.db import transaction
from hub.events import InteractionEvent
from hub.models import Interaction
from hub.routing import offers as stored
from hub.routing.arrival import admit, hold
from hub.routing.lookahead import ARRIVALS
from hub.routing.model import Offer, Queued, Refused
from hub.routing.states import AgentState

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from hub.core import HubCore
    from hub.routing.config import RoutingConfig
    from hub.routing.engine import Router
    from hub.routing.entry_rules import EntryRules
    from hub.routing.lookahead import Lookahead
    from hub.routing.offers import OpenWork
    from hub.routing.wallboard import QueueStats

log = logging.getLogger("contacthub.routing")
S = AgentState


class Placing:
    """Contacts: ``_on_interaction`` for what the inbox says happened to one. Uses the
    service's timers (``_later``, ``_cancel``, ``_wake``, ``_board_soon``), ``_routed``,
    ``_day_start`` and ``_try_change``, and the offers' ``_made`` and ``_announce``."""

    core: HubCore
    router: Router | None
    config: RoutingConfig | None
    rules: EntryRules | None
    stats: QueueStats
    agent_state: dict[int, AgentState]
    clock: Callable[[], float]
    _ahead: Lookahead
    _held: dict[str, dict[int, OpenWork]]
    _served: dict[str, int]
    _day: date | None

    async def _on_interaction(self, payload: dict[str, Any]) -> None:
        kind, interaction_id = payload.get("kind"), int(payload["interaction_id"])
        if kind not in ARRIVALS:
            self._ahead.forget(interaction_id)
        if kind in ("opened", "followup", "moved"):
            await self._arrived(interaction_id, moved=kind == "moved")
        elif kind == "assigned":
            await self._assigned(interaction_id, int(payload["agent_id"]))
        elif kind == "closed":
            await self._closed(interaction_id)

    async def _arrived(self, interaction_id: int, *, moved: bool = False) -> None:
        router = self.router
        assert router is not None
        if moved:
            await self._forget(interaction_id)
        elif (interaction_id in router.waiting.items or interaction_id in router.offers
              or any(interaction_id in held for held in self._held.values())):
            return  # already placed: a follow-up mark or a replayed event changes nothing
        known, work = self._ahead.work(interaction_id)
        if not known:
            found = await stored.open_work(self.core.sessions, interaction_id)
            work = found[0] if found else None
        if work is not None and work.status != "assigned":
            await self._place(work, self.clock(), restoring=moved, moved=moved)

    async def _place(self, work: OpenWork, now: float, *, restoring: bool = False,
                     moved: bool = False) -> None:
        """Admit and queue one contact; ``restoring`` skips what was decided at its arrival, and
        a ``moved`` one is offered at once if an agent of its new queue is free."""
        router, config = self.router, self.config
        assert router is not None and config is not None and self.rules is not None
        at = datetime.fromtimestamp(now, UTC)
        queue = work.queue if work.queue in router.queues else "default"
        if restoring:
            closed = hold(config, queue, at)
            if closed is not None:
                self._hold(queue, work, closed[0], now)
                return
            if moved and (offer := router.readmit(self._routed(work, queue), now)) is not None:
                await self._made([offer])
            else:
                router.requeue(self._routed(work, queue), now)
            self._wake()
            return
        self._roll_day(now)
        addresses = self._ahead.addresses(work.customer_id)
        if addresses is None:
            addresses = await stored.addresses(self.core.sessions, work.customer_id)
        admission = admit(config, self.rules, work, addresses, at, self._served)
        if admission.region:
            await stored.remember_region(self.core.sessions, work.customer_id, admission.region)
            work = replace(work, region=admission.region)
        if admission.queue != work.queue:
            await self._set_queue(work.id, admission.queue)
        if admission.message:
            await self._tell(work, admission.reason, admission.message)
        if admission.action == "refuse":
            await self._refuse(work, admission.queue, admission.reason)
            return
        self._served[admission.queue] = self._served.get(admission.queue, 0) + 1
        if admission.action == "hold":
            self._hold(admission.queue, work, admission.opens_at, now)
            return
        decision = router.on_arrival(self._routed(work, admission.queue), now)
        if isinstance(decision, Offer):
            await self._made([decision])
        elif isinstance(decision, Refused):
            await self._refuse(work, admission.queue, decision.reason.replace(" ", "_"))
        elif isinstance(decision, Queued):
            self._wake()
        self._board_soon()

    def _hold(self, queue: str, work: OpenWork, opens_at: datetime | None, now: float) -> None:
        self._held.setdefault(queue, {})[work.id] = work
        if opens_at is not None:
            self._later(("opens", queue), opens_at.timestamp() - now, {"kind": "opens", "queue": queue})

    async def _tell(self, work: OpenWork, reason: str, text: str) -> None:
        """The customer hears why nobody answers now (closed hours, a blocked area); once per
        contact, whatever retries happen."""
        from hub.outbound import send_message

        try:
            await send_message(self.core, work.id, text, author_type="system",
                               client_id=f"routing-{reason}-{work.id}")
        except Exception:
            log.exception("could not tell interaction %s why it is %s", work.id, reason)

    async def _refuse(self, work: OpenWork, queue: str, reason: str) -> None:
        await stored.stop_routing(self.core.sessions, work.id)
        log.info("routing refused interaction %s in %s: %s", work.id, queue, reason)
        await self.core.interaction_event(InteractionEvent(
            "refused", work.id, work.channel, work.customer_id, queue=queue, disposition=reason))

    async def _set_queue(self, interaction_id: int, queue: str) -> None:
        async with transaction(self.core.sessions) as s:
            await s.execute(update(Interaction).where(Interaction.id == interaction_id).values(queue=queue))

    def _roll_day(self, now: float) -> None:
        today = self._day_start(now).date()
        if today != self._day:
            self._day, self._served = today, {}
            self.stats.new_day()

    async def _assigned(self, interaction_id: int, agent_id: int) -> None:
        router = self.router
        assert router is not None
        now = self.clock()
        if router.active.get(interaction_id, (None,))[0] == agent_id:
            return
        offer = router.offers.get(interaction_id)
        if offer is not None and offer.agent_id == agent_id:
            self._cancel(("offer", interaction_id))
            router.accept(offer, now)  # the answering process announced it
            self.stats.answered(offer.interaction, now)
            self._board_soon()
            return
        made = await self._forget(interaction_id)
        found = await stored.open_work(self.core.sessions, interaction_id)
        if found and agent_id in router.agents and found[0].queue in router.queues:
            routed = self._routed(found[0])
            router.assign(routed, agent_id, now)
            self.stats.answered(routed, now)
        await self._made(made)
        self._board_soon()

    async def _forget(self, interaction_id: int) -> list[Offer]:
        """Routing lets go of an interaction that went elsewhere (moved, picked)."""
        router = self.router
        assert router is not None
        now = self.clock()
        for held in self._held.values():
            held.pop(interaction_id, None)
        offer = router.offers.get(interaction_id)
        if offer is not None:
            self._cancel(("offer", interaction_id))
            await stored.claim_offer(self.core.sessions, interaction_id)
            await self._announce(offer, "withdrawn", now, reason="moved")
            made = router.cancel(offer, now)
            await self._idle_if_free(offer.agent_id)
            return made
        if interaction_id in router.active:
            agent_id = router.active[interaction_id][0]
            made = router.finish(agent_id, interaction_id, now)
            await self._idle_if_free(agent_id)
            return made
        router.waiting.remove(interaction_id)
        router.waiting.forget(interaction_id)
        return []

    async def _closed(self, interaction_id: int) -> None:
        router = self.router
        assert router is not None
        now = self.clock()
        for held in self._held.values():
            held.pop(interaction_id, None)
        if interaction_id in router.active:
            await self._finished(interaction_id, now)
        elif (offer := router.offers.get(interaction_id)) is not None:
            self._cancel(("offer", interaction_id))
            await stored.claim_offer(self.core.sessions, interaction_id)
            self.stats.abandoned(offer.interaction)
            await self._announce(offer, "withdrawn", now, reason="customer_left")
            made = router.abandon(interaction_id, now)
            await self._idle_if_free(offer.agent_id)
            await self._made(made)
        elif (item := router.waiting.items.get(interaction_id)) is not None:
            self.stats.abandoned(item[0])
            router.abandon(interaction_id, now)
        self._board_soon()

    async def _idle_if_free(self, agent_id: int) -> None:
        """An agent whose contact went elsewhere (the customer left, a supervisor moved it)
        and who holds nothing else is idle again, without a wrap-up for work not done."""
        router = self.router
        assert router is not None
        state = self.agent_state.get(agent_id)
        if state in (S.OFFERED, S.ACTIVE, S.HOLD) and not router.agents[agent_id].load:
            await self._try_change(agent_id, S.IDLE, expect=state)

    async def _finished(self, interaction_id: int, now: float) -> None:
        """The agent's contact ended: wrap-up after their last one, else more work."""
        router = self.router
        assert router is not None
        agent_id = router.active[interaction_id][0]
        agent = router.agents[agent_id]
        last = sum(agent.load.values()) <= 1
        wraps = last and self.agent_state.get(agent_id) in (S.ACTIVE, S.HOLD)
        if wraps:
            # Unavailable before capacity returns, or the freed slot is offered at once.
            router.set_available(agent_id, False, now, "wrap-up")
        made = router.finish(agent_id, interaction_id, now)
        if wraps:
            target = S.WRAP_UP if self.core.settings.wrap_up_seconds > 0 else S.IDLE
            await self._try_change(agent_id, target, interaction_id=interaction_id)
        await self._made(made)

    async def _opened(self, queue: str) -> None:
        config, router = self.config, self.router
        assert config is not None and router is not None
        now = self.clock()
        closed = hold(config, queue, datetime.fromtimestamp(now, UTC))
        if closed is not None:
            if closed[0] is not None:
                self._later(("opens", queue), closed[0].timestamp() - now, {"kind": "opens", "queue": queue})
            return
        made: list[Offer] = []
        for work in self._held.pop(queue, {}).values():
            decision = router.on_arrival(self._routed(work, queue), now)
            if isinstance(decision, Offer):
                made.append(decision)
        await self._made(made)
        self._wake()
