"""Channel model of the FreeSWITCH double: states, caller profile, variables, channel-event headers.

Header names, their order and which events carry ``variable_*`` come from reference 2.2 and the
captures 07, 08, 11b, 12, 13, 20, 22; a channel event is "common headers, payload-before, channel
block, Caller- profile, Other-Leg- profile, variables, payload-after".
"""

from __future__ import annotations

import asyncio
import time
import uuid as uuid_module
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from freeswitch_double_wire import Event

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9,
    "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}
CALLSTATE_NUMBERS = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5, "RING_WAIT": 6,
    "HANGUP": 7, "UNHELD": 8,
}
# switch_call_cause_t values; variable_hangup_cause_q850 prints the enum value (tested 11: USER_BUSY 17).
HANGUP_CAUSES = {
    "NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16,
    "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21, "NUMBER_CHANGED": 22, "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
    "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42, "INCOMPATIBLE_DESTINATION": 88,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503, "ALLOTTED_TIMEOUT": 602, "MEDIA_TIMEOUT": 604,
    "USER_NOT_REGISTERED": 606, "PROGRESS_TIMEOUT": 607, "SYSTEM_SHUTDOWN": 701,
}
# Events that carry variable_* by default (reference 2.2).
VERBOSE_EVENTS = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DATA", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "SESSION_HEARTBEAT", "API", "RECORD_START",
    "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "MEDIA_BUG_START", "MEDIA_BUG_STOP",
    "CHANNEL_HOLD", "CHANNEL_UNHOLD", "TEXT", "CUSTOM",
})
# Event-Calling-* triples copied from the captures.
CALLING = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3560),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1584),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 301),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
    "CHANNEL_UUID": ("switch_core_session.c", "switch_core_session_set_uuid", 2051),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", 3277),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "MEDIA_BUG_START": ("switch_core_media_bug.c", "switch_core_media_bug_add", 1014),
    "MEDIA_BUG_STOP": ("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84),
    # not in the captures: the three below are plausible source locations, not checked bytes.
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3500),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1227),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", 1308),
}
TIME_FIELDS = (
    "profile_created", "created", "answered", "progress", "progress_media", "hangup", "transfer",
    "resurrect", "bridged", "last_hold", "hold_accum",
)
_TIME_HEADERS = (
    "Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
    "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
    "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum",
)


TRUE_WORDS = ("yes", "on", "true", "t", "enable", "enabled", "active", "allow")


def switch_true(value: str | None) -> bool:
    """switch_true(): the words FreeSWITCH reads as true, or a non-zero number."""
    value = (value or "").strip().lower()
    return value in TRUE_WORDS or (value.isdigit() and int(value) != 0)


def now_us() -> int:
    """Microseconds since the epoch, the unit of every *-Time header."""
    return time.time_ns() // 1000


def new_uuid() -> str:
    """A random call/job UUID."""
    return str(uuid_module.uuid4())


@dataclass
class Profile:
    """A caller profile (switch_caller_profile_event_set_data), times in microseconds."""

    direction: str
    username: str
    caller_id_name: str
    caller_id_number: str
    destination_number: str
    unique_id: str
    source: str
    channel_name: str
    context: str = "default"
    dialplan: str = "XML"
    network_addr: str = ""
    ani: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    rdnis: str = ""
    transfer_source: str = ""
    logical_direction: str = ""
    index: int = 1
    times: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIME_FIELDS, 0))

    def headers(self, prefix: str, with_index: bool = True) -> list[tuple[str, str]]:
        """The profile as <prefix>-* headers in the order of capture 08 (empty values dropped later)."""
        out = [
            ("Direction", self.direction), ("Logical-Direction", self.logical_direction or self.direction),
            ("Username", self.username),
            ("Dialplan", self.dialplan), ("Caller-ID-Name", self.caller_id_name),
            ("Caller-ID-Number", self.caller_id_number), ("Orig-Caller-ID-Name", self.orig_caller_id_name),
            ("Orig-Caller-ID-Number", self.orig_caller_id_number), ("Callee-ID-Name", self.callee_id_name),
            ("Callee-ID-Number", self.callee_id_number), ("Network-Addr", self.network_addr),
            ("ANI", self.ani), ("Destination-Number", self.destination_number), ("Unique-ID", self.unique_id),
            ("Source", self.source), ("Transfer-Source", self.transfer_source), ("Context", self.context),
            ("RDNIS", self.rdnis), ("Channel-Name", self.channel_name),
        ]
        if with_index:
            out.append(("Profile-Index", str(self.index)))
        out += [(name, str(self.times[key])) for name, key in zip(_TIME_HEADERS, TIME_FIELDS, strict=True)]
        out += [("Screen-Bit", "true"), ("Privacy-Hide-Name", "false"), ("Privacy-Hide-Number", "false")]
        return [(f"{prefix}-{name}", value) for name, value in out]

    def snapshot(self, zero_times: bool = False) -> Profile:
        """A copy as kept for the Other-Leg block (the originator's copy has zero times, capture 08)."""
        times = dict.fromkeys(TIME_FIELDS, 0) if zero_times else dict(self.times)
        return replace(self, times=times)


class Channel:
    """One call leg: state machine fields, variables, and the builder of its events."""

    def __init__(self, switch: FreeSwitchDouble, *, uuid: str, name: str, direction: str, source: str,
                 profile: Profile, hold_capable: bool, codec: tuple[str, int, int] | None) -> None:
        self.switch = switch
        self.uuid = uuid
        self.name = name
        self.direction = direction
        self.source = source
        self.profile = profile
        self.hold_capable = hold_capable  # SIP legs reach HELD; loopback legs never do (tested 11, 11b)
        self.codec = codec
        self.running_state = "CS_NONE"  # what events before the state machine runs show (07)
        self.state = "CS_INIT"
        self.callstate = "DOWN"
        self.answer_state = "ringing"
        self.hit_dialplan = direction == "inbound"
        self.call_uuid = uuid
        self.hangup_cause: str | None = None
        self.other: tuple[str, Profile] | None = None
        self.variables: dict[str, str] = {}
        self.loopback_peer: Channel | None = None
        self.bridged_with: Channel | None = None
        self.recordings: list[str] = []
        self.masked_recordings: set[str] = set()  # uuid_record mask: these record silence for now
        self.sent_dtmf: list[str] = []
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.messages: asyncio.Queue[tuple[dict[str, str], asyncio.Future[None] | None]] = asyncio.Queue()
        self.finished = asyncio.Event()  # set after CHANNEL_HANGUP_COMPLETE
        self.destroyed = asyncio.Event()
        self.destroy_blockers: set[object] = set()  # session-bound listeners hold a read lock (ref 1.9)
        self.unblocked = asyncio.Event()
        self.unblocked.set()
        self.profile.times["profile_created"] = self.profile.times["created"] = now_us()

    # --- variables -------------------------------------------------------------------------
    def set_var(self, name: str, value: str | None) -> None:
        """switch_channel_set_variable: replace moves the variable to the end; empty deletes it."""
        self.variables.pop(name, None)
        if value:
            self.variables[name] = value

    def get_var(self, name: str) -> str | None:
        """A channel variable; like switch_channel_get_variable, caller profile fields answer too."""
        if name in self.variables:
            return self.variables[name]
        p = self.profile
        fields = {"dialplan": p.dialplan, "username": p.username, "caller_id_name": p.caller_id_name,
                  "caller_id_number": p.caller_id_number, "ani": p.ani, "network_addr": p.network_addr,
                  "rdnis": p.rdnis, "destination_number": p.destination_number, "uuid": self.uuid,
                  "source": p.source, "context": p.context, "chan_name": self.name,
                  "callee_id_name": p.callee_id_name, "callee_id_number": p.callee_id_number}
        return fields.get(name) or None

    @property
    def is_down(self) -> bool:
        """True from the moment the hangup started."""
        return self.hangup_cause is not None

    # --- events ------------------------------------------------------------------------------
    def channel_block(self) -> list[tuple[str, str]]:
        """switch_channel_event_set_basic_data: Channel-State is the running state, the number is not."""
        block = [
            ("Channel-State", self.running_state), ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(STATE_NUMBERS[self.state])), ("Channel-Name", self.name),
            ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Presence-ID", self.variables.get("presence_id", "")),
            ("Channel-Call-UUID", self.call_uuid), ("Answer-State", self.answer_state),
            ("Hangup-Cause", self.hangup_cause or ""),
        ]
        if self.codec:
            name, rate, bits = self.codec
            for side in ("Read", "Write"):
                block += [(f"Channel-{side}-Codec-Name", name), (f"Channel-{side}-Codec-Rate", str(rate)),
                          (f"Channel-{side}-Codec-Bit-Rate", str(bits))]
        return block

    def data_headers(self, verbose: bool) -> list[tuple[str, str]]:
        """Channel block, Caller- profile, Other-Leg- profile and (if verbose) the variables."""
        out = self.channel_block() + self.profile.headers("Caller")
        if self.other:
            kind, profile = self.other
            out += [("Other-Type", kind), *profile.headers("Other-Leg", with_index=False)]
        if verbose:
            out += [(f"variable_{name}", value) for name, value in self.variables.items()]
        return out

    def build(self, name: str, before: list[tuple[str, str]] | None = None,
              after: list[tuple[str, str]] | None = None) -> Event:
        """A channel event with its payload headers placed like in the captures."""
        calling = CALLING.get(name, ("switch_channel.c", "switch_channel_event_set_data", 0))
        event = self.switch.new_event(name, calling)
        event.extend(before or [])
        event.extend(self.data_headers(name in VERBOSE_EVENTS))
        event.extend(after or [])
        return event

    def fire(self, name: str, before: list[tuple[str, str]] | None = None,
             after: list[tuple[str, str]] | None = None) -> Event:
        """Build and deliver a channel event."""
        event = self.build(name, before, after)
        self.switch.fire(event)
        return event

    def enter(self, state: str) -> None:
        """Move the state machine to ``state`` and fire CHANNEL_STATE (no variables, reference 2.2)."""
        self.running_state = self.state = state
        if state == "CS_INIT":
            self.fire("CHANNEL_STATE")
            self.state = "CS_ROUTING"  # the next state is already set when CHANNEL_CREATE fires (07)
            return
        if state == "CS_EXECUTE":
            self.hit_dialplan = True
        self.fire("CHANNEL_STATE")

    def set_callstate(self, callstate: str) -> None:
        """Change Channel-Call-State and fire CHANNEL_CALLSTATE with the previous value first."""
        old, self.callstate = self.callstate, callstate
        number = str(CALLSTATE_NUMBERS[callstate])
        self.fire("CHANNEL_CALLSTATE",
                  before=[("Original-Channel-Call-State", old), ("Channel-Call-State-Number", number)])

    # --- CDR ---------------------------------------------------------------------------------
    def cdr_variables(self) -> None:
        """The variables CHANNEL_HANGUP_COMPLETE carries (capture 08, 13): stamps, epochs, durations."""
        t = self.profile.times
        end = t["hangup"] or now_us()
        cause = self.hangup_cause or "NORMAL_CLEARING"
        self.set_var("hangup_cause", cause)
        self.set_var("hangup_cause_q850", str(HANGUP_CAUSES.get(cause, 0)))
        self.set_var("digits_dialed", "none")
        stamp = {"start": t["created"], "profile_start": t["profile_created"], "answer": t["answered"],
                 "bridge": t["bridged"], "progress": t["progress"], "progress_media": t["progress_media"],
                 "end": end}
        for key, value in stamp.items():
            if value:
                self.set_var(f"{key}_stamp", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value / 1e6)))
        epochs = {"start": t["created"], "profile_start": t["profile_created"], "answer": t["answered"],
                  "bridge": t["bridged"], "last_hold": t["last_hold"], "resurrect": t["resurrect"],
                  "progress": t["progress"], "progress_media": t["progress_media"], "end": end}
        for key, value in epochs.items():
            self.set_var(f"{key}_epoch", str(value // 1_000_000))
            self.set_var(f"{key}_uepoch", str(value))
            if key == "last_hold":
                accum = t["hold_accum"]
                self.set_var("hold_accum_seconds", str(accum // 1_000_000))
                self.set_var("hold_accum_usec", str(accum))
                self.set_var("hold_accum_ms", str(accum // 1000))
        self.set_var("last_app", self.variables.get("current_application", ""))
        self.set_var("last_arg", self.variables.get("current_application_data", ""))
        self.set_var("caller_id", f'"{self.profile.caller_id_name}" <{self.profile.caller_id_number}>')
        self._durations(t, end)

    def _durations(self, t: dict[str, int], end: int) -> None:
        start = t["created"]

        def span(since: int) -> int:
            return end - since if since else 0

        def offset(mark: int) -> int:
            return mark - start if mark else 0

        values = {"duration": end - start, "bill": span(t["answered"]), "progress": offset(t["progress"]),
                  "answer": offset(t["answered"]), "wait": offset(t["bridged"] or t["answered"]),
                  "progress_media": offset(t["progress_media"]), "flow_bill": end - start}
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            for key, micro in values.items():
                if key == "duration":
                    name = {"sec": "duration", "msec": "mduration", "usec": "uduration"}[unit]
                else:
                    name = f"{key}{unit}"
                self.set_var(name, str(micro // div))
