"""The kit's live-contact contracts: the declaration check on its own, the quality rule for a
channel without text, and the whole group run against a small live channel whose agents
answer on screen (the voice channel runs them against the FreeSWITCH double)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hub.channel import Capabilities, Channel, Control, Health, HealthState, SendResult
from hub.conformance import ChannelContract, control_problems
from hub.conformance.quality import check
from hub.errors import ChannelError
from hub.events import InteractionEvent
from hub.hookspecs import hookimpl
from hub.messages import InboundMessage, OutboundMessage

ON = ("talking", "held")
DESK_CONTROLS = (
    Control("hold", "Hold", key="h", when=("talking",)),
    Control("resume", "Resume", key="h", when=("held",)),
    Control("note", "Note", key="n", params=("text",), private=("text",), when=ON),
    Control("flag", "Flag", key="f", when=ON, pressed="flagged"),
    Control("hangup", "Hang up", key="e", when=ON),
    Control("listen", "Listen", key="l", supervisor=True, when=ON, pressed="listened"),
)


# The declaration.


def test_well_formed_controls_have_no_problems() -> None:
    assert control_problems(DESK_CONTROLS) == []
    assert control_problems(()) == []


@pytest.mark.parametrize(("bad", "problem"), [
    (Control("Hold", "Hold"), "action 'Hold' is not a slug"),
    (Control("hold-on", "Hold"), "action 'hold-on' is not a slug"),
    (Control("pause", ""), "pause: no label"),
    (Control("pause", "Pause", key="P"), "pause: key 'P' is not one lowercase letter or digit"),
    (Control("pause", "Pause", key="ctrl+p"), "pause: key 'ctrl+p' is not one lowercase letter or digit"),
    (Control("pause", "Pause", params=("digits",), private=("pin",)),
     "pause: private 'pin' is not one of its params ('digits',)"),
    (Control("pause", "Pause", params=("Digits",)), "pause: param 'Digits' is not a slug"),
    (Control("pause", "Pause", params=("a", "a")), "pause: params ('a', 'a') names one twice"),
    (Control("pause", "Pause", params=["digits"]), "pause: params ['digits'] is not a tuple of strings"),  # type: ignore[arg-type]
    (Control("pause", "Pause", when=("",)), "pause: when '' is not a live state"),
    (Control("pause", "Pause", pressed="state"), "pause: pressed 'state' is not a live field"),
    (Control("pause", "Pause", pressed="Muted!"), "pause: pressed 'Muted!' is not a live field"),
    (Control("pause", "Pause", supervisor="yes"), "pause: supervisor 'yes' is not a bool"),  # type: ignore[arg-type]
])
def test_each_malformed_control_is_named(bad: Control, problem: str) -> None:
    problems = control_problems((*DESK_CONTROLS, bad))

    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_an_action_declared_twice_is_refused() -> None:
    assert control_problems((*DESK_CONTROLS, Control("hold", "Hold again"))) == [
        "action 'hold' is declared twice"]


@pytest.mark.parametrize(("one", "other", "shared"), [
    (("talking",), ("talking", "held"), "in 'talking'"),
    ((), ("held",), "in 'held'"),
    ((), (), "in every state"),
])
def test_one_key_for_two_controls_usable_at_once_is_refused(
        one: tuple[str, ...], other: tuple[str, ...], shared: str) -> None:
    controls = (Control("mute", "Mute", key="m", when=one), Control("mark", "Mark", key="m", when=other))

    assert control_problems(controls) == [f"mute and mark share the key 'm' and are both usable {shared}"]


def test_one_key_for_controls_of_different_states_is_fine() -> None:
    # Hold and resume share h in the desk's controls: one is for talking, the other for held.
    assert control_problems((replace(DESK_CONTROLS[0], key="r"), DESK_CONTROLS[1], *DESK_CONTROLS[2:])) == []


def test_controls_must_be_control_objects_in_a_tuple() -> None:
    assert control_problems([{"action": "hold"}]) == [  # type: ignore[list-item]
        "{'action': 'hold'} is not a hub.channel.Control"]
    assert control_problems({"hold": DESK_CONTROLS[0]}) == [  # type: ignore[arg-type]
        "controls() returned dict, not a tuple of Control"]


# The quality scale: a channel without text passes the live-contact contracts instead.


def plugin_without_text(tmp_path: Path, level: str, peer: str, body: str = "") -> tuple[Path, Path, Path]:
    plugin, tests, bench = tmp_path / "phone", tmp_path / "tests", tmp_path / "bench"
    for folder in (plugin, tests, bench):
        folder.mkdir(parents=True)
    for name in ("__init__.py", "channel.py", "config.py"):
        (plugin / name).write_text("")
    (plugin / "README.md").write_text(f"# Phone\n\n**Quality level:** {level}\n")
    (tests / "test_phone_conformance.py").write_text(
        "from hub.conformance import ChannelContract\n\n"
        f"class SwitchPeer:\n{peer}\n\n"
        f"class TestPhone(ChannelContract):\n    carries_text = False\n{body}")
    return plugin, tests, bench


LIVE_PEER = "    async def start_live_contact(self, sender):\n        ...\n"


def test_without_text_and_without_live_contacts_a_channel_stays_at_bronze(tmp_path: Path) -> None:
    paths = plugin_without_text(tmp_path, "silver", "    pass\n")

    assert check(*paths).missing == (
        "silver: contract switched off: carries_text (and no live-contact peer in its place)",)
    assert check(*plugin_without_text(tmp_path / "b", "bronze", "    pass\n")).ok


def test_without_text_a_channel_whose_peer_places_live_contacts_may_be_silver(tmp_path: Path) -> None:
    assert check(*plugin_without_text(tmp_path, "silver", LIVE_PEER)).ok


def test_switching_the_live_contact_contract_off_caps_at_bronze(tmp_path: Path) -> None:
    paths = plugin_without_text(tmp_path, "silver", LIVE_PEER, "    supports_live_contact = False\n")

    assert check(*paths).missing == (
        "silver: contract switched off: carries_text (and no live-contact peer in its place)",
        "silver: contract switched off: supports_live_contact")


# The contracts against a live channel whose agents answer on screen.


class Desk(Channel):
    """A service desk's walk-ins as a live channel: the customer arrives (the peer), the agent
    takes them on screen (no device: the channel has no ``offer``), works the desk controls,
    and the contact ends when either hangs up."""

    name: ClassVar[str] = "desk"
    capabilities: ClassVar[Capabilities] = Capabilities(realtime=True)

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.contacts: dict[int, dict[str, Any]] = {}
        self.by_sender: dict[str, int] = {}

    async def start(self) -> None:
        DESKS.append(self)
        self.report_health(HealthState.OK)

    async def stop(self) -> None:
        if self in DESKS:
            DESKS.remove(self)

    async def send(self, out: OutboundMessage) -> SendResult:
        raise ChannelError("a desk contact carries no text")

    async def health(self) -> Health:
        return self.current_health

    async def arrive(self, sender: str) -> None:
        result = await self.hub.ingest(InboundMessage(
            channel=self.name, external_id=f"walk-in:{uuid.uuid4().hex}", sender=sender,
            thread_key=f"walk-in:{sender}", text="A walk-in"))
        self.by_sender[sender] = result.interaction_id

    async def answered(self, interaction_id: int, agent_id: int) -> None:
        if interaction_id in self.by_sender.values():
            self.contacts[interaction_id] = {"state": "talking", "agent_id": agent_id, "flagged": False,
                                             "listened": False, "notes": 0}
            await self.hub.live(interaction_id, await self.live(interaction_id))

    async def leave(self, sender: str) -> None:
        interaction_id = self.by_sender.pop(sender, None)
        if interaction_id in self.contacts:
            await self._end(interaction_id, "customer")

    def controls(self) -> tuple[Control, ...]:
        return DESK_CONTROLS

    async def control(self, interaction_id: int, action: str, *, agent_id: int,
                      params: dict[str, str]) -> dict[str, Any]:
        contact = self.contacts.get(interaction_id)
        control = next((c for c in DESK_CONTROLS if c.action == action), None)
        if contact is None or control is None:
            raise ChannelError("this contact is not at the desk any more")
        if contact["state"] not in control.when:
            raise ChannelError(f"{control.label} is not possible while the contact is {contact['state']}")
        if not control.supervisor and agent_id != contact["agent_id"]:
            raise ChannelError("this contact is another agent's")
        if action in ("hold", "resume"):
            contact["state"] = "held" if action == "hold" else "talking"
            await self.hub.on_hold(interaction_id, action == "hold")
        elif action == "note":
            contact["notes"] += 1
        elif action in ("flag", "listen"):
            field = {"flag": "flagged", "listen": "listened"}[action]
            contact[field] = not contact[field]
        elif action == "hangup":
            await self._end(interaction_id, "agent")
            return {"state": "ended"}
        shown = await self.live(interaction_id)
        assert shown is not None
        await self.hub.live(interaction_id, shown)
        return shown

    async def live(self, interaction_id: int) -> dict[str, Any] | None:
        contact = self.contacts.get(interaction_id)
        return None if contact is None else {k: v for k, v in contact.items() if k != "agent_id"}

    async def _end(self, interaction_id: int, side: str) -> None:
        contact = self.contacts.pop(interaction_id)
        await self.hub.contact_ended(interaction_id, {"kind": "walk-in", "ended_by": side,
                                                      "notes": contact["notes"]},
                                     f"walk-in, ended by the {side}")


DESKS: list[Desk] = []
"""The started desks (one per test's hub)."""


class DeskPlugin:
    @hookimpl
    def hub_register_channels(self, register: Callable[[type[Channel]], None]) -> None:
        register(Desk)

    @hookimpl
    async def hub_on_interaction(self, event: InteractionEvent) -> None:
        if event.kind == "assigned" and event.channel == Desk.name and event.agent_id is not None:
            for desk in DESKS:
                await desk.answered(event.interaction_id, event.agent_id)


class DeskPeer:
    """The desk's side: customers walk in and leave; nobody answers on a device."""

    live_queue = "default"

    def __init__(self) -> None:
        self.answering: list[str] = []

    def sender_for(self, n: int) -> str:
        return f"visitor-{n}"

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        raise AssertionError("a walk-in carries no text")

    async def inject_bad(self) -> None:
        raise AssertionError("a walk-in carries no text")

    async def sent(self) -> list[str]:
        return []

    async def disconnect(self) -> None:
        raise AssertionError("the desk has no link to lose")

    async def reconnect(self) -> None:
        raise AssertionError("the desk has no link to lose")

    async def answer(self, agent_number: str) -> None:
        self.answering.append(agent_number)

    async def start_live_contact(self, sender: str) -> None:
        await DESKS[0].arrive(sender)

    async def end_live_contact(self, sender: str) -> None:
        await DESKS[0].leave(sender)


@pytest.fixture
def channel_plugin() -> object:
    return DeskPlugin()


@pytest.fixture
def peer() -> DeskPeer:
    return DeskPeer()


class TestDeskChannel(ChannelContract):
    """The live-contact contracts on a channel without devices; no text, no link."""

    carries_text = False
    supports_outage = False
    live_control_params: ClassVar[dict[str, dict[str, str]]] = {"note": {"text": "asked about a refund"}}


def contract_on(core: Any, channel: Channel, peer: DeskPeer, events: Any) -> TestDeskChannel:
    """The contract as pytest would run it, to see it fail on a channel that breaks it."""
    contract = TestDeskChannel()
    contract.hub, contract.channel, contract.peer, contract.events = core, channel, peer, events
    return contract


async def test_a_control_failing_with_another_error_fails_the_contract(
        conformance_hub: Any, channel_under_test: Desk, peer: DeskPeer, conformance_events: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def lookup_fails(interaction_id: int, action: str, **_: Any) -> dict[str, Any]:
        raise KeyError(interaction_id)

    monkeypatch.setattr(channel_under_test, "control", lookup_fails)
    contract = contract_on(conformance_hub, channel_under_test, peer, conformance_events)

    with pytest.raises(pytest.fail.Exception, match="'hold' on an unknown interaction raised KeyError"):
        await contract.test_live_refuses_other_interactions()


async def test_live_state_for_another_channels_interaction_fails_the_contract(
        conformance_hub: Any, channel_under_test: Desk, peer: DeskPeer, conformance_events: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def anything_is_live(interaction_id: int) -> dict[str, Any]:
        return {"state": "talking"}

    monkeypatch.setattr(channel_under_test, "live", anything_is_live)
    contract = contract_on(conformance_hub, channel_under_test, peer, conformance_events)

    with pytest.raises(AssertionError, match="live\\(\\) of an unknown interaction is"):
        await contract.test_live_refuses_other_interactions()


async def test_a_toggle_whose_field_live_lacks_fails_the_full_life(
        conformance_hub: Any, channel_under_test: Desk, peer: DeskPeer, conformance_events: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    muted = Control("mute", "Mute", key="m", when=ON, pressed="muted")
    monkeypatch.setattr(channel_under_test, "controls", lambda: (*DESK_CONTROLS, muted))
    contract = contract_on(conformance_hub, channel_under_test, peer, conformance_events)

    with pytest.raises(AssertionError, match="live\\(\\) has no field \\['muted'\\]"):
        await contract.test_live_contact_full_life()
