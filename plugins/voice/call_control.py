"""Call control from the inbox: what an agent can do to the call they are on, and the
FreeSWITCH commands that do it.

Every control acts on legs the hub knows (the caller's, the agent's phone) by UUID over the
shared Event Socket connection. The switch's events then confirm the change; the state is
updated at once from the command's success so the agent's button answers without waiting
for the event, which is then recognised as the same change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.channel import Control
from hub.errors import ChannelError, HubError
from plugins.voice.call_actions import CallActions
from plugins.voice.consult import CONSULT_CONTROLS, Consultation
from plugins.voice.live_calls import ON_CALL, LiveCall, LiveCalls

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.config import VoiceConfig
    from plugins.voice.esl.connection import EslConnection

LIVE = (*ON_CALL, "consulting", "conference", "dialing")
"""States in which the agent still has the call."""
CONTROLS = (
    Control("hold", "Hold", key="h", when=("talking",)),
    Control("resume", "Resume", key="h", when=("held",)),
    Control("mute", "Mute", key="m", when=ON_CALL, pressed="muted"),
    Control("dtmf", "Send digits", key="d", params=("digits",), private=("digits",), when=ON_CALL),
    Control("record", "Record", key="r", when=ON_CALL, pressed="recording"),
    Control("secure", "Secure payment", key="s", when=ON_CALL, pressed="secure"),
    Control("transfer_queue", "Transfer to a queue", key="t", params=("queue",), when=ON_CALL),
    Control("transfer_number", "Transfer to a number", key="x", params=("number",), when=ON_CALL),
    Control("transfer_ivr", "Back to the IVR", key="i", params=("node",), when=ON_CALL),
    Control("one_way_audio", "Mark: one-way audio", key="1", when=ON_CALL),
    Control("dropped", "Mark: dropped call", key="2", when=ON_CALL),
    Control("hangup", "Hang up", key="e", when=LIVE),
    *CONSULT_CONTROLS,
)
"""The controls of a call, in the order the inbox shows them."""

_DIGITS = re.compile(r"^[0-9*#A-D]{1,32}$")
_NUMBER = re.compile(r"^\+?[0-9*#]{2,32}$")
MARKS = {"one_way_audio": "one_way_audio", "dropped": "dropped"}


class CallControl(CallActions):
    """Does one control to one call; ``ChannelError`` in words for the agent when it cannot."""

    def __init__(self, hub: Hub, calls: LiveCalls, config: VoiceConfig,
                 connection: Callable[[], EslConnection | None]) -> None:
        super().__init__(hub, calls, config, connection)
        self.consultation = Consultation(hub, calls, config, connection)
        self.ivr_nodes: dict[str, str] = {}
        """The IVR nodes a call may be sent back to, by id, with their titles (the channel
        fills it from its flow)."""
        calls.consult_gone = self.consultation.rejoin

    async def __call__(self, interaction_id: int, action: str, agent_id: int,
                      params: dict[str, str]) -> dict[str, Any]:
        call = self.calls.get(interaction_id)
        agent = call.agent if call is not None else None
        if call is None or agent is None or call.state not in LIVE:
            raise ChannelError("this call is not live any more")
        if agent.agent_id != agent_id:
            raise ChannelError("this call is on another agent's phone")
        control = next((c for c in CONTROLS if c.action == action), None)
        if control is None:
            raise ChannelError(f"a call has no control {action!r}")
        if control.when and call.state not in control.when:
            raise ChannelError(f"{control.label} is not possible while the call is {call.state}")
        if any(c.action == action for c in CONSULT_CONTROLS):
            await self.consultation(call, action, params)
        else:
            await getattr(self, f"_{action}")(call, params)
        await self.calls.publish(call)
        return call.live()

    async def _hold(self, call: LiveCall, params: dict[str, str]) -> None:
        # uuid_hold plays the held leg's hold_music to its partner: holding the agent's leg is
        # what puts the caller on music (and the agent's phone hears nothing).
        await self.api(f"uuid_hold {_agent_leg(call)}")
        await self.calls.held(call, True, time.time())

    async def _resume(self, call: LiveCall, params: dict[str, str]) -> None:
        if call.state != "held":
            raise ChannelError("the caller is not on hold")
        await self.api(f"uuid_hold off {_agent_leg(call)}")
        await self.calls.held(call, False, time.time())

    async def _mute(self, call: LiveCall, params: dict[str, str]) -> None:
        leg = _agent_leg(call)
        # What the switch reads from the agent's phone is what the caller hears of them.
        await self.api(f"uuid_audio {leg} stop" if call.muted else f"uuid_audio {leg} start read mute 1")
        call.muted = not call.muted
        await self.calls.publish(call)

    async def _dtmf(self, call: LiveCall, params: dict[str, str]) -> None:
        digits = params["digits"].upper()
        if not _DIGITS.match(digits):
            raise ChannelError("digits are 0-9, *, # and A-D, at most 32")
        await self.api(f"uuid_send_dtmf {call.customer} {digits}")

    async def _record(self, call: LiveCall, params: dict[str, str]) -> None:
        if call.recording == "off":
            await self.start_recording(call)
        else:
            await self.api(f"uuid_record {call.customer} stop {call.recordings[-1]}")
            call.recording = "off"
        await self.calls.publish(call)

    async def start_recording(self, call: LiveCall) -> None:
        """Record the caller and the agent, each on a channel of their own."""
        path = self.recording_path(call)
        await self.api(f"uuid_setvar {call.customer} RECORD_STEREO true")
        await self.api(f"uuid_record {call.customer} start {path}")
        if path not in call.recordings:
            call.recordings.append(path)
        call.recording = "on"

    def recording_path(self, call: LiveCall) -> str:
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        name = f"call-{call.interaction_id}-{len(call.recordings) + 1}.wav"
        return f"{self.config.recordings_dir.rstrip('/')}/{day}/{name}"

    async def _secure(self, call: LiveCall, params: dict[str, str]) -> None:
        # Silence, not a pause, is written while a card number is read: the recording's
        # length still matches the call's, and nothing of the card is ever on disk.
        if call.recording == "off":
            raise ChannelError("the call is not being recorded: there is nothing to pause")
        masking = call.recording == "on"
        verb = "mask" if masking else "unmask"
        await self.api(f"uuid_record {call.customer} {verb} {call.recordings[-1]}")
        call.recording = "paused" if masking else "on"
        await self.calls.publish(call)

    async def _transfer_queue(self, call: LiveCall, params: dict[str, str]) -> None:
        agent = call.agent
        assert agent is not None
        queue = params["queue"]
        try:
            await self.hub.requeue(call.interaction_id, queue, agent.agent_id)
        except HubError as err:
            raise ChannelError(str(err)) from err
        self.calls.requeued(call, queue)
        await self.calls.publish(call)
        await self._end_leg(agent.uuid)

    async def _transfer_number(self, call: LiveCall, params: dict[str, str]) -> None:
        number = params["number"].replace(" ", "").replace("-", "")
        if not _NUMBER.match(number):
            raise ChannelError("a number is digits (and *, #), with an optional leading +")
        agent = _agent_leg(call)
        await self.api(f"uuid_transfer {call.customer} {number} XML {self.config.transfer_context}")
        call.hangup_side, call.hangup_cause, call.transfer_target = "transferred", "NORMAL_CLEARING", number
        await self.calls.end(call, time.time())
        await self._end_leg(agent)

    async def _end_leg(self, leg: str) -> None:
        """Hang up a leg that may be gone already (the bridge it was in broke)."""
        try:
            await self.api(f"uuid_kill {leg} NORMAL_CLEARING")
        except ChannelError as err:
            if "No such channel" not in str(err):
                raise

    async def _transfer_ivr(self, call: LiveCall, params: dict[str, str]) -> None:
        """The caller goes back into the IVR at a node (the password, a self-service, a
        menu); the agent's part ends as if they had hung up, and if the caller asks for a
        person again that is a new interaction."""
        node = params["node"]
        if node not in self.ivr_nodes:
            raise ChannelError(f"the IVR has no node {node!r}")
        agent = _agent_leg(call)
        if call.agent is not None:
            call.agent.outcome = "transferred"
        call.back_to_ivr, call.hangup_side, call.transfer_target = node, "transferred", f"IVR {node}"
        call.hangup_cause = "NORMAL_CLEARING"
        await self._end_leg(agent)
        await self.calls.end(call, time.time())

    async def _one_way_audio(self, call: LiveCall, params: dict[str, str]) -> None:
        await self._mark(call, "one_way_audio")

    async def _dropped(self, call: LiveCall, params: dict[str, str]) -> None:
        await self._mark(call, "dropped")

    async def _mark(self, call: LiveCall, mark: str) -> None:
        if mark not in call.marks:
            call.marks.append(mark)
        await self.calls.publish(call)

    async def _hangup(self, call: LiveCall, params: dict[str, str]) -> None:
        call.hangup_side = call.hangup_side or "agent"
        if call.state == "dialing":  # the customer's phone may be ringing: it stops too
            await self._end_leg(call.customer)
        await self.api(f"uuid_kill {_agent_leg(call)} NORMAL_CLEARING")


def _agent_leg(call: LiveCall) -> str:
    agent = call.agent
    if agent is None:
        raise ChannelError("the agent's phone is not on this call")
    return agent.uuid
