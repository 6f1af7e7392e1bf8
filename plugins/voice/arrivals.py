"""A call arriving on the hub's socket: who it is, the IVR, and then the queue, a transfer or
goodbye.

The dialplan hands each call to the hub with ``socket <host>:<port> async full``. The caller
is identified from the number (``Hub.caller``), led through the IVR flow, and a caller who
asks for a person becomes an interaction waiting in the chosen queue, with the path they
took through the IVR for the agent to see. They hear hold music until an agent takes the
call. The interaction is stored once per call, whatever is retried: its key is the call's
UUID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.errors import ChannelError
from hub.messages import InboundMessage
from plugins.voice.esl.errors import ConnectionLost
from plugins.voice.ivr import Flow, Hangup, IvrRun, RouteToQueue, Transfer, facts_from_caller
from plugins.voice.ivr_call import IvrCall, Service

if TYPE_CHECKING:
    from hub.facade import Hub
    from plugins.voice.esl.outbound import OutboundSession
    from plugins.voice.live_calls import LiveCalls

log = logging.getLogger("contacthub.channel.voice")
CHANNEL = "voice"


def call_key(uuid: str, part: int = 1) -> str:
    """The external id and thread key of a call: one interaction per call, and one more each
    time an agent sent the caller back into the IVR and they asked for a person again."""
    return f"call:{uuid}" if part == 1 else f"call:{uuid}#{part}"


class Arrivals:
    """The ``OutboundServer`` handler: one IVR per call, then where the IVR sent it."""

    def __init__(self, hub: Hub, flow: Flow, *, live: LiveCalls,
                 services: Mapping[str, Service] | None = None, hold_music: str = "local_stream://moh",
                 tts_engine: str = "flite", service_seconds: float = 5.0,
                 position_every: float = 0.0, position_text: str = "") -> None:
        self.hub = hub
        self.flow = flow
        self.live = live
        self.services = services or {}
        self.service_seconds = service_seconds
        self.position_every = position_every
        self.position_text = position_text
        self.hold_music = hold_music
        self.tts_engine = tts_engine
        self.waiting: dict[str, int] = {}
        """Call UUID -> interaction id, for calls waiting in a queue or talking."""
        self.paths: dict[str, list[dict[str, Any]]] = {}
        """Call UUID -> the caller's path through the IVR, while the call is with the hub."""
        self.sessions: dict[str, OutboundSession] = {}
        """Call UUID -> its socket, while the caller waits for an agent or talks."""
        self.queued: dict[int, tuple[str, float]] = {}
        """Interaction id -> (the caller's leg, when it was queued), while the socket has it:
        what ringing an agent needs without reading the interaction back."""

    async def __call__(self, session: OutboundSession) -> None:
        channel = session.channel
        number = channel.get("Caller-Caller-ID-Number") or channel.get("Channel-Caller-ID-Number") or ""
        run = IvrRun(self.flow, facts_from_caller(await self.hub.caller(number)))
        ivr = IvrCall(session, run, services=self.services, tts_engine=self.tts_engine,
                      service_seconds=self.service_seconds)
        try:
            final = await ivr.run()
            part = 1
            while isinstance(final, RouteToQueue):
                await ivr.play(final.prompts)
                node = await self._queue(session, ivr, final, number, part)
                if node is None:
                    break
                # The agent sent the caller back into the IVR: a new part if they ask again.
                part += 1
                final = await ivr.back_at(node)
            if isinstance(final, Transfer):
                await ivr.play(final.prompts)
                await session.execute("transfer", final.target)
            elif isinstance(final, Hangup) and not session.hungup.is_set():
                await ivr.play(final.prompts)
                await session.hangup("NORMAL_CLEARING")
        except (ChannelError, ConnectionLost):
            pass  # the caller hung up meanwhile: the path says where
        finally:
            # A socket that closed without a hangup (the switch went away) may leave the call
            # alive or not: the channel's reconciliation after the reconnect decides.
            if session.hungup.is_set():
                self.waiting.pop(session.uuid, None)
            self.paths.pop(session.uuid, None)
            if self.sessions.get(session.uuid) is session:  # not a later socket of the same call
                del self.sessions[session.uuid]
            self.live.unfollow(session.uuid)
            for interaction_id in [i for i, (leg, _) in self.queued.items() if leg == session.uuid]:
                del self.queued[interaction_id]

    async def _queue(self, session: OutboundSession, ivr: IvrCall, final: RouteToQueue, number: str,
                     part: int) -> str | None:
        """The caller waits for an agent, talks, and then: None when the call is over for the
        socket, or the IVR node an agent sent them back to."""
        run = ivr.ivr
        self.paths[session.uuid] = run.path.as_list()
        handoffs = self.live.follow(session.uuid)
        result = await self.hub.ingest(InboundMessage(
            channel=CHANNEL, external_id=call_key(session.uuid, part), sender=number or "anonymous",
            thread_key=call_key(session.uuid, part), text=f"Call: {run.path.summary()}",
            sender_name=run.facts.customer_name, entry=session.channel.get("Caller-Destination-Number") or "",
            identities=(("phone", number),) if number else (),
            meta=self._meta(session, run, final)))
        self.waiting[session.uuid] = result.interaction_id
        self.queued[result.interaction_id] = (session.uuid, time.time())
        self.sessions[session.uuid] = session
        back_to: str | None = None
        while True:
            handoff = await self._hold(session, handoffs, result.interaction_id)
            if handoff == "requeued":
                continue  # sent to another queue: music again until the next agent answers
            if handoff == "ended" and not session.hungup.is_set():
                await self._after_agent(session, ivr, result.interaction_id)
            elif handoff.startswith("ivr:") and not session.hungup.is_set():
                back_to = handoff.removeprefix("ivr:")
            break
        if session.hungup.is_set() and await self.hub.customer_left(result.interaction_id):
            log.info("voice: caller %s hung up while waiting in %s", number or "anonymous", final.queue)
        if back_to is not None:
            self.waiting.pop(session.uuid, None)
            self.queued.pop(result.interaction_id, None)
        return back_to

    async def announce(self, caller: str, target: str) -> None:
        """Play ``target`` to a waiting caller in place of the music, to its end (the agent's
        number, before the caller is put through); nothing if the caller's socket is gone."""
        session = self.sessions.get(caller)
        if session is None or session.hungup.is_set():
            return
        await session.api(f"uuid_break {caller} all")
        await session.execute("playback", target)

    async def _hold(self, session: OutboundSession, handoffs: asyncio.Queue[str], interaction_id: int) -> str:
        """Hold music until the caller hangs up (``hungup``), the socket closes (``closed``) or
        the agent's leg goes while the caller stays (what ``LiveCalls.follow`` says), with the
        caller's place in the queue now and then. The bridge to an agent stops the music on
        the switch; the caller is parked when it ends."""
        music = asyncio.ensure_future(session.execute("playback", self.hold_music))
        waiters = {asyncio.ensure_future(session.hungup.wait()): "hungup",
                   asyncio.ensure_future(session.wait_closed()): "closed",
                   asyncio.ensure_future(handoffs.get()): ""}
        try:
            while True:
                done, _ = await asyncio.wait(waiters, timeout=self.position_every or None,
                                             return_when=asyncio.FIRST_COMPLETED)
                if done:
                    break
                music = await self._tell_position(session, interaction_id, music)
        finally:
            for waiter in waiters:
                waiter.cancel()
        first = next(iter(done))
        outcome = waiters[first] or str(first.result())
        if not music.done():
            music.cancel()
        # Awaited even when done: the socket's closing fails the playback, and so is heard of.
        with contextlib.suppress(asyncio.CancelledError, ChannelError, ConnectionLost):
            await music
        return outcome

    async def _tell_position(self, session: OutboundSession, interaction_id: int,
                             music: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """The caller's place in the queue, between two stretches of music."""
        position = await self.hub.queue_position(interaction_id)
        if position is None or session.hungup.is_set():
            return music  # an agent is taking the call: the bridge is coming
        try:
            await session.api(f"uuid_break {session.uuid} all")
            with contextlib.suppress(ChannelError):
                await music
            await session.execute("playback", self.playable(self.position_text.format(position=position)))
        except (ChannelError, ConnectionLost):
            return music
        return asyncio.ensure_future(session.execute("playback", self.hold_music))

    def playable(self, text: str) -> str:
        """A setting's words as a playback target: TTS for text, as given for a file or URL."""
        if "://" in text or text.endswith((".wav", ".mp3")):
            return text
        # '|' separates the tts:// fields and '!' file_string items; a line break ends it.
        return f"tts://{self.tts_engine}|default|{' '.join(text.replace('|', ' ').replace('!', ' ').split())}"

    async def _after_agent(self, session: OutboundSession, ivr: IvrCall, interaction_id: int) -> None:
        """The agent hung up first: the caller hears the survey (or goodbye), then the call ends."""
        final = await ivr.after_agent()
        score = ivr.ivr.score
        if score is not None:
            await self.hub.add_to_record(interaction_id, {"survey_score": score},
                                         f"satisfaction survey: {score}")
        if isinstance(final, Hangup) and not session.hungup.is_set():
            await ivr.play(final.prompts)
            await session.hangup("NORMAL_CLEARING")

    def _meta(self, session: OutboundSession, run: IvrRun, final: RouteToQueue) -> dict[str, Any]:
        return {"kind": "call", "call_uuid": session.uuid, "queue": final.queue,
                "priority": final.priority, "skills": list(final.skills), "ivr_path": run.path.as_list(),
                "ivr_summary": run.path.summary(), "variables": dict(final.variables),
                "tier": run.facts.tier, "region": run.facts.region}
