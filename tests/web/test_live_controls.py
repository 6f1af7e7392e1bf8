"""Live controls: a channel declares what can be done to its live interactions, the hub lets
the right people do it, audits it, and carries the channel's reports (hold, the end of the
contact) to the agent's screen, state and the customer's history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select
from test_routing_api import frame, staff
from web_helpers import Client, Hub, served_hub

from hub.channel import Capabilities, Channel, Control, Health
from hub.errors import ChannelError
from hub.hookspecs import hookimpl
from hub.models import AuditEntry, HistoryEntry, Interaction, Queue
from hub.settings import load_settings


class Phone(Channel):
    """A channel whose contacts are live, like a call: held, given digits, listened to."""

    name: ClassVar[str] = "phone"
    done: ClassVar[list[tuple[int, str, int, dict[str, str]]]] = []

    def controls(self) -> tuple[Control, ...]:
        return (
            Control("hold", "Hold", key="h", when=("talking",)),
            Control("resume", "Resume", key="h", when=("held",)),
            Control("dtmf", "Send digits", params=("digits",), private=("digits",)),
            Control("requeue", "Transfer to a queue", params=("queue",)),
            Control("listen", "Listen", supervisor=True),
        )

    async def control(self, interaction_id: int, action: str, *, agent_id: int,
                      params: dict[str, str]) -> dict[str, Any]:
        if action == "dtmf" and not params["digits"].isdigit():
            raise ChannelError("digits are 0-9, * and #")
        self.done.append((interaction_id, action, agent_id, params))
        state = {"state": "held" if action == "hold" else "talking"}
        if action in ("hold", "resume"):
            await self.hub.on_hold(interaction_id, action == "hold")
        await self.hub.live(interaction_id, state)
        return state

    async def live(self, interaction_id: int) -> dict[str, Any] | None:
        return {"state": "talking"}

    capabilities: ClassVar[Capabilities] = Capabilities(realtime=True, can_initiate=True)
    dialled: ClassVar[list[tuple[int, int, str]]] = []

    async def initiate(self, customer_id: int, agent_id: int, address: str) -> int:
        self.dialled.append((customer_id, agent_id, address))
        return await self.hub.open_outbound(customer_id, f"out:{address}", agent_id, "Outbound call")

    async def media(self, interaction_id: int, name: str) -> Path | None:
        return self.files.get(name)

    files: ClassVar[dict[str, Path]] = {}

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, out: Any) -> Any: ...

    async def health(self) -> Health:
        return Health()


class PhonePlugin:
    @hookimpl
    def hub_register_channels(self, register: Any) -> None:
        register(Phone)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    Phone.done.clear()
    people = [("1001", "Alice", "agent"), ("1002", "Bob", "agent"), ("9001", "Sam", "supervisor")]
    async with served_hub(load_settings(data_dir=tmp_path, wrap_up_seconds=30), people,
                          plugins=[PhonePlugin()]) as served:
        yield served


async def alices_call(hub: Hub, alice: Client) -> int:
    """A call waiting in the default queue, offered to Alice, accepted: she is active on it."""
    await staff(hub, "1001")
    ws = await alice.ws()
    await alice.post("/api/me/state", json={"state": "idle"})
    result = await hub.ingest("Call: Main menu › Agent", channel="phone", sender="13800138000")
    await frame(ws, "offer", kind="offered")
    assert (await alice.post(f"/api/offers/{result.interaction_id}/accept")).status == 200
    await frame(ws, "agent_state", to_state="active")
    await ws.close()
    return result.interaction_id


async def test_the_holder_sees_the_channels_controls_and_the_live_state(
        hub: Hub, alice: Client, sam: Client) -> None:
    call = await alices_call(hub, alice)

    mine = await (await alice.get(f"/api/interactions/{call}/live")).json()
    supervising = await (await sam.get(f"/api/interactions/{call}/live")).json()

    assert mine["live"] == {"state": "talking"} and mine["record"] == {}
    assert [c["action"] for c in mine["controls"]] == ["hold", "resume", "dtmf", "requeue"]
    assert mine["controls"][0] == {"action": "hold", "label": "Hold", "key": "h", "params": [],
                                   "supervisor": False, "when": ["talking"], "private": [],
                                   "pressed": "", "options": []}
    assert [c["action"] for c in supervising["controls"]] == ["listen"]


async def test_a_control_asking_for_a_queue_offers_the_centres_queues(hub: Hub, alice: Client) -> None:
    call = await alices_call(hub, alice)
    async with hub.core.sessions() as s:
        names = sorted((await s.execute(select(Queue.name))).scalars())
    mine = await (await alice.get(f"/api/interactions/{call}/live")).json()
    [requeue] = [c for c in mine["controls"] if c["action"] == "requeue"]
    assert [value for value, _label in requeue["options"]] == names and "default" in names
    [dtmf] = [c for c in mine["controls"] if c["action"] == "dtmf"]
    assert dtmf["options"] == [], "other params are typed"


async def test_a_control_is_done_by_the_channel_audited_and_moves_the_agent(
        hub: Hub, alice: Client) -> None:
    call = await alices_call(hub, alice)
    ws = await alice.ws()

    held = await alice.post(f"/api/interactions/{call}/controls/hold", json={})
    assert held.status == 200 and (await held.json())["live"] == {"state": "held"}
    await frame(ws, "agent_state", to_state="hold")
    live = await frame(ws, "live", interaction_id=call)
    digits = await alice.post(f"/api/interactions/{call}/controls/dtmf", json={"params": {"digits": "1234"}})
    resumed = await alice.post(f"/api/interactions/{call}/controls/resume", json={})
    await frame(ws, "agent_state", to_state="active")

    assert live["live"] == {"state": "held"}
    assert digits.status == 200 and resumed.status == 200
    alice_id = hub.agents["1001"].id
    assert [(i, a, who) for i, a, who, _ in Phone.done] == [
        (call, "hold", alice_id), (call, "dtmf", alice_id), (call, "resume", alice_id)]
    async with hub.core.sessions() as s:
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.detail)
                                 .where(AuditEntry.action.like("control.%"))  # type: ignore[attr-defined]
                                 .order_by(AuditEntry.id))).all()  # type: ignore[arg-type]
    # The digits may be a card number: the log says digits were sent, not which.
    assert [tuple(row) for row in audit] == [("control.hold", ""), ("control.dtmf", "digits=…"),
                                            ("control.resume", "")]


async def test_controls_refuse_the_wrong_person_and_say_what_is_missing(
        hub: Hub, alice: Client, bob: Client, sam: Client) -> None:
    call = await alices_call(hub, alice)

    not_bobs = await bob.post(f"/api/interactions/{call}/controls/hold", json={})
    not_alices = await alice.post(f"/api/interactions/{call}/controls/listen", json={})
    no_digits = await alice.post(f"/api/interactions/{call}/controls/dtmf", json={})
    unknown = await alice.post(f"/api/interactions/{call}/controls/explode", json={})
    refused = await alice.post(f"/api/interactions/{call}/controls/dtmf", json={"params": {"digits": "x"}})
    listened = await sam.post(f"/api/interactions/{call}/controls/listen", json={})

    assert not_bobs.status in (403, 404)  # Bob may not even read Alice's contact
    assert not_alices.status == 403 and (await not_alices.json())["message"] == "only supervisors may do that"
    assert no_digits.status == 400 and (await no_digits.json())["message"] == "give digits for Send digits"
    assert unknown.status == 404
    assert refused.status == 409 and (await refused.json()) == {"error": "control_failed",
                                                                "message": "digits are 0-9, * and #"}
    assert listened.status == 200
    assert [(a, who) for _, a, who, _ in Phone.done] == [("listen", hub.agents["9001"].id)]


async def test_the_end_of_the_contact_keeps_its_record_and_puts_the_agent_in_wrap_up(
        hub: Hub, alice: Client) -> None:
    call = await alices_call(hub, alice)
    ws = await alice.ws()
    phone = hub.core.facade("phone")
    record = {"talk_seconds": 42.0, "hangup_side": "customer", "hangup_cause": "NORMAL_CLEARING"}

    first = await phone.contact_ended(call, record, "call 0:42, the customer hung up")
    again = await phone.contact_ended(call, {"talk_seconds": 1.0}, "twice")
    await frame(ws, "agent_state", to_state="wrap_up")
    ended = await frame(ws, "live", interaction_id=call)

    assert (first, again) == (True, False)
    assert ended["live"] == {"state": "ended", **record}
    async with hub.core.sessions() as s:
        row = await s.get(Interaction, call)
        history = (await s.execute(select(HistoryEntry.kind, HistoryEntry.summary)
                                   .where(HistoryEntry.interaction_id == call))).all()
    assert row is not None and row.record == record and row.status == "assigned"
    assert ("contact_ended", "call 0:42, the customer hung up") in [tuple(h) for h in history]
    shown = await (await alice.get(f"/api/interactions/{call}/live")).json()
    wrap_up = shown["record"].pop("wrap_up_seconds")
    assert shown["record"] == record and 0 <= wrap_up < 30, "the wrap-up so far counts too"


async def test_a_contact_handed_to_another_queue_is_offered_there_at_once(
        hub: Hub, alice: Client, bob: Client) -> None:
    call = await alices_call(hub, alice)
    await staff(hub, "1002")
    bobs = await bob.ws()
    await bob.post("/api/me/state", json={"state": "idle"})
    await frame(bobs, "agent_state", to_state="idle")
    phone = hub.core.facade("phone")

    await phone.requeue(call, "default", hub.agents["1001"].id or 0)

    offer = await frame(bobs, "offer", kind="offered")
    assert offer["interaction_id"] == call, "Bob is idle in the queue: he is offered it without waiting"
    async with hub.core.sessions() as s:
        row = await s.get(Interaction, call)
    assert row is not None and (row.status, row.agent_id, row.queue) == ("queued", None, "default")
    with pytest.raises(Exception, match="only the agent who has this contact"):
        await phone.requeue(call, "default", hub.agents["1002"].id or 0)


async def test_a_recording_on_the_record_plays_to_those_who_may_read_the_contact(
        hub: Hub, alice: Client, bob: Client, tmp_path: Path) -> None:
    call = await alices_call(hub, alice)
    wav = tmp_path / "call-1.wav"
    wav.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    Phone.files["call-1.wav"] = wav
    await hub.core.facade("phone").contact_ended(
        call, {"media": [{"name": "call-1.wav", "content_type": "audio/wav"}]}, "call")

    played = await alice.get(f"/api/interactions/{call}/media/call-1.wav")
    ranged = await alice.get(f"/api/interactions/{call}/media/call-1.wav", headers={"Range": "bytes=4-7"})
    unlisted = await alice.get(f"/api/interactions/{call}/media/other.wav")
    not_bobs = await bob.get(f"/api/interactions/{call}/media/call-1.wav")

    assert played.status == 200 and played.headers["Content-Type"] == "audio/wav"
    assert await played.read() == wav.read_bytes() and played.headers["Cache-Control"] == "private, no-store"
    assert ranged.status == 206 and await ranged.read() == bytes(range(4)), "the player can seek"
    assert unlisted.status == 404 and not_bobs.status in (403, 404)
    async with hub.core.sessions() as s:
        plays = (await s.execute(select(AuditEntry.detail).where(
            AuditEntry.action == "interaction.media"))).scalars().all()
    assert plays == ["call-1.wav", "call-1.wav"], "each play is in the audit log"


async def test_an_agent_calls_a_customer_of_theirs_from_the_panel(
        hub: Hub, alice: Client, bob: Client) -> None:
    call = await alices_call(hub, alice)
    panel = await (await alice.get("/api/customers/1")).json()
    [phone] = [i for i in panel["identities"] if i["kind"] == "phone"]
    assert panel["contact_channels"] == ["phone"] and phone["address"] == "138****8000", "masked for agents"

    contacts = "/api/customers/1/contacts"
    started = await alice.post(contacts, json={"channel": "phone", "identity_id": phone["id"]})
    not_bobs = await bob.post(contacts, json={"channel": "phone", "identity_id": phone["id"]})
    no_such = await alice.post(contacts, json={"channel": "phone", "identity_id": 999})
    not_here = await alice.post(contacts, json={"channel": "web", "identity_id": phone["id"]})

    assert started.status == 200
    interaction_id = (await started.json())["interaction_id"]
    assert interaction_id != call and Phone.dialled == [(1, hub.agents["1001"].id, "13800138000")]
    async with hub.core.sessions() as s:
        row = await s.get(Interaction, interaction_id)
        audit = (await s.execute(select(AuditEntry.target)
                                 .where(AuditEntry.action == "contact.start"))).scalars()
        assert list(audit) == [f"interaction:{interaction_id}"]
    assert row is not None and (row.agent_id, row.status) == (hub.agents["1001"].id, "assigned")
    assert not_bobs.status == 403, "Bob serves no conversation of this customer"
    assert no_such.status == 404 and not_here.status == 400
