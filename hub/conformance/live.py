"""The live-contact contracts: what a channel whose contacts are live (a call) promises about
its controls (``Channel.controls``, ``control`` and ``live``, see docs/plugins/writing.md).

``ChannelContract`` includes them, so every channel's test runs them; a channel that declares
no controls has no live contacts, and each of them shows as skipped saying so. For the others:

- ``test_live_controls_are_well_formed``: the declaration alone (``control_problems``).
- ``test_live_refuses_other_interactions``: ``live()`` of an unknown interaction, or of another
  channel's, is None, and every control on one raises ``ChannelError`` with words.
- ``test_live_contact_full_life``: contacts placed by the peer (``LivePeerDriver``), answered by
  an agent, worked with every control, ended, each recorded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from sqlalchemy import select

from hub.channel import Channel, Control
from hub.conformance.helpers import (
    StaffMember,
    add_agent,
    foreign_interaction,
    get_interaction,
    history_of,
    interactions_of,
    make_available,
    wait_for,
    went_through,
)
from hub.conformance.peer import LivePeerDriver
from hub.errors import ChannelError, InvalidRequest
from hub.models import Agent, AgentRole, Interaction, InteractionStatus

if TYPE_CHECKING:
    from hub.conformance.helpers import EventRecorder
    from hub.conformance.peer import PeerDriver
    from hub.core import HubCore

SLUG = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""An action, a param or a live field: what ``Channel.name`` is, and what a URL and a JSON key
carry unchanged."""
KEY = re.compile(r"[a-z0-9]")
"""A control's key: the inbox matches ``Alt+<key>`` against it lower-cased."""
DEFAULT_PARAM = "1"
"""What the kit gives a param ``live_control_params`` does not name: short and harmless (a
digit), so that the control either does it or refuses it with words."""
ENDED = "ended"
"""The live state of a contact that is over (``Hub.contact_ended`` shows it)."""
WRAP_UP = "wrap_up"


def applies(control: Control, state: str) -> bool:
    """Whether ``control`` is for a contact whose live state is ``state``: its ``when`` names
    it, or is empty (always). This is what the inbox shows; the hub itself does not check it,
    so a channel refuses a control outside its ``when`` with ``ChannelError``."""
    return not control.when or state in control.when


def control_problems(controls: Sequence[Control]) -> list[str]:
    """What is wrong with a channel's declared controls, one line each; empty when nothing is.

    Each is a ``hub.channel.Control`` with a unique ``action`` that is a slug, a ``label``;
    ``key`` empty or a single lowercase letter or digit, and no two controls usable in the same
    live state share one (``hold`` and ``resume`` may both be ``h``: one is for ``talking``, the
    other for ``held``); ``params`` unique slugs, ``private`` among them; ``when`` non-empty
    strings; ``pressed`` empty or the slug of a live field other than ``state``.
    """
    if not isinstance(controls, tuple | list):
        return [f"controls() returned {type(controls).__name__}, not a tuple of Control"]
    problems: list[str] = []
    actions: set[str] = set()
    for control in controls:
        if not isinstance(control, Control):
            problems.append(f"{control!r} is not a hub.channel.Control")
            continue
        name = control.action
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            problems.append(f"action {name!r} is not a slug ([a-z][a-z0-9_]*, at most 40 characters)")
        elif name in actions:
            problems.append(f"action {name!r} is declared twice")
        actions.add(name)
        problems += [f"{name}: {problem}" for problem in _problems_of(control)]
    usable = [c for c in controls if isinstance(c, Control) and isinstance(c.key, str) and c.key]
    for one, other in combinations(usable, 2):
        shared = _shared_states(one, other)
        if one.key == other.key and shared:
            problems.append(f"{one.action} and {other.action} share the key {one.key!r} and are both "
                            f"usable {shared}")
    return problems


def _problems_of(control: Control) -> list[str]:
    problems = []
    if not isinstance(control.label, str) or not control.label.strip():
        problems.append("no label")
    if not isinstance(control.key, str) or (control.key and not KEY.fullmatch(control.key)):
        problems.append(f"key {control.key!r} is not one lowercase letter or digit")
    if not isinstance(control.supervisor, bool):
        problems.append(f"supervisor {control.supervisor!r} is not a bool")
    for field in ("params", "when", "private"):
        value = getattr(control, field)
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            problems.append(f"{field} {value!r} is not a tuple of strings")
        elif len(set(value)) != len(value):
            problems.append(f"{field} {value!r} names one twice")
    if problems:
        return problems
    problems += [f"param {p!r} is not a slug" for p in control.params if not SLUG.fullmatch(p)]
    problems += [f"private {p!r} is not one of its params {control.params}"
                 for p in control.private if p not in control.params]
    problems += [f"when {s!r} is not a live state" for s in control.when if not s.strip()]
    if not isinstance(control.pressed, str) or (control.pressed and (
            not SLUG.fullmatch(control.pressed) or control.pressed == "state")):
        problems.append(f"pressed {control.pressed!r} is not a live field (a slug other than 'state')")
    return problems


def _shared_states(one: Control, other: Control) -> str:
    """In words, the live states in which both controls are usable; empty when there is none."""
    if not one.when or not other.when:
        states = one.when or other.when
        return f"in {', '.join(map(repr, states))}" if states else "in every state"
    shared = [s for s in one.when if s in other.when]
    return f"in {', '.join(map(repr, shared))}" if shared else ""


@dataclass(slots=True)
class LiveContact:
    """One live contact the kit placed through the peer and an agent answered."""

    sender: str
    interaction_id: int
    """0 until the agent has answered it."""
    agent: StaffMember
    supervisor: StaffMember
    pushes: list[dict[str, Any]]
    """What ``Hub.live`` showed on the agent's screen (``live`` frames on their topic)."""
    unsubscribe: Callable[[], None]
    """Stops collecting ``pushes``."""


class LiveContactContract:
    """The live-contact contracts, a part of ``ChannelContract`` (which sets up ``hub``,
    ``channel``, ``peer`` and ``events``). Run for a channel whose ``controls()`` declares any;
    skipped, with the reason, for the others."""

    supports_live_contact: ClassVar[bool] = True
    """The peer can place a live contact (``LivePeerDriver``: ``live_queue``, ``answer``,
    ``start_live_contact``, ``end_live_contact``). Only read for a channel with controls; off,
    the full-life contract skips and the channel cannot rise above bronze."""
    live_timeout: ClassVar[float] = 20.0
    """Seconds a live contact may take to be answered once started, and its end to be recorded."""
    live_control_params: ClassVar[dict[str, dict[str, str]]] = {}
    """Values the kit gives the controls' params, by action then param name (``{"transfer":
    {"number": "+861012345"}}``). A param not named here gets ``"1"``: the control may then
    refuse it with ``ChannelError``, which the contract accepts."""

    hub: HubCore
    channel: Channel
    peer: PeerDriver
    events: EventRecorder
    settle: ClassVar[float]

    async def test_live_controls_are_well_formed(self) -> None:
        """See ``control_problems``."""
        problems = control_problems(self._live_controls())
        assert not problems, "the channel's live controls: " + "; ".join(problems)

    async def test_live_refuses_other_interactions(self) -> None:
        """``live()`` of an interaction that does not exist, or is another channel's (held by an
        agent, as a call would be), is None; every control on one raises ``ChannelError`` with
        words, never another error."""
        controls = self._live_controls()
        agent = await add_agent(self.hub)
        supervisor = await add_agent(self.hub, role=AgentRole.SUPERVISOR)
        foreign = await foreign_interaction(self.hub, agent.id)
        for interaction_id, what in ((foreign + 10_000, "an unknown interaction"),
                                     (foreign, "another channel's interaction")):
            live = await self.channel.live(interaction_id)
            assert live is None, f"live() of {what} is {live!r}, not None"
            for control in controls:
                by = supervisor.id if control.supervisor else agent.id
                await self._refused(control, interaction_id, by, what)

    async def test_live_contact_full_life(self) -> None:
        """The whole life of live contacts, each placed by the peer for a new customer and
        answered by a new agent the kit adds (the peer's devices answering for them):

        - after the answer ``live()`` says a state some control's ``when`` includes, with every
          field the ``pressed`` of those controls names, and ``Hub.live`` showed it on the
          agent's screen;
        - each control whose ``when`` leaves that state out is refused with words (on the first
          contact);
        - each control whose ``when`` includes it, in the declared order, used by the agent who
          holds the contact (the kit's supervisor for a supervisor's control), returns the live
          state or is refused with ``ChannelError`` with words; between two, the contact is
          brought back to that state by a control only for the state it is in (``resume`` after
          ``hold``). A control that ends the contact, or sends it where nothing leads back from
          (``hangup``, a transfer), leaves the rest to the next contact;
        - the customer ends it; a contact someone still held then passes ``_ended_once``: its
          record kept once, wrap-up, refused controls, one interaction. At least one contact
          ends in the hands of the agent who answered it.
        """
        self._live_controls()
        if not self.supports_live_contact:
            pytest.skip(f"{type(self).__name__}.supports_live_contact is False")
        peer = self._live_peer()
        controls = self.channel.controls()
        remaining: list[Control] | None = None
        retried: set[str] = set()
        wrapped_up = False
        answered = ""
        for number in range(1, len(controls) + 2):
            if remaining is not None and not remaining:
                break
            contact = await self._new_contact(peer, number)
            try:
                await self._place(peer, contact)
                state = await self._answered(contact)
                answered = answered or state
                assert state == answered, f"one contact was answered {answered!r}, another {state!r}"
                if remaining is None:
                    for control in controls:
                        if not applies(control, state):
                            await self._refused(control, contact.interaction_id,
                                                await self._by(control, contact), f"a contact {state!r}")
                    remaining = [c for c in controls if applies(c, state)]
                await self._work(contact, state, remaining, retried, controls)
                held = (await get_interaction(self.hub, contact.interaction_id)).agent_id is not None
                await peer.end_live_contact(contact.sender)
                if held:  # not sent back to a queue by a transfer: it ends as someone's
                    wrapped_up = await self._ended_once(contact) or wrapped_up
            finally:
                contact.unsubscribe()
                with contextlib.suppress(Exception):  # a failed test leaves no customer behind
                    await peer.end_live_contact(contact.sender)
        assert not remaining, f"controls {[c.action for c in remaining or ()]} were never tried in state"
        assert wrapped_up, "no contact ended while the agent who answered it held it"

    # The steps of the full life.

    async def _new_contact(self, peer: LivePeerDriver, number: int) -> LiveContact:
        """Customer ``number``'s contact to come, with a new agent skilled in the peer's queue
        (and a supervisor), following what the agent's screen is shown."""
        from hub.routing.topics import agent_topic

        agent = await add_agent(self.hub, queue=peer.live_queue)
        supervisor = await add_agent(self.hub, role=AgentRole.SUPERVISOR)
        pushes: list[dict[str, Any]] = []

        async def heard(_topic: str, payload: dict[str, Any]) -> None:
            if payload.get("type") == "live":
                pushes.append(payload)

        return LiveContact(self.peer.sender_for(number), 0, agent, supervisor, pushes,
                           self.hub.bus.subscribe(agent_topic(agent.id), heard))

    async def _place(self, peer: LivePeerDriver, contact: LiveContact) -> None:
        """The customer starts the contact; the hub offers it to the agent, whose device (or,
        without one, the kit as their screen) answers."""
        agent = contact.agent
        await peer.answer(agent.number)
        await peer.answer(contact.supervisor.number)
        await make_available(self.hub, agent.id, self.live_timeout)
        await peer.start_live_contact(contact.sender)
        contact.interaction_id = await wait_for(
            self._taken_by(agent), self.live_timeout,
            message=f"the live contact from {contact.sender} to be offered to agent {agent.number} "
                    "and answered")

    def _taken_by(self, agent: StaffMember) -> Callable[[], Awaitable[int | None]]:
        """The interaction of this channel the agent holds, accepting offers on the agent's
        behalf when the channel has no device of theirs to ring (no ``offer``)."""
        on_screen = type(self.channel).offer is Channel.offer

        async def taken() -> int | None:
            async with self.hub.sessions() as s:
                found = (await s.execute(select(Interaction.id).where(
                    Interaction.channel == self.channel.name, Interaction.agent_id == agent.id,
                    Interaction.status == InteractionStatus.ASSIGNED))).scalars().first()
                person = await s.get(Agent, agent.id) if found is None and on_screen else None
            if person is not None:
                from hub.routing.actions import accept_offer, pending_offers

                for offer in await pending_offers(self.hub, person):
                    with contextlib.suppress(InvalidRequest):  # gone meanwhile: the next poll sees
                        await accept_offer(self.hub, person, int(offer["interaction_id"]))
            return found

        return taken

    async def _answered(self, contact: LiveContact) -> str:
        """``live()`` of the answered contact says a state some control is for, with every
        field the toggles for it name, and ``Hub.live`` showed it on the agent's screen."""
        live = await wait_for(lambda: self.channel.live(contact.interaction_id), self.live_timeout,
                              message="live() of the answered contact")
        state = _state_of(live)
        assert state, f"live() of the answered contact has no 'state': {live!r}"
        usable = [c for c in self.channel.controls() if applies(c, state)]
        assert usable, f"after the answer live() says {state!r}, a state no control's `when` names"
        missing = sorted({c.pressed for c in usable if c.pressed and c.pressed not in live})
        assert not missing, f"live() has no field {missing} for the toggles that name it: {live!r}"

        def shown() -> list[dict[str, Any]]:
            return [p for p in contact.pushes
                    if p.get("interaction_id") == contact.interaction_id and _state_of(p.get("live"))]

        await wait_for(shown, self.live_timeout, message="a Hub.live update on the agent's screen")
        return state

    async def _work(self, contact: LiveContact, state: str, remaining: list[Control], retried: set[str],
                    controls: Sequence[Control]) -> None:
        """Use the ``remaining`` controls on the contact while it is in ``state``, taking each
        off the list once tried. Each returns the live state or is refused with words."""
        if remaining and not await self._back_to(state, contact, controls):
            pytest.fail(f"the contact left the state {state!r} it was answered in before any control")
        while remaining and await self._back_to(state, contact, controls):
            control = remaining.pop(0)
            if not await self._used(control, contact):
                # Give what the control set going (a hangup) time to show before the next one.
                await asyncio.sleep(self.settle)
            elif control.action not in retried and _over(await self.channel.live(contact.interaction_id)):
                # Refused maybe only because the contact was ending: once more, on the next one.
                retried.add(control.action)
                remaining.insert(0, control)

    async def _back_to(self, state: str, contact: LiveContact, controls: Sequence[Control]) -> bool:
        """Whether the contact is in ``state``, brought back there if it has to be with a control
        only for the state it is in now (``resume`` after ``hold``)."""
        now = _state_of(await self.channel.live(contact.interaction_id))
        if now == state:
            return True
        for way in controls:
            if now and way.when and now in way.when and state not in way.when:
                with contextlib.suppress(ChannelError):
                    result = await self._control(way, contact.interaction_id, await self._by(way, contact))
                    if _state_of(result) == state:
                        return True
        return False

    async def _used(self, control: Control, contact: LiveContact) -> bool:
        """Use a control the contact's state is for: it returns the live state or raises
        ChannelError with words. Whether it was refused."""
        try:
            result = await self._control(control, contact.interaction_id, await self._by(control, contact))
        except ChannelError as err:
            assert str(err).strip(), f"control {control.action!r} raised a ChannelError without words"
            return True
        except Exception as err:
            pytest.fail(f"control {control.action!r} raised {type(err).__name__}: {err}; a control that "
                        "cannot be done raises ChannelError with words for the person")
        assert isinstance(result, dict) and _state_of(result), (
            f"control {control.action!r} returned {result!r}, not the live state (a dict with 'state')")
        return False

    async def _ended_once(self, contact: LiveContact) -> bool:
        """The contact, ended while someone held it: its record is kept (a JSON object, not
        empty) and one line of history says so; it stays its holder's (they close it with a
        disposition), and the agent who answered, when they still hold it, went to wrap-up;
        ``live()`` is None or ``ended`` and controls not meant for ``ended`` are refused; the
        customer has this one interaction, announced opened once. Whether wrap-up was checked:
        a contact a supervisor took over is theirs, and the ACD never had them on it."""
        interaction_id = contact.interaction_id

        async def recorded() -> Interaction | None:
            row = await get_interaction(self.hub, interaction_id)
            return row if row.record else None

        row = await wait_for(recorded, self.live_timeout,
                             message="the end of the contact to be recorded (Hub.contact_ended)")
        assert isinstance(row.record, dict), f"the record is {row.record!r}, not a JSON object"
        holder = row.agent_id
        assert holder is not None and row.status == InteractionStatus.ASSIGNED, (
            f"an ended contact stays its agent's until they close it: status {row.status}, agent {holder}")
        answerer = contact.agent.id
        if holder == answerer:
            await wait_for(lambda: went_through(self.hub, answerer, WRAP_UP, interaction_id),
                           self.live_timeout,
                           message=f"agent {contact.agent.number} to go to wrap-up after the contact")
        await asyncio.sleep(self.settle)
        ended = await history_of(self.hub, interaction_id, "contact_ended")
        assert len(ended) == 1, f"the end is in the customer's history {len(ended)} times: {ended}"
        live = await self.channel.live(interaction_id)
        state = _state_of(live) or ENDED
        assert state == ENDED, f"live() of the ended contact says {live!r}: None or state 'ended'"
        for control in self.channel.controls():
            if applies(control, ENDED):
                await self._used(control, contact)
            else:
                await self._refused(control, interaction_id, await self._by(control, contact),
                                    "the ended contact")
        stored = await interactions_of(self.hub, self.channel.name, row.customer_id)
        assert [i.id for i in stored] == [interaction_id], (
            f"the contact is stored as interactions {[i.id for i in stored]}, not once")
        opened = [e for e in self.events.of_kind("opened") if e.interaction_id == interaction_id]
        assert len(opened) == 1, f"the contact was announced opened {len(opened)} times"
        return holder == answerer

    # Helpers.

    def _live_controls(self) -> tuple[Control, ...]:
        """The channel's declared controls; skips the test when there are none."""
        controls = self.channel.controls()
        if not controls:
            pytest.skip(f"{type(self).__name__}: channel {self.channel.name!r} declares no live controls "
                        "(Channel.controls() is empty), so its contacts are not live")
        return tuple(controls)

    def _live_peer(self) -> LivePeerDriver:
        if not isinstance(self.peer, LivePeerDriver):
            pytest.fail(f"channel {self.channel.name!r} declares live controls, so its peer must place a "
                        "live contact (LivePeerDriver: live_queue, answer, start_live_contact, "
                        f"end_live_contact); {type(self.peer).__name__} does not. Implement them, or set "
                        f"{type(self).__name__}.supports_live_contact = False")
        return self.peer

    def _params(self, control: Control) -> dict[str, str]:
        given = self.live_control_params.get(control.action, {})
        return {name: given.get(name, DEFAULT_PARAM) for name in control.params}

    async def _by(self, control: Control, contact: LiveContact) -> int:
        """Who uses the control: the supervisor for a supervisor's control, else the agent who
        holds the contact now (the supervisor, once they took it over)."""
        if control.supervisor:
            return contact.supervisor.id
        holder = (await get_interaction(self.hub, contact.interaction_id)).agent_id
        return holder if holder is not None else contact.agent.id

    async def _control(self, control: Control, interaction_id: int, by: int) -> dict[str, Any]:
        return await self.channel.control(interaction_id, control.action, agent_id=by,
                                          params=self._params(control))

    async def _refused(self, control: Control, interaction_id: int, by: int, what: str) -> None:
        """The control on ``what`` raises ChannelError with words, and nothing else."""
        try:
            result = await self._control(control, interaction_id, by)
        except ChannelError as err:
            assert str(err).strip(), f"control {control.action!r} on {what}: a ChannelError without words"
            return
        except Exception as err:
            pytest.fail(f"control {control.action!r} on {what} raised {type(err).__name__}: {err}; "
                        "it must raise ChannelError with words for the person")
        pytest.fail(f"control {control.action!r} on {what} returned {result!r}; it must raise ChannelError")


def _over(live: Any) -> bool:
    """Whether a live state (``live()``) says the contact is over: None, or ``ended``."""
    return live is None or _state_of(live) == ENDED


def _state_of(live: Any) -> str:
    """The ``state`` of a live dict, or empty when it is none."""
    state = live.get("state") if isinstance(live, dict) else None
    return state if isinstance(state, str) else ""
