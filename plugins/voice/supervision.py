"""Supervision of a call from the inbox: listen, whisper to the agent, barge in, take over.

The supervisor's own phone is rung (their agent number on ``agent_endpoint``) and, once they
answer, runs FreeSWITCH's ``eavesdrop`` on the agent's leg. The mode is the one the button
asked for: set by variables for the first one (``eavesdrop_whisper_bleg`` lets the agent
hear the supervisor, both variables make a three-way call), changed afterwards with the
digits eavesdrop obeys (0 listen, 2 whisper to the agent, 3 barge), sent as if the
supervisor had pressed them. Taking over bridges the caller to the supervisor's phone and
hangs the agent's leg up; the interaction becomes the supervisor's.
"""

from __future__ import annotations

import asyncio
import logging
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
SUPERVISOR_CONTROLS = (
    Control("listen", "Listen", key="l", supervisor=True, when=ON_CALL, pressed="listening"),
    Control("whisper", "Whisper to the agent", key="w", supervisor=True, when=ON_CALL, pressed="whispering"),
    Control("barge", "Barge in", key="b", supervisor=True, when=ON_CALL, pressed="barging"),
    Control("take_over", "Take over the call", key="o", supervisor=True, when=ON_CALL),
    Control("stop_supervising", "Stop supervising", key="q", supervisor=True, when=ON_CALL),
)
MODES = {"listen": "0", "whisper": "2", "barge": "3"}
"""The eavesdrop digit of each mode, the agent's leg being the one eavesdropped on."""
RING_SECONDS = 30


class Supervision(CallActions):
    """Does the supervisor's controls on a live call."""

    def __init__(self, hub: Hub, calls: LiveCalls, config: VoiceConfig,
                 connection: Callable[[], EslConnection | None]) -> None:
        super().__init__(hub, calls, config, connection)
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, interaction_id: int, action: str, supervisor_id: int,
                       params: dict[str, str]) -> dict[str, Any]:
        call = self.calls.get(interaction_id)
        if call is None or call.agent is None or call.state not in ON_CALL:
            raise ChannelError("this call is not live any more")
        if call.supervisor_id not in (None, supervisor_id):
            raise ChannelError("another supervisor is on this call")
        if action in MODES:
            await self._mode(call, action, supervisor_id)
        elif action == "take_over":
            await self._take_over(call, supervisor_id)
        elif action == "stop_supervising":
            await self._stop(call)
        else:
            raise ChannelError(f"a call has no control {action!r}")
        await self.calls.publish(call)
        return call.live()

    async def _mode(self, call: LiveCall, mode: str, supervisor_id: int) -> None:
        agent = call.agent
        assert agent is not None
        if call.supervisor_leg is not None:
            if call.supervision != "ringing":
                await self.api(f"uuid_recv_dtmf {call.supervisor_leg} {MODES[mode]}")
            call.supervision_mode = mode
            return
        number = str((await self.hub.agent(supervisor_id))["number"])
        leg = str(uuid.uuid4())
        variables = [f"origination_uuid={leg}", f"originate_timeout={RING_SECONDS}",
                     f"contacthub_interaction={call.interaction_id}", "origination_caller_id_name=Supervise"]
        if mode in ("whisper", "barge"):
            variables.append("eavesdrop_whisper_bleg=true")  # the agent hears the supervisor
        if mode == "barge":
            variables.append("eavesdrop_whisper_aleg=true")  # and so does the caller
        dial = self.config.agent_endpoint.format(number=number)
        connection = self.connection()
        job = await connection.bgapi(f"originate {{{','.join(variables)}}}{dial} &eavesdrop({agent.uuid})")
        call.supervisor_leg, call.supervisor_id, call.supervisor_number = leg, supervisor_id, number
        call.supervision, call.supervision_mode = "ringing", mode
        self.calls.watch_supervisor(call)
        task = asyncio.create_task(self._answered(call, leg, job, mode))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answered(self, call: LiveCall, leg: str, job: Any, started: str) -> None:
        """The supervisor's phone answered (eavesdrop runs, in mode ``started``) or not (the
        supervision ends)."""
        try:
            await job
        except HubError as err:
            log.info("voice: supervisor's phone for call %s: %s", call.customer, err)
            if call.supervisor_leg == leg:
                self.calls.end_supervision(call)
                await self.calls.publish(call)
            return
        if call.supervisor_leg != leg:
            return
        call.supervision = "on"
        if call.supervision_mode != started:  # another button while the phone rang
            try:
                await self.api(f"uuid_recv_dtmf {leg} {MODES[call.supervision_mode]}")
            except ChannelError as err:
                log.info("voice: supervisor's mode on call %s not changed: %s", call.customer, err)
        await self.calls.publish(call)

    async def _take_over(self, call: LiveCall, supervisor_id: int) -> None:
        agent, leg = call.agent, call.supervisor_leg
        if leg is None or call.supervision != "on":
            raise ChannelError("listen first: taking over puts the caller through to the phone you listen on")
        assert agent is not None
        try:
            await self.hub.take_over(call.interaction_id, supervisor_id)
        except HubError as err:
            raise ChannelError(str(err)) from err
        await self.api(f"uuid_setvar {call.customer} park_after_bridge true")
        await self.api(f"uuid_bridge {call.customer} {leg}")
        agent.outcome = "taken_over"
        now = time.time()
        call.agents.append(AgentLeg(leg, supervisor_id, call.supervisor_number, now, now))
        self.calls.taken_over(call)
        try:
            await self.api(f"uuid_kill {agent.uuid} NORMAL_CLEARING")
        except ChannelError as err:
            log.info("voice: agent's leg of call %s already gone: %s", call.customer, err)

    async def _stop(self, call: LiveCall) -> None:
        leg = call.supervisor_leg
        self.calls.end_supervision(call)
        if leg is not None:
            try:
                await self.api(f"uuid_kill {leg} NORMAL_CLEARING")
            except ChannelError as err:
                log.info("voice: supervisor's leg %s already gone: %s", leg, err)
