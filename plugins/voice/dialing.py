"""Click-to-call: the agent calls a customer from their panel.

The agent's own phone rings first (``bgapi originate ... &park()``); once they pick it up
they hear the ringback tone while the customer's number is dialled (``outside_endpoint``),
and the customer's answer bridges the two. From then on it is a call like any other: the
controls, the ACD states, the record (``direction: outbound``). A phone that does not answer
ends the attempt with its cause on the record.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING

from hub.errors import ChannelError, HubError
from plugins.voice.call_actions import CallActions
from plugins.voice.live_calls import AgentLeg, LiveCall

if TYPE_CHECKING:
    from plugins.voice.phones import Phone

log = logging.getLogger("contacthub.channel.voice")
RINGBACK = "tone_stream://%(1000,4000,450);loops=-1"
"""What the agent hears while the customer's phone rings (the 450 Hz ringback of China)."""
AGENT_RING_SECONDS = 30
CUSTOMER_RING_SECONDS = 45


class Dialer(CallActions):
    """Places the agent's calls to customers."""

    async def place(self, call: LiveCall, agent_id: int, phone: Phone, number: str) -> None:
        """Ring the agent, then the customer, then put them through; the record says why not."""
        try:
            connection = self.connection()
        except ChannelError:
            await self._failed(call, "agent", "NORMAL_TEMPORARY_FAILURE")
            return
        agent_leg, rung_at = str(uuid.uuid4()), time.time()
        auto = ",sip_auto_answer=true" if phone.auto_answer else ""
        dial = self.config.agent_endpoint.format(number=phone.number)
        try:
            await (await connection.bgapi(
                f"originate {{origination_uuid={agent_leg},originate_timeout={AGENT_RING_SECONDS},"
                f"contacthub_interaction={call.interaction_id}{auto}}}{dial} &park()"))
        except HubError as err:
            await self._failed(call, "agent", getattr(err, "reason", str(err)))
            return
        agent = AgentLeg(agent_leg, agent_id, phone.number, rung_at, time.time())
        call.agents.append(agent)
        self.calls.watch(call, agent_leg)
        await self.calls.publish(call)
        outside = self.config.outside_endpoint.format(number=number, context=self.config.transfer_context)
        try:
            await connection.api(f"uuid_broadcast {agent_leg} {RINGBACK} aleg")
            await (await connection.bgapi(
                f"originate {{origination_uuid={call.customer},originate_timeout={CUSTOMER_RING_SECONDS},"
                f"ignore_early_media=true,contacthub_interaction={call.interaction_id}}}{outside} &park()"))
        except HubError as err:
            await self._failed(call, "customer", getattr(err, "reason", str(err)))
            await self.quietly(connection, f"uuid_kill {agent_leg} NORMAL_CLEARING")
            return
        if call.ended_at is not None:  # the agent gave up meanwhile
            await self.quietly(connection, f"uuid_kill {call.customer} NORMAL_CLEARING")
            return
        try:
            await connection.api(f"uuid_bridge {call.customer} {agent_leg}")
        except HubError as err:
            await self._failed(call, "customer", str(err))
            return
        agent.bridged_at, call.state = time.time(), "talking"
        await self.calls.publish(call)
        await self.calls.save(call)

    async def _failed(self, call: LiveCall, side: str, cause: str) -> None:
        log.info("voice: call %s to the customer did not go through: %s (%s)", call.customer, cause, side)
        call.hangup_side, call.hangup_cause = call.hangup_side or side, call.hangup_cause or cause
        await self.calls.end(call)

