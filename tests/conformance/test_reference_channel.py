"""The in-memory reference channel passes the whole conformance kit, plus its own tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hub.conformance import ChannelContract, reference, wait_for
from hub.conformance.helpers import count_messages, messages_with_text
from hub.conformance.reference import MemoryChannel, MemoryPeer
from hub.core import HubCore, create_hub
from hub.db import create_all
from hub.errors import ConfigError
from hub.settings import load_settings


class MemoryDriver:
    """Drives a ``MemoryPeer`` as the kit's ``PeerDriver``: the pattern every plugin copies."""

    def __init__(self, peer: MemoryPeer) -> None:
        self.memory = peer

    def sender_for(self, n: int) -> str:
        return f"customer-{n}"

    async def inject(self, text: str, sender: str, external_id: str) -> None:
        self.memory.arrive({"id": external_id, "from": sender, "text": text})

    async def inject_bad(self) -> None:
        self.memory.arrive({"from": "customer-1", "body": "no id, no text"})

    async def sent(self) -> list[str]:
        return [native["text"] for native in self.memory.outbox]

    async def disconnect(self) -> None:
        self.memory.set_up(False)

    async def reconnect(self) -> None:
        self.memory.set_up(True)


@pytest.fixture
def channel_plugin() -> object:
    return reference


@pytest.fixture
def memory_address() -> Iterator[str]:
    address = f"peer-{uuid.uuid4().hex[:8]}"
    reference.listen(address, MemoryPeer())
    yield address
    reference.unlisten(address)


@pytest.fixture
def channel_settings(memory_address: str) -> dict[str, Any]:
    return {"peer": memory_address, "retry_min": 0.02, "retry_max": 0.2}


@pytest.fixture
def peer(memory_address: str) -> MemoryDriver:
    return MemoryDriver(reference.connect(memory_address))


class TestMemoryChannel(ChannelContract):
    """Every contract, none skipped."""


async def test_acknowledges_only_stored_messages(
    conformance_hub: HubCore, peer: MemoryDriver
) -> None:
    await peer.inject("kept until stored", "customer-1", "m-1")
    await wait_for(lambda: not peer.memory.inbox, message="the peer's inbox to empty")
    assert await messages_with_text(conformance_hub, "memory", "kept until stored")


async def test_redelivery_after_lost_ack_is_stored_once(
    conformance_hub: HubCore, channel_under_test: MemoryChannel, peer: MemoryDriver
) -> None:
    """The channel stored a message but died before acknowledging: the peer delivers it again."""
    await channel_under_test.stop()
    native = {"id": "m-lost-ack", "from": "customer-1", "text": "stored, never acknowledged"}
    await channel_under_test.hub.ingest(channel_under_test.to_inbound(native))
    peer.memory.arrive(native)
    await channel_under_test.start()
    await wait_for(lambda: not peer.memory.inbox, message="the redelivery to be acknowledged")
    assert len(await messages_with_text(conformance_hub, "memory", native["text"])) == 1


async def test_ingest_failure_keeps_message_at_peer(
    conformance_hub: HubCore, channel_under_test: MemoryChannel, peer: MemoryDriver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    real_ingest = channel_under_test.hub.ingest

    async def flaky_ingest(msg: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database is away")
        return await real_ingest(msg)

    monkeypatch.setattr(channel_under_test.hub, "ingest", flaky_ingest)
    await peer.inject("survives a failed store", "customer-1", "m-flaky")
    await wait_for(lambda: not peer.memory.inbox, message="the retried message to be acknowledged")
    assert await count_messages(conformance_hub, "memory") == 1
    assert channel_under_test.current_health.state == "ok"


def test_bad_setting_stops_start_up_with_one_line(tmp_path: Any) -> None:
    settings = load_settings(data_dir=tmp_path, plugins={"memory": {"peer": "x", "retry_max": "soon"}})
    with pytest.raises(ConfigError) as err:
        create_hub(settings, plugins=[reference], load_entry_points=False)
    assert "[plugins.memory] retry_max" in str(err.value) and "\n" not in str(err.value)


async def test_starts_down_without_peer_and_recovers(tmp_path: Any) -> None:
    address = f"later-{uuid.uuid4().hex[:8]}"
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/h.sqlite",
                             plugins={"memory": {"peer": address, "retry_min": 0.02, "retry_max": 0.1}})
    core = create_hub(settings, plugins=[reference], load_entry_points=False)
    await create_all(core.engine)
    await core.start()
    try:
        channel = core.channel("memory")
        assert channel.current_health.state == "down"
        reference.listen(address, MemoryPeer())
        await wait_for(lambda: channel.current_health.state == "ok", message="ok once the peer listens")
    finally:
        reference.unlisten(address)
        await core.stop()
