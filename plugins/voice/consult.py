"""Consultation from the inbox: the agent puts the caller on music, talks to a colleague (by
number, or whoever of a queue is free) or an outside number (internal or external help),
then transfers the call to them, brings the three together, or goes back to the caller.

The switch does it with bridges. The caller's leg parks when its bridge ends
(``park_after_bridge``, set when the call was put through) and hears the hold music by
``uuid_broadcast``; the agent's leg parks too (set here), so that neither hangs up when the
other party of their bridge goes. The consulted party is rung with ``bgapi originate`` and,
once they answer, bridged to the agent. The three-way call moves the three legs into a
conference room of their own (``cc-<interaction>``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.channel import Control
from hub.errors import ChannelError, HubError
from plugins.voice.call_actions import CallActions
from plugins.voice.live_calls import ON_CALL, AgentLeg, LiveCall, LiveCalls

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.config import VoiceConfig
    from plugins.voice.esl.connection import EslConnection

log = logging.getLogger("contacthub.channel.voice")
CONSULT_CONTROLS = (
    Control("consult", "Consult", key="c", params=("target",), when=ON_CALL),
    Control("consult_queue", "Consult a queue", key="k", params=("queue",), when=ON_CALL),
    Control("transfer_agent", "Transfer to an agent", key="a", params=("agent",), when=ON_CALL),
    Control("complete_transfer", "Transfer to them", key="f", when=("consulting",)),
    Control("conference", "Three-way call", key="3", when=("consulting",)),
    Control("cancel_consult", "Back to the caller", key="g", when=("consulting",)),
)
_NUMBER = re.compile(r"^\+?[0-9*#]{2,32}$")
RING_SECONDS = 30


class Consultation(CallActions):
    """Does the consultation controls on a live call (see the module)."""

    def __init__(self, hub: Hub, calls: LiveCalls, config: VoiceConfig,
                 connection: Callable[[], EslConnection | None]) -> None:
        super().__init__(hub, calls, config, connection)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, call: LiveCall, action: str, params: dict[str, str]) -> None:
        if action == "consult":
            await self._consult(call, params["target"])
        elif action == "consult_queue":
            await self._consult_queue(call, params["queue"].strip())
        elif action == "transfer_agent":
            await self._consult(call, params["agent"], blind=True)
        elif action == "complete_transfer":
            await self._complete(call)
        elif action == "conference":
            await self._conference(call)
        elif action == "cancel_consult":
            await self._back(call)

    async def _consult(self, call: LiveCall, target: str, *, blind: bool = False) -> None:
        """Ring the colleague or number while the caller holds; ``blind``: a colleague who
        answers gets the caller at once (the agent does not talk to them first)."""
        if call.consult_leg is not None:
            raise ChannelError("a consultation is already under way")
        call.consult_failed = ""
        target = target.replace(" ", "").replace("-", "")
        colleague = await self.hub.agent_by_number(target)
        if colleague is not None:
            dial = self.config.agent_endpoint.format(number=target)
            call.consult_agent_id, call.consult_target = int(colleague["id"]), f"agent {target}"
        elif blind:
            raise ChannelError(f"no agent has the number {target!r}")
        elif _NUMBER.match(target):
            dial = self.config.outside_endpoint.format(number=target, context=self.config.transfer_context)
            call.consult_agent_id, call.consult_target = None, target
        else:
            raise ChannelError("give an agent number or a phone number (digits, *, #, a leading +)")
        agent = call.agent
        assert agent is not None
        leg = str(uuid.uuid4())
        connection = self.connection()
        if call.state != "held":
            await self.api(f"uuid_hold {agent.uuid}")  # the caller hears the music meanwhile
            await self.calls.held(call, True, time.time())
        job = await connection.bgapi(
            f"originate {{origination_uuid={leg},originate_timeout={RING_SECONDS},ignore_early_media=true,"
            f"contacthub_interaction={call.interaction_id}}}{dial} &park()")
        call.consult_leg, call.consult_state, call.consult_blind = leg, "ringing", blind
        self.calls.watch(call, leg)
        task = asyncio.create_task(self._answered(call, leg, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consult_queue(self, call: LiveCall, queue: str) -> None:
        """Ask a queue for help: the agent routing would give a new call of that queue now is
        rung, as a colleague is by number. Routing does not hold them back meanwhile: one it
        gives a call first is busy on it, and the agent hears they did not answer."""
        colleague = await self.hub.free_agent(queue)
        if colleague is None:
            raise ChannelError(f"no agent of the queue {queue!r} is free now; try again in a moment "
                               "or consult an agent by number")
        await self._consult(call, str(colleague["number"]))
        call.consult_target = f"{call.consult_target} ({queue})"

    async def _answered(self, call: LiveCall, leg: str, job: Any) -> None:
        """The consulted party answered: the agent talks to them, the caller hears music.
        No answer: the agent is told and stays with the caller (still on hold)."""
        agent = call.agent
        try:
            await job
        except HubError as err:
            if call.consult_leg == leg:  # else its hangup event said it first
                call.consult_failed = f"{call.consult_target}: {getattr(err, 'reason', err)}"
                self.calls.end_consult(call)
                await self.calls.publish(call)
            return
        if call.consult_leg != leg or agent is None or call.ended_at is not None:
            await self.quietly(f"uuid_kill {leg}")
            return
        if call.consult_blind:
            try:
                await self._complete(call)
            except ChannelError as err:
                log.info("voice: transfer of call %s failed: %s", call.customer, err)
                await self.quietly(f"uuid_kill {leg}")
                self.calls.end_consult(call)
            await self.calls.publish(call)
            return
        try:
            await self.api(f"uuid_setvar {agent.uuid} park_after_bridge true")
            await self.api(f"uuid_hold off {agent.uuid}")
            await self.api(f"uuid_bridge {agent.uuid} {leg}")
            # The caller's bridge ended with it: parked, and on music until the agent decides.
            await self.api(f"uuid_broadcast {call.customer} {self.config.hold_music} aleg")
        except ChannelError as err:
            log.info("voice: consultation on call %s failed: %s", call.customer, err)
            await self.quietly(f"uuid_kill {leg}")
            self.calls.end_consult(call)
            await self.calls.publish(call)
            return
        call.consult_state, call.state = "talking", "consulting"
        await self.calls.publish(call)

    async def _complete(self, call: LiveCall) -> None:
        """The caller goes to the consulted party; the agent's leg hangs up."""
        agent, leg = call.agent, call.consult_leg
        assert agent is not None and leg is not None
        if call.consult_agent_id is not None:
            try:
                await self.hub.hand_over(call.interaction_id, agent.agent_id, call.consult_agent_id)
            except HubError as err:
                raise ChannelError(str(err)) from err
        await self.api(f"uuid_bridge {call.customer} {leg}")
        agent.outcome = "transferred"
        target, colleague = call.consult_target, call.consult_agent_id
        self.calls.end_consult(call, keep_leg=True)
        now = time.time()
        if colleague is not None:
            call.agents.append(AgentLeg(leg, colleague, target.removeprefix("agent "), now, now,
                                        bridged_at=now))
            if call.held_since is not None:  # the caller's wait on music ends here
                call.held_seconds += max(0.0, now - call.held_since)
            call.state, call.held_since = "talking", None
            self.calls.watch(call, leg)
        else:
            call.hangup_side, call.hangup_cause = "transferred", "NORMAL_CLEARING"
            call.transfer_target = target
            await self.calls.end(call, now)
        await self.quietly(f"uuid_kill {agent.uuid} NORMAL_CLEARING")

    async def _conference(self, call: LiveCall) -> None:
        """The caller, the agent and the consulted party in one room of their own."""
        agent, leg = call.agent, call.consult_leg
        assert agent is not None and leg is not None
        room = f"cc-{call.interaction_id}@default"
        await self.api(f"uuid_transfer {agent.uuid} -both 'conference:{room}' inline")
        await self.api(f"uuid_transfer {call.customer} 'conference:{room}' inline")
        if call.held_since is not None:
            await self.calls.held(call, False, time.time())
        call.conference, call.consult_state, call.state = room, "conference", "conference"

    async def _back(self, call: LiveCall) -> None:
        """The consulted party is hung up and the agent talks to the caller again."""
        agent, leg = call.agent, call.consult_leg
        assert agent is not None
        self.calls.end_consult(call)
        if leg is not None:
            await self.quietly(f"uuid_kill {leg} NORMAL_CLEARING")
        await self.rejoin(call)

    async def rejoin(self, call: LiveCall) -> None:
        """The agent and the caller together again (after a consultation)."""
        agent = call.agent
        if agent is None or call.ended_at is not None:
            return
        await self.api(f"uuid_bridge {call.customer} {agent.uuid}")
        if call.held_since is not None:
            await self.calls.held(call, False, time.time())
        call.state = "talking"

