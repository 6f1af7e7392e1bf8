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
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hub.errors import InvalidRequest
from hub.models import Interaction
from hub.routing import offers as stored
from hub.routing.config import CONFIG_TOPIC, load_routing_config, plugin_strategies
from hub.routing.engine import Router
from hub.routing.entry_rules import EntryRules
from hub.routing.lookahead import Lookahead
from hub.routing.model import Capacity, Offer
from hub.routing.model import Interaction as Routed
from hub.routing.offering import Offering, expiry
from hub.routing.places import place_in_queue
from hub.routing.placing import Placing
from hub.routing.states import TOPIC as STATES_TOPIC
from hub.routing.states import AgentState, AgentStates
from hub.routing.topics import BOARD, REQUESTS, TOPIC
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
BURST = 500
"""Queued events taken at once, their arrivals read from the database together."""


class RoutingService(Placing, Offering):
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
                self._later(("offer", work.id), stored.seconds_left(row, now), expiry(offer))
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


