"""mod_conference in the FreeSWITCH double: rooms, members, and the ``conference`` application.

``conference <room>[@<profile>][+<pin>][+flags{mute|deaf|moderator|endconf|ghost}]`` joins the leg
to a room, creating it on the first join (``switch.conferences[<room>]``, a ``Conference``; each
member is a ``Member``, also reachable as ``leg.member`` while the leg is in the room). A member
leaves when its leg hangs up or is transferred or bridged away, on ``conference <room> kick``
(the vanilla kicked-sound is played, then the leg goes on with its dialplan) and on ``hup`` (the
same without the sound: mod_conference clears MFLAG_RUNNING and the application returns; the leg
hangs up only when its dialplan has nothing left, as for legs that ``conference dial`` created).
The room ends when its last member leaves, or when the last ``endconf`` member does (the others
are then hung up unless hangup_after_conference=false).

Events are CUSTOM ``conference::maintenance`` with the headers of conference_event_add_data and
conference_member_add_event_data (channel headers without variables, as verbose-events is off):
conference-create, add-member, floor-change, kick-member, hup-member, mute-member, unmute-member,
deaf-member, undeaf-member, del-member, conference-destroy and bgdial-result. Not in the reference:
their order and headers follow mod_conference's source; the Event-Calling-* values are plausible
locations, not captured bytes. Every profile behaves like vanilla's ``default`` (energy level 100,
music on hold, conference/conf-kicked.wav); a pin is accepted and never asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from freeswitch_double_apps import app_answer, play
from freeswitch_double_calls import Leg
from freeswitch_double_channel import new_uuid

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

SUBCLASS = "conference::maintenance"
# What vanilla conference.conf.xml's "default" profile sets ($${hold_music}, $${outbound_caller_*}).
PROFILE = {"energy-level": 100, "moh-sound": "local_stream://moh", "rate": 8000,
           "kicked-sound": "conference/conf-kicked.wav", "caller-id-name": "FreeSWITCH",
           "caller-id-number": "0000000000"}
CALLING = {
    "conference-create": ("mod_conference.c", "conference_thread_run", 354),
    "conference-destroy": ("mod_conference.c", "conference_thread_run", 792),
    "add-member": ("conference_member.c", "conference_member_add", 866),
    "del-member": ("conference_member.c", "conference_member_del", 1172),
    "floor-change": ("conference_member.c", "conference_member_set_floor_holder", 1004),
    "bgdial-result": ("conference_api.c", "conference_outcall_run", 3271),
    "kick-member": ("conference_api.c", "conference_api_sub_kick", 623),
    "hup-member": ("conference_api.c", "conference_api_sub_hup", 594),
    "mute-member": ("conference_api.c", "conference_api_sub_mute", 373),
    "unmute-member": ("conference_api.c", "conference_api_sub_unmute", 417),
    "deaf-member": ("conference_api.c", "conference_api_sub_deaf", 552),
    "undeaf-member": ("conference_api.c", "conference_api_sub_undeaf", 574),
}


@dataclass(eq=False)
class Member:
    """One leg in a room; the flags are mod_conference's MFLAG_* (CAN_HEAR, CAN_SPEAK, MOD, ...)."""

    id: int
    leg: Leg = field(repr=False)
    room: Conference = field(repr=False)
    can_hear: bool = True
    can_speak: bool = True
    moderator: bool = False
    endconf: bool = False
    ghost: bool = False
    running: bool = True  # MFLAG_RUNNING: kick and hup clear it, and the application returns
    kicked: bool = False
    kicked_sound: str | None = None

    @property
    def flags(self) -> str:
        """The flags column of ``conference <room> list``."""
        names = [("hear", self.can_hear), ("speak", self.can_speak), ("floor", self.room.floor is self),
                 ("moderator", self.moderator), ("ghost", self.ghost)]
        return "|".join(name for name, on in names if on)


@dataclass(eq=False)
class Conference:
    """A room (conference_obj_t): members in join order, the floor holder, the member count."""

    name: str
    profile: str
    switch: FreeSwitchDouble = field(repr=False)
    uuid: str = field(default_factory=new_uuid)
    members: list[Member] = field(default_factory=list)
    floor: Member | None = None
    count: int = 0  # Conference-Size: members that are not ghosts
    ghosts: int = 0
    destroyed: bool = False

    @property
    def moh(self) -> str:
        """What a member alone in the room hears (the profile's moh-sound)."""
        return str(PROFILE["moh-sound"])

    def member(self, member_id: int) -> Member | None:
        """conference_member_get: a member still running in the room, by id."""
        return next((m for m in self.members if m.id == member_id and m.running), None)

    def headers(self) -> list[tuple[str, str]]:
        """conference_event_add_data."""
        return [("Conference-Name", self.name),
                ("Conference-Domain", self.switch.global_vars.get("domain", self.switch.ipv4)),
                ("Conference-Size", str(self.count)), ("Conference-Ghosts", str(self.ghosts)),
                ("Conference-Profile-Name", self.profile), ("Conference-Unique-ID", self.uuid)]

    def fire(self, action: str, headers: list[tuple[str, str]] | None = None,
             calling: tuple[str, str, int] | None = None) -> None:
        """A conference::maintenance event: the given headers (room data by default), then Action."""
        payload = self.headers() if headers is None else headers
        self.switch.fire_custom(SUBCLASS, [*payload, ("Action", action)], calling=calling or CALLING[action])


def member_headers(member: Member) -> list[tuple[str, str]]:
    """conference_member_add_event_data: room data, Floor, the leg's channel data, member flags."""
    def yes(on: bool) -> str:
        return "true" if on else "false"

    return [*member.room.headers(), ("Floor", yes(member.room.floor is member)),
            *member.leg.data_headers(verbose=False), ("Video", "false"), ("Hear", yes(member.can_hear)),
            ("See", "true"), ("Speak", yes(member.can_speak)), ("Talking", "false"), ("Mute-Detect", "false"),
            ("Member-ID", str(member.id)), ("Member-Type", "moderator" if member.moderator else "member"),
            ("Member-Ghost", yes(member.ghost)), ("Energy-Level", str(PROFILE["energy-level"])),
            ("Current-Energy", "0")]


def parse(arg: str) -> tuple[str, str, set[str]]:
    """conference_function's parse: ``+flags{..}`` first, then ``+pin``, then ``@profile``."""
    flags: set[str] = set()
    if "+flags{" in arg:
        arg, _, rest = arg.partition("+flags{")
        flags = {flag.strip().lower() for flag in rest.split("}", 1)[0].split("|") if flag.strip()}
    arg = arg.split("+", 1)[0]
    name, at, profile = arg.rpartition("@")
    return (name, profile, flags) if at else (arg, "default", flags)


def room_for(switch: FreeSwitchDouble, name: str, profile: str) -> Conference:
    """conference_find, else conference_new (its thread fires conference-create)."""
    room = switch.conferences.get(name)
    if room is None:
        room = switch.conferences[name] = Conference(name, profile, switch)
        room.fire("conference-create")
    return room


def set_floor(room: Conference, member: Member | None) -> None:
    """conference_member_set_floor_holder: floor-change with Old-ID / New-ID (or none)."""
    old, room.floor = room.floor, member
    headers = [*room.headers(), ("Action", "floor-change"), ("Old-ID", str(old.id) if old else "none")]
    if member is not None:
        headers += [*member_headers(member), ("New-ID", str(member.id))]
    else:
        headers.append(("New-ID", "none"))
    room.switch.fire_custom(SUBCLASS, headers, calling=CALLING["floor-change"])


async def join(leg: Leg, arg: str) -> None:
    """The conference application: join, answer, stay until kicked, hup, hangup or transfer."""
    name, profile, flags = parse(arg.strip())
    if not name:
        return
    switch = leg.switch
    room = room_for(switch, name, profile)
    member = Member(next(switch.member_ids), leg, room, can_hear="deaf" not in flags,
                    can_speak="mute" not in flags, moderator="moderator" in flags,
                    endconf="endconf" in flags, ghost="ghost" in flags)
    room.members.append(member)
    if member.ghost:
        room.ghosts += 1
    else:
        room.count += 1
    leg.member = member
    for key, value in (("conference_name", room.name), ("conference_member_id", str(member.id)),
                       ("conference_moderator", "true" if member.moderator else "false"),
                       ("conference_ghost", "true" if member.ghost else "false"),
                       ("conference_uuid", room.uuid)):
        leg.set_var(key, value)
    room.fire("add-member", member_headers(member))
    if room.floor is None:
        set_floor(room, member)  # the room's thread gives a free floor to a member at its next tick
    await app_answer(leg, "")
    try:
        while member.running and not leg.is_down and leg.interrupt in (None, "break"):
            await leg.idle_until(lambda: not member.running or leg.is_down
                                 or leg.interrupt not in (None, "break"))
            if leg.interrupt == "break":
                leg.interrupt = None  # a break stops member playback, not the membership
    finally:
        leave(member)
    sound = member.kicked_sound or str(PROFILE["kicked-sound"])
    prefix = switch.global_vars.get("sound_prefix")  # the profile's sound-prefix, for relative paths
    if prefix and not sound.startswith("/") and "://" not in sound:
        sound = f"{prefix}/{sound}"
    if member.kicked and not leg.is_down and leg.interrupt is None:
        await play(leg, sound)


def leave(member: Member) -> None:
    """conference_member_del: floor released, del-member, and the room ends when it is empty."""
    room = member.room
    if member not in room.members:
        return
    room.members.remove(member)
    member.running = False
    if member.leg.member is member:
        member.leg.member = None
    holder_left = room.floor is member
    if holder_left:
        set_floor(room, None)
    if member.ghost:
        room.ghosts -= 1
    else:
        room.count -= 1
    room.fire("del-member", [*member_headers(member), *room.headers()])
    ending = member.endconf and not any(m.endconf for m in room.members)
    if not room.members or ending:
        destroy(room)
    elif holder_left:
        set_floor(room, room.members[-1])  # the thread's next pick: the newest member


def switch_false(value: str | None) -> bool:
    """switch_false(): only these words (or 0) read as false; anything else, unset included, is not."""
    value = (value or "").strip().lower()
    return value in ("no", "off", "false", "f", "disable", "disabled", "inactive", "disallow", "0")


def destroy(room: Conference) -> None:
    """The end of conference_thread_run: conference-destroy; members still in are hung up
    (unless hangup_after_conference=false) and leave."""
    if room.destroyed:
        return
    room.destroyed = True
    if room.switch.conferences.get(room.name) is room:
        del room.switch.conferences[room.name]
    room.fire("conference-destroy")
    for member in list(room.members):
        member.running = False
        if not switch_false(member.leg.get_var("hangup_after_conference")):
            member.leg.hangup("NORMAL_CLEARING")
        member.leg.poke()


# --- member commands of the conference api (CONF_API_SUB_MEMBER_TARGET) ----------------------------
def kick(member: Member, data: str | None) -> str:
    """conference_api_sub_kick: leave with the kicked sound (or ``data``), kick-member event."""
    member.running, member.kicked = False, True
    if data:
        member.kicked_sound = data
    member.leg.poke()
    member.room.fire("kick-member", member_headers(member))
    return f"OK kicked {member.id}\n"


def hup(member: Member, data: str | None) -> str:
    """conference_api_sub_hup: leave without a sound; it prints nothing."""
    member.running = False
    member.leg.poke()
    member.room.fire("hup-member", member_headers(member))
    return ""


def set_flag(member: Member, attribute: str, on: bool, action: str, word: str) -> str:
    """mute / unmute / deaf / undeaf: flip the flag, fire the event, ``OK <word> <id>``."""
    setattr(member, attribute, on)
    reply = f"OK {word} {member.id}\n"  # the reply is written before the event is fired
    member.room.fire(action, member_headers(member))
    return reply


MemberCommand = Callable[[Member, str | None], str]
MEMBER_COMMANDS: dict[str, MemberCommand] = {
    "kick": kick,
    "hup": hup,
    "mute": lambda m, d: set_flag(m, "can_speak", False, "mute-member", "mute"),
    "unmute": lambda m, d: set_flag(m, "can_speak", True, "unmute-member", "unmute"),
    "tmute": lambda m, d: set_flag(m, "can_speak", not m.can_speak,
                                   "mute-member" if m.can_speak else "unmute-member",
                                   "mute" if m.can_speak else "unmute"),
    "deaf": lambda m, d: set_flag(m, "can_hear", False, "deaf-member", "deaf"),
    "undeaf": lambda m, d: set_flag(m, "can_hear", True, "undeaf-member", "undeaf"),
}
MEMBER_SYNTAX = {
    "kick": "<[member_id|all|last|non_moderator]> [<optional sound file>]",
    "hup": "<[member_id|all|last|non_moderator]>",
    "mute": "<[member_id|all]|last|non_moderator> [<quiet>]",
    "unmute": "<[member_id|all]|last|non_moderator> [<quiet>]",
    "tmute": "<[member_id|all]|last|non_moderator> [<quiet>]",
    "deaf": "<[member_id|all]|last|non_moderator>",
    "undeaf": "<[member_id|all]|last|non_moderator>",
}
