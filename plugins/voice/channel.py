"""The voice channel: one supervised Event Socket connection to FreeSWITCH and its calls.

The connection carries the call events the hub follows (``CallTable``) and the commands it
gives. After every (re)connect it subscribes again and reconciles the table with the
switch's own, because what happened while it was away was not sent to anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hub.channel import Capabilities, Channel, Control, Health, HealthState, SendResult
from hub.errors import ChannelError
from plugins.voice.adoption import adopt
from plugins.voice.arrivals import Arrivals, call_key
from plugins.voice.call_control import CONTROLS, CallControl
from plugins.voice.calls import LOST, Call, CallTable
from plugins.voice.config import VoiceConfig, load_ivr_flow
from plugins.voice.dialing import Dialer
from plugins.voice.esl.connection import EslConnection
from plugins.voice.esl.errors import ConnectionLost
from plugins.voice.esl.link import Options
from plugins.voice.esl.outbound import OutboundServer
from plugins.voice.esl.supervisor import Supervisor
from plugins.voice.live_calls import AgentLeg, LiveCalls
from plugins.voice.phones import Phones
from plugins.voice.ringing import ring
from plugins.voice.supervision import SUPERVISOR_CONTROLS, Supervision

if TYPE_CHECKING:
    from hub.facade import Hub
    from hub.messages import OutboundMessage
    from hub.web.openapi import ApiRegistry

CALL_EVENTS = ("CHANNEL_CREATE", "CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
               "CHANNEL_UNBRIDGE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_HANGUP",
               "CHANNEL_HANGUP_COMPLETE", "DTMF", "RECORD_START", "RECORD_STOP", "HEARTBEAT")
"""What the hub listens to on the shared connection (per-call control uses its own)."""
PHONE_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


class VoiceChannel(Channel):
    """Calls through FreeSWITCH; idle, and saying so in its health, until a switch is set."""

    name: ClassVar[str] = "voice"
    capabilities: ClassVar[Capabilities] = Capabilities(realtime=True, can_initiate=True)

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.config = VoiceConfig.from_settings(hub.settings)
        self.flow = load_ivr_flow(self.config)
        self.calls = CallTable()
        self.live_calls = LiveCalls(hub)
        self.supervisor: Supervisor | None = None
        self.arrivals = Arrivals(hub, self.flow, hold_music=self.config.hold_music,
                                 tts_engine=self.config.tts_engine, live=self.live_calls,
                                 services=hub.services, service_seconds=self.config.service_seconds,
                                 position_every=self.config.announce_position_seconds,
                                 position_text=self.config.position_text)
        named = {getattr(node, "service", None) for node in self.flow.nodes.values()} - {None}
        missing = sorted(str(name) for name in named - set(hub.services))
        if missing and self.config.configured:  # an idle channel runs no flow: nothing to warn of
            self.log.warning("voice: the IVR flow calls self-services no plugin offers (%s): those "
                             "nodes take their failure branch", ", ".join(missing))
        self.call_control = CallControl(hub, self.live_calls, self.config, self._connection)
        self.call_control.ivr_nodes = {
            node_id: str(node.title or node_id) for node_id, node in self.flow.nodes.items()
            if node.kind in ("menu", "verify", "service", "collect", "survey")}
        self.supervision = Supervision(hub, self.live_calls, self.config, self._connection)
        self.dialer = Dialer(hub, self.live_calls, self.config, self._connection)
        self.outbound: OutboundServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._adopted = False
        self.phones = Phones(hub, self.config.auto_answer)
        self._last_event_at: float | None = None
        self._last_error = ""
        self._calls_placed: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._ringing: dict[tuple[int, int], str] = {}
        """(interaction, agent) -> the agent phone's leg while it rings for that offer."""

    async def start(self) -> None:
        if not self.config.configured:
            # Unused rather than failing, as an email channel without accounts.
            self.report_health(HealthState.OK, "no switch configured: set esl_password (and esl_host) "
                                               "in [plugins.voice] to take calls")
            return
        self.report_health(HealthState.STARTING, "connecting to FreeSWITCH")
        self.outbound = OutboundServer(self.arrivals, host=self.config.outbound_host,
                                       port=self.config.outbound_port)
        await self.outbound.start()
        self.supervisor = Supervisor(self._connect, self._connected, label=self._peer,
                                     max_delay=self.config.reconnect_max_seconds,
                                     refused_delay=self.config.login_retry_seconds, announce=False)
        self._tasks.append(asyncio.create_task(self.supervisor.run(), name="voice:esl"))
        self._tasks.append(asyncio.create_task(self._watch_health(), name="voice:health"))
        self._unsubscribe = self.hub.subscribe("inbox", self._on_inbox)
        # Start-up waits a moment for the switch, never for long: a switch that is down is
        # reported and retried, and must not hold the other channels back.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.supervisor.answered.wait(), 5)
        self._refresh_health()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.supervisor is not None and self.supervisor.connection is not None:
            await self.supervisor.connection.close()
        self.supervisor = None
        if self.outbound is not None:
            await self.outbound.close()
        self.outbound = None

    async def offer(self, interaction_id: int, agent_id: int, *, rings: float) -> None:
        """Ring the agent's phone; the answer takes the offer and bridges the caller."""
        connection = self._connection()
        if connection is None:
            return  # the switch is away: the router's timer ends the offer and moves on
        leg = self._ringing[(interaction_id, agent_id)] = str(uuid.uuid4())
        caller, queued_at = self.arrivals.queued.get(interaction_id, (None, None))
        try:
            phone = await self.phones.of(agent_id)
            rung = await ring(self.hub, connection, interaction_id, agent_id,
                              endpoint=self.config.agent_endpoint, rings=rings, leg=leg, caller=caller,
                              agent_number=phone.number, auto_answer=phone.auto_answer,
                              hold_music=self.config.hold_music,
                              before_bridge=self._announce if self.config.announce_agent else None)
        finally:
            self._ringing.pop((interaction_id, agent_id), None)
        if rung is None:
            return
        if queued_at is None:  # not queued by this run of the hub: the interaction says when
            queued = (await self.hub.interaction(interaction_id))
            queued_at = datetime.fromisoformat(str(queued["queued_at"] or queued["created_at"])).timestamp()
        call = await self.live_calls.answered(
            interaction_id, rung.customer,
            AgentLeg(rung.leg, agent_id, rung.agent_number, rung.rung_at, rung.answered_at,
                     bridged_at=rung.bridged_at),
            queued_at=queued_at, ivr_path=self.arrivals.paths.get(rung.customer, []))
        if self.config.record_calls and call.recording == "off":
            try:
                await self.call_control.start_recording(call)
            except ChannelError as err:
                self.log.warning("voice: call %s is not recorded: %s", rung.customer, err)
            await self.live_calls.publish(call)

    async def _announce(self, caller: str, number: str) -> None:
        """自动报号: the caller hears who answers before being put through to them."""
        text = self.config.announce_agent.format(number=number, digits=" ".join(number))
        await self.arrivals.announce(caller, self.arrivals.playable(text))

    async def initiate(self, customer_id: int, agent_id: int, address: str) -> int:
        """Click-to-call: the agent's phone rings, then the customer's (``Dialer``)."""
        number = address.replace(" ", "").replace("-", "")
        if not PHONE_NUMBER.match(number):
            raise ChannelError("this address is not a phone number")
        if self._connection() is None:
            raise ChannelError("the phone system is not connected; try again in a moment")
        phone = await self.phones.of(agent_id)
        customer = str(uuid.uuid4())
        interaction_id = await self.hub.open_outbound(customer_id, call_key(customer), agent_id,
                                                      "Outbound call")
        call = self.live_calls.dialing(interaction_id, customer)
        await self.live_calls.publish(call)
        task = asyncio.create_task(self.dialer.place(call, agent_id, phone, number))
        self._calls_placed.add(task)
        task.add_done_callback(self._calls_placed.discard)
        return interaction_id

    async def _on_inbox(self, _topic: str, payload: dict[str, Any]) -> None:
        """An offer accepted on screen while the agent's phone rings: the phone is told to go
        off-hook (``uuid_phone_event talk``, for phones that obey it) and the answer, whenever
        it comes, puts the caller through."""
        if payload.get("event") != "InteractionEvent" or payload.get("kind") != "assigned":
            return
        key = (int(payload.get("interaction_id") or 0), int(payload.get("agent_id") or 0))
        leg, connection = self._ringing.get(key), self._connection()
        if leg is not None and connection is not None:
            with contextlib.suppress(ChannelError):
                await connection.api(f"uuid_phone_event {leg} talk")

    async def offer_ended(self, interaction_id: int, agent_id: int) -> None:
        """The offer ended unanswered (the caller left, its time ran out): the phone stops
        ringing now rather than at the end of the originate's own timeout."""
        leg, connection = self._ringing.get((interaction_id, agent_id)), self._connection()
        if leg is None or connection is None:
            return
        # Answered or gone in the meantime: the ringing task sorts that out.
        with contextlib.suppress(ChannelError):
            await connection.api(f"uuid_kill {leg} ORIGINATOR_CANCEL")

    def admin_api(self) -> ApiRegistry | None:
        from plugins.voice.admin import admin_api

        return admin_api(self)

    def controls(self) -> tuple[Control, ...]:
        nodes = tuple(self.call_control.ivr_nodes.items())
        return tuple(replace(c, options=nodes) if c.action == "transfer_ivr" else c
                     for c in CONTROLS) + SUPERVISOR_CONTROLS

    async def control(self, interaction_id: int, action: str, *, agent_id: int,
                      params: dict[str, str]) -> dict[str, Any]:
        if any(c.action == action for c in SUPERVISOR_CONTROLS):
            return await self.supervision(interaction_id, action, agent_id, params)
        return await self.call_control(interaction_id, action, agent_id, params)

    async def media(self, interaction_id: int, name: str) -> Path | None:
        """A call's recording, when the hub can read the switch's ``recordings_dir`` (the same
        machine, or a shared mount) and the file named in the record lies inside it."""
        record = (await self.hub.interaction(interaction_id))["record"] or {}
        item = next((m for m in record.get("media", []) if m.get("name") == name), None)
        if item is None:
            return None
        path = Path(str(item.get("path", "")))
        return await asyncio.to_thread(_inside, Path(self.config.recordings_dir), path)

    async def live(self, interaction_id: int) -> dict[str, Any] | None:
        call = self.live_calls.get(interaction_id)
        return call.live() if call is not None else None

    async def send(self, out: OutboundMessage) -> SendResult:
        raise ChannelError("a call carries no text messages; use the call controls")

    async def health(self) -> Health:
        if self.supervisor is not None:
            self._refresh_health()
        return self.current_health

    def _connection(self) -> EslConnection | None:
        return self.supervisor.connection if self.supervisor is not None else None

    @property
    def _peer(self) -> str:
        return f"FreeSWITCH at {self.config.esl_host}:{self.config.esl_port}"

    async def _connect(self) -> EslConnection:
        password = self.config.esl_password
        assert password is not None
        return await EslConnection.connect(
            self.config.esl_host, self.config.esl_port, password.get_secret_value(),
            options=Options(command_seconds=self.config.command_seconds))

    async def _connected(self, connection: EslConnection) -> None:
        """Subscribe, then reconcile: events from now on queue behind the table's check."""
        await connection.subscribe(*CALL_EVENTS)
        lost, found = self.calls.reconcile(await connection.channels())
        for call in lost:
            await self._call_ended(call)
        if lost or found:
            self.log.info("voice: after connecting, %d calls had ended meanwhile and %d were new",
                          len(lost), len(found))
        if not self._adopted:
            # Once per run of the hub: what a previous run left open, checked against the switch.
            self._adopted = True
            await adopt(self.hub, self.calls, self.live_calls, self.arrivals, connection)
        self._tasks.append(asyncio.create_task(self._pump(connection), name="voice:events"))

    async def _pump(self, connection: EslConnection) -> None:
        with contextlib.suppress(ConnectionLost):
            async for event in connection.events:
                self._last_event_at = time.time()
                call = self.calls.apply(event)
                await self.live_calls.on_event(event)
                if call is not None and call.ended:
                    await self._call_ended(call)

    async def _call_ended(self, call: Call) -> None:
        """A leg is over. A caller still waiting in a queue left: the interaction closes as
        abandoned. The call's own socket usually says so first; this covers a call that
        ended while the hub was not connected, whose socket went with the switch."""
        interaction_id = self.arrivals.waiting.pop(call.uuid, None)
        if interaction_id is not None and await self.hub.customer_left(interaction_id):
            self.log.info("voice: call %s ended (%s) while waiting", call.uuid, call.hangup_cause)
        live = self.live_calls.of_leg(call.uuid)
        if live is not None and live.ended_at is None:
            # Its hangup was never heard (the switch was away): the call ends as the switch says.
            live.hangup_cause = live.hangup_cause or call.hangup_cause
            side = "customer" if call.uuid == live.customer else "agent"
            live.hangup_side = live.hangup_side or ("switch" if call.hangup_cause == LOST else side)
            await self.live_calls.end(live, call.ended_at)

    async def _watch_health(self) -> None:
        # The supervisor logs the changes itself; this keeps the health line current.
        while True:
            await asyncio.sleep(0.5)
            self._refresh_health()

    def _refresh_health(self) -> None:
        supervisor = self.supervisor
        assert supervisor is not None
        if supervisor.error is not None:
            self._last_error = str(supervisor.error)
        last_event = self._last_event_at
        diagnostics = {
            "peer": f"{self.config.esl_host}:{self.config.esl_port}", "calls": len(self.calls),
            "waiting": len(self.arrivals.waiting), "last_error": self._last_error,
            "last_event_at": datetime.fromtimestamp(last_event, UTC).isoformat() if last_event else "",
        }
        if supervisor.up.is_set():
            self.report_health(HealthState.OK, "", **diagnostics)
        elif supervisor.error is not None:
            self.report_health(HealthState.DOWN, str(supervisor.error), **diagnostics)
        else:
            self.report_health(HealthState.STARTING, "connecting to FreeSWITCH", **diagnostics)


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` if it is a file under ``root`` once links and ``..`` are resolved."""
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(root.resolve()) and resolved.is_file() else None
