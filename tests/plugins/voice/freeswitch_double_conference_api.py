"""The ``conference`` api of the FreeSWITCH double (mod_conference's conference_api_main_real).

- ``conference <room> list [delim <d>]``: a line per member, newest first, in mod_conference's
  format ``<id>;<channel name>;<uuid>;<caller id name>;<caller id number>;<flags>;<volume in>;
  <agc volume in>;<volume out>;<energy level>`` with flags out of ``hear|speak|floor|moderator|ghost``;
  ``conference list`` does every room under a ``Conference <room> (<n> members rate: ...)`` line.
- ``conference <room> kick|hup|mute|tmute|unmute|deaf|undeaf <member id|all|last|non_moderator>``:
  ``OK kicked 3``, ``OK mute 3`` ... one line per member (newest first for ``all``), hup prints
  nothing, an unknown id gives ``Non-Existant ID 9`` (sic).
- ``conference <room> dial <dialstring> [<cid number> [<cid name>]]`` rings through the double's
  originate machinery (scripted endpoints, loopback); the answered leg runs ``conference <room>``
  and the api answers ``+OK Call Requested: result: [SUCCESS]`` (or the failure cause) once it is
  decided. ``bgdial`` answers ``+OK Job-UUID: <uuid>`` at once and fires bgdial-result (Result,
  Job-UUID) when the room existed. Both work for a room that does not exist yet: the answered
  leg creates it.
- A room that does not exist: ``-ERR Conference <room> not found``; a sub-command the double does
  not have (lock, play, record, ... are not modelled) ``Conference command '<name>' not found.``

Not in the reference. The member-command texts are those of mod_conference's source; the
``-ERR``/``+OK`` texts of not-found, dial and bgdial are what clients of 1.10 match on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freeswitch_double_channel import new_uuid
from freeswitch_double_conference import (
    CALLING,
    MEMBER_COMMANDS,
    MEMBER_SYNTAX,
    PROFILE,
    SUBCLASS,
    Conference,
)
from freeswitch_double_dial import DialError, dial, flip_cid, separate_args
from freeswitch_double_media import c_int

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

DIAL_SYNTAX = "<endpoint_module_name>/<destination> <callerid number> <callerid name>"
HELP = "".join(f"conference <conf name> {name} {syntax}\n" for name, syntax in (
    ("list", "[delim <string>]|[count]"), *MEMBER_SYNTAX.items(), ("dial", DIAL_SYNTAX),
    ("bgdial", DIAL_SYNTAX)))


async def api_conference(switch: FreeSwitchDouble, arg: str) -> str:
    """conference <room> <command> [...], conference list, conference <new room> dial|bgdial ..."""
    argv = [word.strip("'\"") for word in separate_args(arg or "")]
    if not argv or argv[0].lower() in ("help", "commands"):
        return HELP
    room = switch.conferences.get(argv[0])
    if room is not None:
        if len(argv) < 2:
            return "Conference command, not specified.\nTry 'help'\n"
        return await dispatch(switch, room, argv)
    if argv[0].lower() == "list":
        return list_all(switch, argv)
    if len(argv) > 1 and argv[1].lower() in ("dial", "bgdial"):
        return await dispatch(switch, None, argv)
    return f"-ERR Conference {argv[0]} not found\n"


async def dispatch(switch: FreeSwitchDouble, room: Conference | None, argv: list[str]) -> str:
    """conference_api_dispatch: the sub-command table, matched case-insensitively."""
    command = argv[1].lower()
    if command in ("dial", "bgdial"):
        if len(argv) <= 2:
            return f"Bad Args\n{command} {DIAL_SYNTAX}"
        cid_num = argv[3] if len(argv) > 3 else None
        cid_name = argv[4] if len(argv) > 4 else None
        if command == "dial":
            cause = await outcall(switch, room, argv[0], argv[2], cid_num, cid_name)
            return f"+OK Call Requested: result: [{cause}]\n"
        return bgdial(switch, room, argv[0], argv[2], cid_num, cid_name)
    if room is None:
        return f"-ERR Conference {argv[0]} not found\n"
    if command == "list":
        delim = argv[3] if len(argv) > 3 and argv[2].lower() == "delim" else ";"
        return list_room(room, delim)
    if command in MEMBER_COMMANDS:
        target, data = argv[2] if len(argv) > 2 else "", argv[3] if len(argv) > 3 else None
        return member_target(room, command, target, data)
    return f"Conference command '{argv[1]}' not found.\n"


def member_target(room: Conference, command: str, target: str, data: str | None) -> str:
    """CONF_API_SUB_MEMBER_TARGET: an id, all, non_moderator, or last (the highest id)."""
    handler = MEMBER_COMMANDS[command]
    member_id = c_int(target)
    if member_id:
        member = room.member(member_id)
        return handler(member, data) if member is not None else f"Non-Existant ID {member_id}\n"
    word = target.lower()
    if word in ("all", "non_moderator"):
        out = ""
        for member in reversed(room.members):  # conference->members is a stack: newest first
            if word == "non_moderator" and member.moderator:
                out += f"Skipping moderator (member id {member.id}).\n"
            elif member.running:
                out += handler(member, data)
        return out
    if word == "last":
        running = [member for member in room.members if member.running]
        return handler(max(running, key=lambda m: m.id), data) if running else ""
    return f"{command} {MEMBER_SYNTAX[command]}"


def list_room(room: Conference, delim: str = ";") -> str:
    """conference_list: one line per member, newest first."""
    lines = []
    for member in reversed(room.members):
        profile = member.leg.profile
        fields = [str(member.id), member.leg.name, member.leg.uuid, profile.caller_id_name,
                  profile.caller_id_number, member.flags, "0", "0", "0", str(PROFILE["energy-level"])]
        lines.append(delim.join(fields) + "\n")
    return "".join(lines)


def list_all(switch: FreeSwitchDouble, argv: list[str]) -> str:
    """conference list: each room's summary line and members, or ``No active conferences.``"""
    delim = argv[2] if len(argv) > 2 and argv[1].lower() == "delim" else ";"
    out = ""
    for room in switch.conferences.values():
        plural = "" if room.count == 1 else "s"
        out += (f"Conference {room.name} ({room.count} member{plural} rate: {PROFILE['rate']} flags: "
                "running|answered|dynamic|exit_sound|enter_sound)\n") + list_room(room, delim)
    return out or "No active conferences.\n"


async def outcall(switch: FreeSwitchDouble, room: Conference | None, name: str, dialstring: str,
                  cid_num: str | None, cid_name: str | None) -> str:
    """conference_outcall: originate (60 s); the answered leg runs ``conference <name>``.
    Returns the cause text (SUCCESS, or why the leg failed)."""
    cid = (cid_name or str(PROFILE["caller-id-name"]), cid_num or str(PROFILE["caller-id-number"]))
    try:
        leg, cause = await dial(switch, dialstring, cid, 60 * switch.time_scale)
    except DialError:
        return "DESTINATION_OUT_OF_ORDER"
    if leg is None:
        return cause
    flip_cid(leg)
    if room is not None and room.destroyed:
        leg.hangup("NO_ROUTE_DESTINATION")  # "Conference is gone now, nevermind.."; still SUCCESS
        return "SUCCESS"
    leg.plan.append(("conference", name))
    leg.go.set()
    return "SUCCESS"


def bgdial(switch: FreeSwitchDouble, room: Conference | None, name: str, dialstring: str,
           cid_num: str | None, cid_name: str | None) -> str:
    """conference_api_sub_bgdial: the outcall runs in its own thread; bgdial-result when done."""
    job = new_uuid()

    async def run() -> None:
        cause = await outcall(switch, room, name, dialstring, cid_num, cid_name)
        if room is not None:
            switch.fire_custom(SUBCLASS, [*room.headers(), ("Action", "bgdial-result"), ("Result", cause),
                                          ("Job-UUID", job)], calling=CALLING["bgdial-result"])

    switch.spawn(run())
    return f"+OK Job-UUID: {job}\n"
