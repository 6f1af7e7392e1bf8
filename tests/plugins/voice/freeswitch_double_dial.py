"""Originate, bridge, uuid_bridge and uuid_transfer for the FreeSWITCH double (reference section 3).

Dial strings: ``{a=1,b='x y'}`` global variables, ``[..]`` per leg, ``,`` rings legs together and
``|`` one after another. Quoting follows the captures 11, 11b and 15 (quotes protect spaces, not
commas; a backslash protects a comma; an unquoted space breaks the block). A leg that uuid_bridge
or uuid_transfer takes out of a bridge is marked ``leaving_bridge``: the side left alone then parks
(park_after_bridge), hangs up, or, running the bridge application, goes on with its dialplan.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from freeswitch_double_calls import (
    Endpoint,
    Leg,
    link,
    loopback_pair,
    ring_endpoint,
    sofia_outbound,
    start_outbound,
)
from freeswitch_double_channel import new_uuid, now_us, switch_true

if TYPE_CHECKING:
    from freeswitch_double import FreeSwitchDouble

ORIGINATE_USAGE = ("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
                   "[<cid_name>] [<cid_num>] [<timeout_sec>]\n")


class DialError(Exception):
    """A dial string FreeSWITCH cannot parse (it then fails with DESTINATION_OUT_OF_ORDER)."""


@dataclass
class LegSpec:
    """One destination of a dial string with its merged variables."""

    target: str
    variables: dict[str, str]


def separate_args(text: str) -> list[str]:
    """switch_separate_string on spaces: single quotes group words (the quotes stay for later)."""
    tokens, current, quoted = [], "", False
    for index, char in enumerate(text):
        if char == "'" and (quoted or "'" in text[index + 1:]):
            quoted = not quoted
        if char == " " and not quoted:
            if current:
                tokens.append(current)
            current = ""
            continue
        current += char
    if current:
        tokens.append(current)
    return tokens


def parse_variables(block: str) -> dict[str, str]:
    """``a=1,b='x y',c=a\\,b``: split at unescaped commas, strip single quotes, unescape commas."""
    out: dict[str, str] = {}
    for item in re.split(r"(?<!\\),", block):
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            continue
        value = value.replace("\\,", ",")
        if value.startswith("'"):
            value = value[1:]
        if value.endswith("'"):
            value = value[:-1]
        out[name.strip()] = value
    return out


def _split_top(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for index, char in enumerate(text):
        depth += char in "[{"
        depth -= char in "]}"
        if char == separator and depth == 0 and (index == 0 or text[index - 1] != "\\"):
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def parse_dialstring(url: str) -> list[list[LegSpec]]:
    """Groups tried one after another, each a list of legs rung together."""
    global_vars: dict[str, str] = {}
    if url.startswith("{"):
        end = url.find("}")
        if end < 0:
            raise DialError(url)
        global_vars = parse_variables(url[1:end])
        url = url[end + 1:]
    groups = []
    for group in _split_top(url, "|"):
        legs = []
        for leg in _split_top(group, ","):
            leg_vars = dict(global_vars)
            if leg.startswith("["):
                end = leg.find("]")
                if end < 0:
                    raise DialError(leg)
                leg_vars.update(parse_variables(leg[1:end]))
                leg = leg[end + 1:]
            if not leg or leg.startswith("{"):
                raise DialError(url)
            legs.append(LegSpec(leg, leg_vars))
        groups.append(legs)
    return groups


def _timeout(switch: FreeSwitchDouble, spec_vars: dict[str, str], default: float) -> float:
    for key in ("leg_timeout", "originate_timeout", "call_timeout"):
        if spec_vars.get(key, "").isdigit():
            return int(spec_vars[key]) * switch.time_scale
    return default


def _make_leg(switch: FreeSwitchDouble, spec: LegSpec, cid: tuple[str, str],
              a_leg: Leg | None, dialplan: str) -> Leg | str:
    """Create the leg for one destination, or return the cause that fails it before any channel."""
    target, variables = spec.target, spec.variables
    uuid = variables.get("origination_uuid") or new_uuid()
    cid = (variables.get("origination_caller_id_name", cid[0]),
           variables.get("origination_caller_id_number", cid[1]))
    if target.startswith("error/"):
        return target[len("error/"):].upper() or "NORMAL_CLEARING"
    if target.startswith("loopback/"):
        parts = target.split("/")
        codec = ("PCMU", 8000, 64000) if a_leg else ("L16", 8000, 128000)
        leg, b_leg = loopback_pair(switch, parts[1], parts[2] if len(parts) > 2 else "default", uuid, cid,
                                   codec)
        if a_leg is not None:  # the loopback legs copy the caller's profile (08)
            for copy in (leg, b_leg):
                copy.profile.username = a_leg.profile.username
                copy.profile.network_addr = a_leg.profile.network_addr
    else:
        endpoint = switch.find_endpoint(target)
        if endpoint is None:
            # not in the reference: user/ unknown to the directory fails like mod_dptools does.
            return "SUBSCRIBER_ABSENT" if target.startswith("user/") else "NO_ROUTE_DESTINATION"
        if not endpoint.registered:
            return "USER_NOT_REGISTERED"
        number = target.split("/", 1)[1] if target.startswith("user/") else target.rsplit("/", 1)[-1]
        leg = sofia_outbound(switch, endpoint, number, uuid, cid, a_leg)
    leg.profile.dialplan = dialplan if leg.source != "mod_sofia" or a_leg else ""  # absent in 11b
    for key, value in variables.items():
        leg.set_var(key, value)
    leg.set_var("originate_endpoint", target.split("/", 1)[0])
    if a_leg is not None:
        link(a_leg, leg)
    switch.register(leg)
    start_outbound(leg, new_uuid() if "origination_uuid" in variables else None)
    if leg.loopback_peer is not None:
        from freeswitch_double_apps import route_loopback_b

        route_loopback_b(leg.loopback_peer)
    return leg


async def _attempt(leg: Leg, limit: float) -> str | None:
    """Wait for one leg's outcome: None when answered, else the cause it failed with."""
    if leg.endpoint is not None:
        return await ring_endpoint(leg, limit)
    peer = leg.loopback_peer
    assert peer is not None
    answered = await leg.idle_until(lambda: leg.answer_state == "answered" or leg.is_down or peer.is_down,
                                    limit)
    if leg.answer_state == "answered" and not leg.is_down:
        return None
    cause = leg.hangup_cause or peer.hangup_cause or ("NO_ANSWER" if not answered else "NORMAL_CLEARING")
    leg.hangup(cause)
    return cause


async def dial(switch: FreeSwitchDouble, url: str, cid: tuple[str, str], limit: float,
               a_leg: Leg | None = None, dialplan: str = "XML") -> tuple[Leg | None, str]:
    """Ring the dial string; the answered leg (others hang up with LOSE_RACE) or the failure cause."""
    cause = "NORMAL_CLEARING"
    for group in parse_dialstring(url):
        legs: list[Leg] = []
        for spec in group:
            made = _make_leg(switch, spec, cid, a_leg, dialplan)
            if isinstance(made, str):
                cause = made
            else:
                legs.append(made)
        if not legs:
            continue
        ring_for = _timeout(switch, group[0].variables, limit)
        winner, cause = await _race(legs, ring_for, a_leg, cause)
        if winner is not None:
            return winner, ""
        if a_leg is not None and a_leg.is_down:
            break
    return None, cause


async def _race(legs: list[Leg], limit: float, a_leg: Leg | None, cause: str) -> tuple[Leg | None, str]:
    """Ring legs together: first answer wins, the others get LOSE_RACE; a caller hangup cancels all."""
    attempts = {asyncio.ensure_future(_attempt(leg, limit)): leg for leg in legs}
    watcher = asyncio.ensure_future(a_leg.idle_until(lambda: a_leg.is_down)) if a_leg else None
    winner, pending = None, set(attempts)
    try:
        while pending and winner is None:
            waiting = pending | ({watcher} if watcher is not None else set())
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if watcher is not None and watcher in done:
                watcher = None
                cause = "ORIGINATOR_CANCEL"
                for task in pending:
                    attempts[task].hangup("ORIGINATOR_CANCEL")
            for task in done & pending:
                pending.discard(task)
                result = task.result()
                if result is None and winner is None:
                    winner = attempts[task]
                elif result is not None:
                    cause = result
    finally:
        if watcher is not None:
            watcher.cancel()
    for task in pending:
        attempts[task].hangup("LOSE_RACE")
    if pending:
        await asyncio.wait(pending)
    return winner, cause


async def originate_api(switch: FreeSwitchDouble, arg: str) -> str:
    """The ``originate`` API: ``+OK <uuid>\\n`` once answered (then the app or extension runs)."""
    tokens = separate_args(arg or "")
    if len(tokens) < 2:
        return ORIGINATE_USAGE
    url, target = tokens[0], tokens[1]
    dialplan = tokens[2] if len(tokens) > 2 else "xml"  # the default is lowercase here (07, 11)
    context = tokens[3] if len(tokens) > 3 else "default"
    cid = (tokens[4] if len(tokens) > 4 else "", tokens[5] if len(tokens) > 5 else "0000000000")
    limit = (int(tokens[6]) if len(tokens) > 6 and tokens[6].isdigit() else 60) * switch.time_scale
    try:
        leg, cause = await dial(switch, url, cid, limit, dialplan=dialplan)
    except DialError:
        return "-ERR DESTINATION_OUT_OF_ORDER\n"  # tested 15: an unquoted space cuts the {...} block
    if leg is None:
        return f"-ERR {cause}\n"
    flip_cid(leg)
    match = re.fullmatch(r"&([\w-]+)(?:\((.*)\))?", target)
    if match:
        leg.plan.append((match.group(1), match.group(2) or ""))
    else:
        leg.plan.extend(switch.route(target, context))
    leg.go.set()
    return f"+OK {leg.uuid}\n"


def flip_cid(leg: Leg) -> None:
    """switch_channel_flip_cid: the answered originate leg swaps caller and callee ids (07, 11)."""
    profile = leg.profile
    leg.set_var("pre_transfer_caller_id_number", profile.caller_id_number)
    profile.caller_id_name, profile.callee_id_name = profile.callee_id_name, profile.caller_id_name
    profile.caller_id_number, profile.callee_id_number = profile.callee_id_number, profile.caller_id_number
    leg.set_var("channel_cid_flipped", "yes")
    leg.hit_dialplan = True
    leg.fire("CALL_UPDATE", before=[("Direction", "RECV")])


def bridge_vars(a: Leg, b: Leg) -> None:
    """The variables a bridge leaves on the A leg (capture 08)."""
    a.set_var("bridge_to", b.uuid)
    a.set_var("last_bridge_to", b.uuid)
    a.set_var("bridge_channel", b.name)
    a.set_var("bridge_uuid", b.uuid)
    a.set_var("signal_bond", b.uuid)
    b.set_var("bridge_uuid", a.uuid)
    b.set_var("last_bridge_to", a.uuid)
    a.set_var("last_bridge_role", "originator")
    b.set_var("last_bridge_role", "originatee")


def fire_bridge(a: Leg, b: Leg, name: str) -> None:
    """CHANNEL_BRIDGE / CHANNEL_UNBRIDGE, fired once, on the originator (08)."""
    if name == "CHANNEL_BRIDGE":
        stamp = now_us()
        a.profile.times["bridged"] = b.profile.times["bridged"] = stamp
        a.other = ("originatee", b.profile.snapshot())
        a.bridged_with, b.bridged_with = b, a
        a.leaving_bridge = b.leaving_bridge = False
    a.fire(name, before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    if name == "CHANNEL_UNBRIDGE":
        # A leg taken into another bridge meanwhile keeps its new partner.
        for leg, peer in ((a, b), (b, a)):
            if leg.bridged_with is peer:
                leg.bridged_with, leg.leaving_bridge = None, False
        a.variables.pop("bridge_to", None)


def uuid_bridge(switch: FreeSwitchDouble, arg: str) -> str:
    """``uuid_bridge <a> <b>``: both legs leave their application (and any bridge they were in,
    whose other side then parks or hangs up) and are bridged."""
    parts = (arg or "").split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = switch.locate(parts[0]), switch.locate(parts[1])
    if a is None or b is None or a is b:
        return "-ERR Invalid uuid\n"
    link(a, b)
    a.bridge_done = b.bridge_done = asyncio.Event()
    a.bridge_left, b.bridge_left = asyncio.Event(), asyncio.Event()
    for leg, peer, role in ((a, b, "originator"), (b, a, "originatee")):
        take_out_of_bridge(leg)
        leg.plan = deque([("__bridged__", f"{peer.uuid} {role}")])
        leg.poke("transfer")
    return f"+OK {b.uuid}\n"


def take_out_of_bridge(leg: Leg) -> None:
    """The leg leaves its bridge (transfer, uuid_bridge elsewhere): its partner's bridge ends, and
    with it whatever the partner was being played there (hold music)."""
    peer = leg.bridged_with
    if isinstance(peer, Leg):
        leg.leaving_bridge = True
        if peer.broadcasting:
            peer.stop_broadcast = True
            peer.poke("break")
        peer.poke()


def after_peer_left(leg: Leg) -> None:
    """audio_bridge_on_exchange_media: the side left alone in a bridge parks with
    park_after_bridge=true, else hangs up (not in the reference: switch_ivr_bridge.c)."""
    if leg.is_down or leg.interrupt not in (None, "break"):
        return
    if switch_true(leg.variables.get("park_after_bridge")):
        leg.plan.appendleft(("__park__", ""))
        leg.poke()
    else:
        leg.hangup("NORMAL_CLEARING")


def transfer(switch: FreeSwitchDouble, arg: str) -> str:
    """``uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]``; quotes group words
    and are removed (``'conference:cc-1@default,park' inline``). -bleg/-both transfer the bridged
    partner first; -bleg without a partner does nothing and still answers +OK (mod_commands)."""
    parts = [token.strip("'") for token in separate_args(arg or "")]
    if len(parts) < 2 or len(parts) > 5 or not parts[0]:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    flag = parts.pop(1).lower() if len(parts) > 2 and parts[1].startswith("-b") else ""
    leg = switch.locate(parts[0])
    if leg is None:
        return "-ERR No such channel!\n"
    dest, dialplan = parts[1], parts[2] if len(parts) > 2 else "XML"
    partner = leg.bridged_with
    targets = [partner] if flag in ("-bleg", "-both") and isinstance(partner, Leg) else []
    if flag != "-bleg":
        targets.append(leg)
    for target in targets:
        context = parts[3] if len(parts) > 3 else target.profile.context
        steps = switch.inline(dest) if dialplan == "inline" else switch.route(dest, context)
        take_out_of_bridge(target)
        target.plan = deque([("__transfer__", f"{dest} {context} {dialplan}"), *steps])
        target.poke("transfer")
    return "+OK\n"


__all__ = [
    "Endpoint", "after_peer_left", "bridge_vars", "dial", "fire_bridge", "originate_api",
    "take_out_of_bridge", "transfer", "uuid_bridge",
]
