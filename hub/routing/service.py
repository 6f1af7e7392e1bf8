"""The live ACD of a hub: the routing engine driven by the hub's events, with its state in
the database so a restart, or a standby taking over, loses no waiting contact and no offer.

Exactly one process leads (``Leadership``); only the leader holds a ``Router``. Every
process may accept or decline offers and change agents' states: those write the database
first (deleting the offer row decides races) and publish what happened; the leader applies
the events in order, one at a time, from a queue — so a handler that publishes further
events never re-enters another. Timers (offer expiry, relaxation and overflow steps, the end
of a wrap-up, a queue opening) put events on the same queue: there is no polling loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from hub.channel import Channel
from hub.db import transaction
from hub.errors import InvalidRequest
from hub.events import InteractionEvent, OfferEvent
from hub.models import Interaction
from hub.plugins import call_all
from hub.routing import offers as stored
from hub.routing.arrival import admit, hold
from hub.routing.config import CONFIG_TOPIC, load_routing_config, plugin_strategies
from hub.routing.engine import Router
from hub.routing.entry_rules import EntryRules
from hub.routing.lookahead import ARRIVALS, Lookahead
from hub.routing.model import Capacity, Offer, Queued, Refused
from hub.routing.model import Interaction as Routed
from hub.routing.places import place_in_queue
from hub.routing.states import TOPIC as STATES_TOPIC
from hub.routing.states import AgentState, AgentStates
from hub.routing.wallboard import Outcome, QueueStats, replay_service_levels, wallboard

if TYPE_CHECKING:
    from hub.core import HubCore
    from hub.routing.config import RoutingConfig
    from hub.routing.leader import Leadership
    from hub.routing.offers import OpenWork

log = logging.getLogger("contacthub.routing")
S = AgentState
AVAILABLE = frozenset({S.IDLE, S.OFFERED, S.ACTIVE, S.HOLD})
"""States in which routing may offer an agent more work, as far as their capacity allows."""
TOPIC = "routing"
"""Offer lifecycle for observers (``OfferEvent`` as a dict); declines from any process."""
REQUESTS = "routing-requests"
"""Asks of the leader from any process: ``{"kind": "next", "agent_id": 7}``."""
BOARD = "wallboard"
"""The leader's wallboard, at most once a second while something changes."""
MISSED = "missed_offer"
BURST = 500
"""Queued events taken at once, their arrivals read from the database together."""


def agent_topic(agent_id: int) -> str:
    """The topic an agent's screens listen on: offers, offer ends, alerts."""
    return f"agent:{agent_id}"


class RoutingService:
    """Owns the router while this process leads; otherwise keeps the latest wallboard."""

    def __init__(self, core: HubCore, states: AgentStates, *, clock: Callable[[], float] = time.time) -> None:
        self.core = core
        self.states = states
        self.clock = clock
        self.router: Router | None = None
        self.config: RoutingConfig | None = None
        self.rules: EntryRules | None = None
        self.agent_state: dict[int, AgentState] = {}
        self.stats = QueueStats()
        self.board: dict[str, Any] = {}
        self.leadership: Leadership | None = None
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._timers: dict[tuple[str, Any], asyncio.TimerHandle] = {}
        self._held: dict[str, dict[int, OpenWork]] = {}
        self._served: dict[str, int] = {}
        self._day: date | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._worker: asyncio.Task[None] | None = None
        self._ringing: set[asyncio.Task[None]] = set()
        self._leading = False
        self._ahead = Lookahead(core.sessions)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        bus = self.core.bus
        for topic in ("inbox", STATES_TOPIC, CONFIG_TOPIC, TOPIC, REQUESTS):
            self._unsubscribe.append(bus.subscribe(topic, self._on_bus))
        self._unsubscribe.append(bus.subscribe(BOARD, self._on_board))
        self._worker = asyncio.create_task(self._work())
        if self.core.settings.routing:
            from hub.routing.leader import Leadership

            self.leadership = Leadership(self.core.settings.database_url,
                                         retry_seconds=self.core.settings.leader_retry_seconds)
            await self.leadership.start(self._elected, self._deposed)

    async def stop(self) -> None:
        if self.leadership is not None:
            await self.leadership.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._drop()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def settled(self) -> None:
        """Wait until every event queued so far has been handled (tests, benchmarks)."""
        await self._events.join()

    async def _elected(self) -> None:
        # Events from now on queue behind the restore, which reads what came before them;
        # handling one twice is harmless (each handler checks what the router holds).
        self._leading = True
        self._events.put_nowait(("elected", {}))

    async def _deposed(self) -> None:
        self._leading = False
        self._events.put_nowait(("deposed", {}))

    async def _on_bus(self, topic: str, payload: dict[str, Any]) -> None:
        if self._leading:
            self._events.put_nowait((topic, payload))

    async def _on_board(self, _topic: str, payload: dict[str, Any]) -> None:
        self.board = payload

    async def _work(self) -> None:
        while True:
            burst = [await self._events.get()]
            while len(burst) < BURST and not self._events.empty():
                burst.append(self._events.get_nowait())
            if self.router is not None:
                await self._ahead.read(burst)
            for topic, payload in burst:
                try:
                    await self._handle(topic, payload)
                except Exception:
                    log.exception("routing failed to handle %s %s", topic, payload.get("kind", ""))
                finally:
                    self._events.task_done()
            self._ahead.clear()

    async def _handle(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "elected" or (topic == CONFIG_TOPIC and self.router is not None):
            await self._restore()
        elif topic == "deposed":
            self._drop()
        elif self.router is None:
            return
        elif topic == "inbox" and payload.get("event") == "InteractionEvent":
            await self._on_interaction(payload)
        elif topic == STATES_TOPIC:
            await self._on_state(int(payload["agent_id"]), S(payload["to_state"]), payload.get("reason", ""))
        elif topic == TOPIC and payload.get("kind") == "declined":
            await self._on_declined(int(payload["interaction_id"]), int(payload["agent_id"]))
        elif topic == REQUESTS and payload.get("kind") == "next":
            await self._next(int(payload["agent_id"]))
        elif topic == "timer":
            await self._on_timer(payload)

    # -- reading ------------------------------------------------------------------------------

    def position(self, interaction_id: int) -> int | None:
        """``place_in_queue`` when this process routes and the router holds the contact."""
        return None if self.router is None else place_in_queue(self.router, interaction_id, self.clock())

    def free_agent(self, queue: str, channel: str) -> int | None:
        """``Router.free_agent`` when this process routes; None otherwise."""
        return None if self.router is None else self.router.free_agent(queue, channel)

    def _drop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._held.clear()
        self.router = None

    def _later(self, key: tuple[str, Any], delay: float, payload: dict[str, Any]) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self._events.put_nowait(("timer", payload))

        self._timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay), fire)

    def _cancel(self, key: tuple[str, Any]) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    # -- restoring ----------------------------------------------------------------------------

    async def _restore(self) -> None:
        """Rebuild everything from the database: at election, and after a configuration change."""
        self._drop()
        settings = self.core.settings
        capacity = Capacity(dict(settings.capacity), frozenset(settings.capacity_exclusive),
                            frozenset(settings.capacity_interruptible))
        config = await load_routing_config(self.core.sessions, capacity, plugin_strategies(self.core.pm))
        channels = (set(self.core.channels) | set(settings.capacity)) - {"*"}
        router = Router(config.queues, config.tiers, strategies=config.strategies, channels=sorted(channels))
        for agent in config.agents.values():
            router.add_agent(agent)
        self.router, self.config = router, config
        self.rules = EntryRules(config.entry_rules, config.prefixes)
        now = self.clock()
        replay_service_levels(router, await self._count_today(now), now)
        rows = {row.interaction_id: row for row in await stored.stored_offers(self.core.sessions)}
        waiting = []
        for work in await stored.open_work(self.core.sessions):
            routed = self._routed(work)
            if work.status == "assigned":
                if work.agent_id in router.agents and work.queue in router.queues:
                    router.assign(routed, work.agent_id, work.assigned_at or now, answered=False)
                continue
            row = rows.pop(work.id, None)
            if row is not None and row.agent_id in router.agents and routed.queue in router.queues:
                offer = router.restore_offer(routed, row.agent_id, row.queue, row.level,
                                             row.offered_at.timestamp())
                self._later(("offer", work.id), stored.seconds_left(row, now), _expiry(offer))
                continue
            if row is not None:
                await stored.claim_offer(self.core.sessions, work.id)
            waiting.append(work)
        for work in waiting:
            await self._place(work, now, restoring=True)
        await self._restore_agents(now)
        self._wake()
        self._board_soon()
        log.info("routing: %d queues, %d agents, %d waiting, %d offers restored", len(config.queues),
                 len(config.agents), len(router.waiting.items), len(router.offers))

    async def _restore_agents(self, now: float) -> None:
        router = self.router
        assert router is not None
        current = await self.states.everyone()
        self.agent_state = {agent_id: cur.state for agent_id, cur in current.items()}
        ringing = {offer.agent_id for offer in router.offers.values()}
        made: list[Offer] = []
        for agent_id, cur in current.items():
            if agent_id not in router.agents:
                continue
            if cur.state == S.OFFERED and agent_id not in ringing:
                await self._try_change(agent_id, S.IDLE, expect_span=cur.span_id)
                continue  # the IDLE event makes the agent available
            if cur.state == S.WRAP_UP and cur.reason == "auto" and cur.since is not None:
                ends = cur.since.timestamp() + self.core.settings.wrap_up_seconds
                self._later(("wrap", agent_id), ends - now, {"kind": "wrap_up_end", "agent_id": agent_id})
            if cur.state in AVAILABLE:
                made += router.set_available(agent_id, True, now)
        await self._made(made)

    async def _count_today(self, now: float) -> list[Outcome]:
        start = self._day_start(now)
        query = (select(Interaction.queue, func.count()).where(Interaction.queued_at >= start)  # type: ignore[operator]
                 .group_by(Interaction.queue))
        async with self.core.sessions() as s:
            self._served = {queue: int(count) for queue, count in (await s.execute(query)).all()}
        self._day = start.date()
        # Service-level windows (30 min) may reach back before midnight: read that far too.
        since = min(start, datetime.fromtimestamp(now - self.router_window(), UTC))
        return await self.stats.restore(self.core.sessions, since, start)

    def router_window(self) -> float:
        return self.router.window if self.router is not None else 1800.0

    def _day_start(self, now: float) -> datetime:
        zone = ZoneInfo(self.core.settings.timezone)
        local = datetime.fromtimestamp(now, zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    def _routed(self, work: OpenWork, queue: str | None = None) -> Routed:
        config = self.config
        assert config is not None
        return Routed(work.id, queue or work.queue, work.arrived_at, tier=work.tier, channel=work.channel,
                      vip=work.tier in config.vip_tiers, region=work.region or None)

    # -- contacts -----------------------------------------------------------------------------

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

    # -- offers -------------------------------------------------------------------------------

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
            self._later(("offer", offer.interaction.id), timeout - (now - offer.offered_at), _expiry(offer))
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

    async def _on_timer(self, payload: dict[str, Any]) -> None:
        kind = payload["kind"]
        if kind == "expire":
            await self._expired(int(payload["interaction_id"]), int(payload["agent_id"]))
        elif kind == "due":
            router = self.router
            assert router is not None
            await self._made(router.tick(self.clock()))
            self._wake()
        elif kind == "opens":
            await self._opened(payload["queue"])
        elif kind == "wrap_up_end":
            await self._end_wrap_up(int(payload["agent_id"]))
        elif kind == "board":
            await self.publish_board()

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

    # -- agents -------------------------------------------------------------------------------

    async def _on_state(self, agent_id: int, state: AgentState, reason: str) -> None:
        router = self.router
        assert router is not None
        self.agent_state[agent_id] = state
        if state == S.WRAP_UP and reason == "auto":
            self._later(("wrap", agent_id), self.core.settings.wrap_up_seconds,
                        {"kind": "wrap_up_end", "agent_id": agent_id})
        if agent_id not in router.agents:
            self._board_soon()
            return
        available = state in AVAILABLE
        now = self.clock()
        made = router.set_available(agent_id, available, now, "" if available else f"{state}")
        if not available:
            for offer in [o for o in router.offers.values() if o.agent_id == agent_id]:
                self._cancel(("offer", offer.interaction.id))
                if await stored.claim_offer(self.core.sessions, offer.interaction.id, agent_id) is not None:
                    await self._announce(offer, "withdrawn", now, reason="agent_unavailable")
                    made += router.withdraw(offer, now)
        await self._made(made)
        self._board_soon()

    async def _end_wrap_up(self, agent_id: int) -> None:
        cur = await self.states.current(agent_id)
        if cur.state == S.WRAP_UP and cur.reason == "auto":
            await self.states.end_wrap_up(agent_id, cur.span_id or 0)

    async def _try_change(self, agent_id: int, to: AgentState, **kwargs: Any) -> None:
        """A change the hub makes as a consequence; the agent may have moved on meanwhile."""
        try:
            await self.states.change(agent_id, to, **kwargs)
        except InvalidRequest as err:
            log.info("agent %s not moved to %s: %s", agent_id, to, err.message)

    # -- time and wallboard -------------------------------------------------------------------

    def _wake(self) -> None:
        """Sleep until the router's next relaxation step or overflow."""
        router = self.router
        due = router.next_due() if router is not None else None
        if due is None:
            self._cancel(("due", None))
            return
        current = self._timers.get(("due", None))
        delay = due - self.clock()
        if current is None or current.when() > asyncio.get_running_loop().time() + delay:
            self._later(("due", None), delay, {"kind": "due"})

    def _board_soon(self) -> None:
        if ("board", None) not in self._timers:
            self._later(("board", None), 1.0, {"kind": "board"})

    async def publish_board(self) -> None:
        """Build the wallboard now and publish it to every process's screens."""
        router, config = self.router, self.config
        assert router is not None and config is not None
        held = {queue: len(items) for queue, items in self._held.items()}
        board = wallboard(router, config, self.stats, self.agent_state, held, self.clock())
        await self.core.bus.publish(BOARD, board)


async def announce(core: HubCore, event: OfferEvent) -> None:
    """Tell plugins, observers and the agent's screens about an offer; by whichever process
    decided it (the leader for offers, timeouts and withdrawals; the answering process for
    accepts and declines), once."""
    await call_all(core.pm, "hub_on_offer", event=event)
    payload = event.as_dict()
    await core.bus.publish(TOPIC, payload)
    await core.bus.publish(agent_topic(event.agent_id), {"type": "offer", **payload})


def _expiry(offer: Offer) -> dict[str, Any]:
    return {"kind": "expire", "interaction_id": offer.interaction.id, "agent_id": offer.agent_id}
