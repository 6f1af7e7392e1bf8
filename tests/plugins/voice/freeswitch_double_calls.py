"""Call model of the FreeSWITCH double: a leg's session (dialplan, interrupts, hangup) and originate.

Event sequences follow the captures: inbound legs and loopback pairs as in 07/08, the hangup
sequence HANGUP -> (app exits) -> STATE CS_HANGUP -> CALLSTATE HANGUP -> STATE CS_REPORTING ->
HANGUP_COMPLETE -> DESTROY -> STATE CS_DESTROY (07, 13), outbound SIP legs as in 11b. A ``Leg``
also carries the media state tests read: ``hears``, ``on_hold``, ``playing``, ``session_audio``,
``eavesdrop_mode`` / ``eavesdrop_target``, ``member`` (freeswitch_double_media explains them).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freeswitch_double_channel import Channel, Profile, new_uuid, now_us
from freeswitch_double_wire import Event

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble
    from freeswitch_double_conference import Member
    from freeswitch_double_media import SessionAudio

# Dialplan steps every call in the vanilla "public" context runs first (captures 08, 22, 23).
PUBLIC_PRELUDE = ("set", "outside_call=true")


@dataclass
class Endpoint:
    """A scripted far end reachable by originate/bridge (e.g. an agent phone ``user/1001``)."""

    dialstring: str
    answers: bool = True
    answer_after: float = 0.0
    reject: str | None = None  # hang up with this cause instead of answering
    registered: bool = True
    ring: bool = True  # the phone sends 180 Ringing first (CHANNEL_PROGRESS)
    hangup_after: float | None = None  # the far end hangs up this long after answering
    contact: str = "192.0.2.10:5060"
    legs: list[Leg] = field(default_factory=list)


class Leg(Channel):
    """A channel with its own session task: runs dialplan steps, reacts to hangup and transfer."""

    def __init__(self, switch: FreeSwitchDouble, **channel: Any) -> None:
        super().__init__(switch, **channel)
        self.plan: deque[tuple[str, str]] = deque()
        self.keep_alive = False  # wait for more steps instead of hanging up when the plan is empty
        self.interrupt: str | None = None
        self.parked = False
        self.go = asyncio.Event()
        self._wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.endpoint: Endpoint | None = None
        self.bridge_done: asyncio.Event | None = None  # shared by the two legs of a uuid_bridge
        self.bridge_left = asyncio.Event()  # set when this leg's side of a uuid_bridge has ended
        self.socket_result: asyncio.Future[Any] | None = None  # resolved by the socket application
        self.in_socket_app = False  # parked under an async socket (not moved on by a bridge or transfer)
        self.talk_requested = False  # uuid_phone_event talk: a phone that answers when told to
        self.leaving_bridge = False  # uuid_transfer / uuid_bridge took this leg out of its bridge
        # Media state behind ``hears`` (freeswitch_double_media) that tests may also read directly.
        self.on_hold = False  # CF_HOLD: uuid_hold put this leg on hold; its partner gets hold music
        self.music_to: Leg | None = None  # the partner this leg's hold music is broadcast to
        self.playing: str | None = None  # the file a playback plays to this leg right now
        self.broadcasting = False  # CF_BROADCAST: a queued message's application is running
        self.stop_broadcast = False  # CF_STOP_BROADCAST: ends a looping broadcast (hold music)
        self.session_audio: SessionAudio | None = None  # uuid_audio's media bug, while there is one
        self.eavesdrop_target: str | None = None  # on a leg running eavesdrop / three_way
        self.eavesdrop_mode: str | None = None  # listen, whisper_target, whisper_peer or both
        self.member: Member | None = None  # set while the leg is in a conference room

    @property
    def hears(self) -> frozenset[str]:
        """What the far end of this leg hears now: uuids of legs whose voice reaches it, and the
        paths of media played to it (hold music, a playback, a room's music on hold)."""
        from freeswitch_double_media import hearing  # the media model builds on this module

        return hearing(self)

    # --- waking and waiting ------------------------------------------------------------------
    def poke(self, reason: str | None = None) -> None:
        """Wake whatever the session waits for; a reason interrupts the running application."""
        if reason and self.interrupt != "hangup":
            self.interrupt = reason
        self._wake.set()

    async def idle_until(self, ready: Callable[[], bool], within: float | None = None) -> bool:
        """Sleep until ``ready()`` holds (True) or ``within`` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while not ready():
            self._wake.clear()
            if ready():
                break
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return ready()
        return True

    async def pause(self, seconds: float) -> bool:
        """Media time passing; True if an interrupt (hangup, transfer, break) cut it short."""
        return await self.idle_until(lambda: self.interrupt is not None, max(seconds, 0.0))

    def fire(self, name: str, before: list[tuple[str, str]] | None = None,
             after: list[tuple[str, str]] | None = None) -> Event:
        """Deliver a channel event and wake this leg and the legs tied to it (they may wait on it)."""
        event = super().fire(name, before, after)
        for leg in (self, self.loopback_peer, self.bridged_with):
            if isinstance(leg, Leg):
                leg.poke()
        return event

    # --- session ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the session task (it waits for ``go`` before running the plan)."""
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"leg-{self.uuid}")
        self.switch.tasks.add(self.task)
        self.task.add_done_callback(self.switch.tasks.discard)

    async def _run(self) -> None:
        from freeswitch_double_apps import execute, run_messages  # apps import this module

        await self.go.wait()
        if not self.is_down and self.running_state not in ("CS_EXECUTE", "CS_EXCHANGE_MEDIA"):
            self.enter("CS_EXECUTE")  # an originated leg, after the BACKGROUND_JOB of its originate (07)
        while not self.is_down:
            if self.plan:
                if self.interrupt in ("transfer", "break"):
                    self.interrupt = None
                app, arg = self.plan.popleft()
                await execute(self, app, arg)
            elif self.keep_alive or self.bridged_with is not None:
                await self.idle_until(lambda: bool(self.plan) or self.is_down or not self.messages.empty())
                await run_messages(self)
            else:
                self.hangup("NORMAL_CLEARING")
        await self._finish()

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Start the hangup: CHANNEL_HANGUP now, the rest when the running application has returned."""
        if self.is_down:
            return
        self.hangup_cause = cause
        self.state = "CS_HANGUP"
        self.answer_state = "hangup"
        self.profile.times["hangup"] = now_us()
        if self.source == "mod_sofia":
            self.set_var("sip_hangup_disposition", "recv_bye" if cause == "NORMAL_CLEARING" else "send_bye")
        self.fire("CHANNEL_HANGUP")
        self.go.set()
        self.poke("hangup")
        peer = self.bridged_with
        if isinstance(peer, Leg) and peer.broadcasting:
            peer.stop_broadcast = True  # the bridge goes down: SIG_BREAK ends what the peer plays
            peer.poke("break")

    async def _finish(self) -> None:
        self.enter("CS_HANGUP")
        self.set_callstate("HANGUP")
        peer = self.loopback_peer
        if peer is not None and not peer.is_down:
            peer.hangup(self.hangup_cause or "NORMAL_CLEARING")
        self.enter("CS_REPORTING")
        self.cdr_variables()
        if peer is not None:
            self.set_var("is_loopback", "1")
        self.fire("CHANNEL_HANGUP_COMPLETE", before=[("Hangup-Cause", self.hangup_cause or "")])
        self.finished.set()
        # A session-bound listener holds a read lock, so CHANNEL_DESTROY waits for it (reference 1.9).
        await self.unblocked.wait()
        if isinstance(peer, Leg) and self.variables.get("loopback_leg") == "A":
            await peer.destroyed.wait()  # the B leg is destroyed first (07)
        self.state = "CS_DESTROY"
        self.fire("CHANNEL_DESTROY")
        self.enter("CS_DESTROY")
        self.destroyed.set()
        self.switch.forget(self)

    # --- media-level state changes ---------------------------------------------------------------
    def set_codec(self) -> None:
        """Negotiate the codec (SIP legs have none before early media or answer, capture 08)."""
        if self.codec is None:
            self.codec = ("PCMU", 8000, 64000)
            self.set_var("read_codec", "PCMU")
            self.set_var("read_rate", "8000")
            self.set_var("write_codec", "PCMU")
            self.set_var("write_rate", "8000")

    def pre_answer(self) -> None:
        """Early media: CHANNEL_PROGRESS_MEDIA, then CALLSTATE EARLY (capture 20)."""
        if self.answer_state != "ringing":
            return
        self.set_codec()
        self.answer_state = "early"
        self.profile.times["progress_media"] = now_us()
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate("EARLY")

    def ring(self) -> None:
        """180 Ringing: CHANNEL_PROGRESS and CALLSTATE RINGING."""
        if self.callstate in ("DOWN", "DIALING") and not self.is_down:
            self.profile.times["progress"] = now_us()
            self.fire("CHANNEL_PROGRESS")
            self.set_callstate("RINGING")

    def answer(self) -> bool:
        """Mark answered: CHANNEL_ANSWER (with the previous call state), then CALLSTATE ACTIVE."""
        if self.answer_state == "answered" or self.is_down:
            return False
        self.set_codec()
        self.answer_state = "answered"
        self.profile.times["answered"] = now_us()
        self.set_var("endpoint_disposition", "ANSWER")
        self.fire("CHANNEL_ANSWER")
        self.set_callstate("ACTIVE")
        return True


# --- leg factories ------------------------------------------------------------------------------
def _profile(uuid: str, name: str, direction: str, source: str, cid_name: str, cid_number: str,
             destination: str, context: str, network_addr: str = "") -> Profile:
    return Profile(direction=direction, username=cid_number if source == "mod_sofia" else "",
                   caller_id_name=cid_name, caller_id_number=cid_number, destination_number=destination,
                   unique_id=uuid, source=source, channel_name=name, context=context,
                   network_addr=network_addr, ani=cid_number, orig_caller_id_name=cid_name,
                   orig_caller_id_number=cid_number)


def sofia_inbound(switch: FreeSwitchDouble, caller: str, destination: str, caller_name: str,
                  remote: str, uuid: str | None) -> Leg:
    """A SIP call arriving on the external profile, with the variables of capture 08's CHANNEL_CREATE."""
    uuid = uuid or new_uuid()
    host, _, port = remote.partition(":")
    name = f"sofia/external/{caller}@{remote}"
    leg = Leg(switch, uuid=uuid, name=name, direction="inbound", source="mod_sofia",
              profile=_profile(uuid, name, "inbound", "mod_sofia", caller_name, caller, destination,
                               "public", host),
              hold_capable=True, codec=None)
    me = f"{switch.ipv4}:5080"
    call_id = f"{new_uuid()[:8]}@{host}"
    pairs = [
        ("direction", "inbound"), ("uuid", uuid), ("call_uuid", uuid),
        ("session_id", str(switch.next_session())),
        ("sip_from_user", caller), ("sip_from_port", port), ("sip_from_uri", f"{caller}@{remote}"),
        ("sip_from_host", host), ("video_media_flow", "disabled"), ("audio_media_flow", "disabled"),
        ("text_media_flow", "disabled"), ("channel_name", name), ("sip_call_id", call_id),
        ("sip_local_network_addr", switch.ipv4), ("sip_network_ip", host), ("sip_network_port", port),
        ("sip_invite_stamp", str(leg.profile.times["created"])), ("sip_received_ip", host),
        ("sip_received_port", port), ("sip_via_protocol", "udp"), ("sip_from_user_stripped", caller),
        ("sip_from_tag", new_uuid()[:13]), ("sofia_profile_name", "external"),
        ("sofia_profile_url", f"sip:mod_sofia@{me}"), ("recovery_profile_name", "external"),
        ("sip_full_via", f"SIP/2.0/UDP {remote};branch=z9hG4bK-{uuid[:8]}"),
        ("sip_from_display", caller_name),
        ("sip_full_from", f'"{caller_name}" <sip:{caller}@{remote}>;tag=1'),
        ("sip_full_to", f"<sip:{destination}@{me}>"), ("sip_req_user", destination),
        ("sip_req_port", "5080"), ("sip_req_uri", f"{destination}@{me}"), ("sip_req_host", switch.ipv4),
        ("sip_to_user", destination), ("sip_to_port", "5080"), ("sip_to_uri", f"{destination}@{me}"),
        ("sip_to_host", switch.ipv4), ("sip_contact_user", caller), ("sip_contact_port", port),
        ("sip_contact_uri", f"{caller}@{remote}"), ("sip_contact_host", host),
        ("rtp_use_codec_string", "OPUS,G722,PCMU,PCMA"), ("sip_via_host", host), ("sip_via_port", port),
        ("max_forwards", "70"), ("switch_r_sdp", f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\n"
                                 "t=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"),
        ("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
        ("endpoint_disposition", "DELAYED NEGOTIATION"),
    ]
    for key, value in pairs:
        leg.set_var(key, value)
    return leg


def sofia_outbound(switch: FreeSwitchDouble, endpoint: Endpoint, number: str, uuid: str,
                   cid: tuple[str, str], a_leg: Channel | None) -> Leg:
    """The leg FreeSWITCH places towards a scripted endpoint (an agent phone or a gateway); its
    profile is made by switch_ivr_originate (11b), or cloned from the caller's when bridging."""
    user = number.split("@", 1)[0]
    name = f"sofia/internal/{user}@{endpoint.contact}"
    host, _, port = endpoint.contact.partition(":")
    profile = _profile(uuid, name, "outbound", "src/switch_ivr_originate.c", cid[0], cid[1], user, "default",
                       host)
    profile.username = a_leg.profile.username if a_leg else ""
    profile.callee_id_name = profile.callee_id_number = user
    leg = Leg(switch, uuid=uuid, name=name, direction="outbound", source="mod_sofia", profile=profile,
              hold_capable=True, codec=None)
    leg.hit_dialplan = False
    for key, value in (("direction", "outbound"), ("is_outbound", "true"), ("uuid", uuid),
                       ("session_id", str(switch.next_session())), ("channel_name", name),
                       ("sip_profile_name", "internal"), ("sip_req_user", user), ("sip_to_user", user),
                       ("sip_to_host", host), ("sip_to_port", port), ("sip_network_ip", host),
                       ("sip_network_port", port), ("sofia_profile_name", "internal"), ("call_uuid", uuid)):
        leg.set_var(key, value)
    leg.endpoint = endpoint
    return leg


def loopback_pair(switch: FreeSwitchDouble, ext: str, context: str, uuid: str, cid: tuple[str, str],
                  codec: tuple[str, int, int]) -> tuple[Leg, Leg]:
    """mod_loopback: an outbound A leg and an inbound B leg that runs extension ``ext`` (capture 07)."""
    b_uuid = new_uuid()
    a_name, b_name = f"loopback/{ext}-a", f"loopback/{ext}-b"
    a = Leg(switch, uuid=uuid, name=a_name, direction="outbound", source="mod_loopback",
            profile=_profile(uuid, a_name, "outbound", "mod_loopback", cid[0], cid[1], ext, context),
            hold_capable=False, codec=codec)
    b = Leg(switch, uuid=b_uuid, name=b_name, direction="inbound", source="mod_loopback",
            profile=_profile(b_uuid, b_name, "inbound", "mod_loopback", cid[0], cid[1], ext, context),
            hold_capable=False, codec=codec)
    a.hit_dialplan = False
    for leg, other, mark in ((a, b, "A"), (b, a, "B")):
        leg.profile.callee_id_name, leg.profile.callee_id_number = "Outbound Call", context
        leg.loopback_peer = other
        for key, value in (("direction", leg.direction), ("uuid", leg.uuid), ("call_uuid", leg.uuid),
                           ("session_id", str(switch.next_session())), ("read_codec", codec[0]),
                           ("read_rate", str(codec[1])), ("write_codec", codec[0]),
                           ("write_rate", str(codec[1])), ("channel_name", leg.name),
                           ("other_loopback_leg_uuid", other.uuid), ("loopback_leg", mark)):
            leg.set_var(key, value)
    a.set_var("is_outbound", "true")
    return a, b


def prelude(context: str) -> list[tuple[str, str]]:
    """The steps the vanilla public context runs before any extension (set, export; captures 08, 22)."""
    if context != "public":
        return []
    return [PUBLIC_PRELUDE, ("export", "RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}")]


def start_inbound(leg: Leg, steps: list[tuple[str, str]]) -> None:
    """CS_INIT, CHANNEL_CREATE, RINGING, routing, CS_EXECUTE, then the dialplan (07's B leg)."""
    leg.enter("CS_INIT")
    leg.fire("CHANNEL_CREATE")
    leg.running_state = "CS_ROUTING"
    leg.set_callstate("RINGING")
    leg.fire("CHANNEL_STATE")
    leg.enter("CS_EXECUTE")
    leg.plan.extend(steps)
    leg.go.set()
    leg.start()


def start_outbound(leg: Leg, old_uuid: str | None) -> None:
    """An originated leg up to CS_CONSUME_MEDIA (07's A leg); the session waits for ``go``."""
    if old_uuid:
        leg.fire("CHANNEL_UUID", before=[("Old-Unique-ID", old_uuid)])
    leg.fire("CHANNEL_OUTGOING")
    leg.enter("CS_INIT")
    leg.fire("CHANNEL_CREATE")
    leg.fire("CHANNEL_ORIGINATE")
    leg.enter("CS_ROUTING")
    leg.enter("CS_CONSUME_MEDIA")
    leg.start()


def link(originator: Channel, originatee: Channel) -> None:
    """The new leg keeps the originator's profile (zero times) as its Other-Leg block (08); the
    originator only gets the Other-Leg block once bridged."""
    originatee.other = ("originator", originator.profile.snapshot(zero_times=True))
    originatee.call_uuid = originator.call_uuid
    originatee.set_var("originator", originator.uuid)
    originatee.set_var("signal_bond", originator.uuid)
    originatee.set_var("originating_leg_uuid", originator.uuid)


async def ring_endpoint(leg: Leg, limit: float) -> str | None:
    """Play the endpoint's script on a fresh SIP leg; None when answered, else the failure cause."""
    endpoint = leg.endpoint
    assert endpoint is not None
    endpoint.legs.append(leg)
    if endpoint.ring:
        leg.ring()
    wait = endpoint.answer_after if endpoint.answers or endpoint.reject else limit
    if await leg.idle_until(lambda: leg.is_down or leg.talk_requested, min(wait, limit)) and leg.is_down:
        return leg.hangup_cause or "ORIGINATOR_CANCEL"
    if leg.talk_requested:  # uuid_phone_event talk: the phone goes off-hook by itself
        leg.answer()
        return None
    if endpoint.reject:
        cause = endpoint.reject
    elif endpoint.answers and endpoint.answer_after <= limit:
        leg.answer()
        if endpoint.hangup_after is not None:
            leg.switch.later(endpoint.hangup_after, lambda: leg.hangup("NORMAL_CLEARING"))
        return None
    else:
        cause = "NO_ANSWER"
    leg.hangup(cause)
    return cause
