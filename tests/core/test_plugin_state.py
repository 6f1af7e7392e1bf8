"""A plugin's durable state through the facade: documents, leases, sealed secrets; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hub.core import HubCore, create_hub
from hub.settings import load_settings

MakeHub = Callable[..., Awaitable[HubCore]]


@pytest.fixture
async def make_hub(database_url: str, tmp_path: Path) -> AsyncIterator[MakeHub]:
    """A started hub on each database in turn, with no plugins."""
    started: list[HubCore] = []

    async def make() -> HubCore:
        settings = load_settings(data_dir=tmp_path / "var", database_url=database_url, redis_url="",
                                 routing=False)
        core = create_hub(settings, load_entry_points=False)
        await core.start()
        started.append(core)
        return core

    yield make
    for core in started:
        await core.stop()


async def test_documents_are_kept_per_plugin(make_hub: MakeHub) -> None:
    core = await make_hub()
    mail, sms = core.facade("email"), core.facade("sms")
    await mail.put_state("cursor:support:INBOX", {"uidvalidity": 7, "last_uid": 41})
    await mail.put_state("cursor:support:INBOX", {"uidvalidity": 7, "last_uid": 42})
    await mail.put_state("cursor:sales:INBOX", {"uidvalidity": 3, "last_uid": 1})
    await mail.put_state("account:support", {"x": 1})
    assert await mail.get_state("cursor:support:INBOX") == {"uidvalidity": 7, "last_uid": 42}
    assert await sms.get_state("cursor:support:INBOX") is None
    assert list(await mail.list_state("cursor:")) == ["cursor:sales:INBOX", "cursor:support:INBOX"]
    assert await mail.delete_state("account:support") is True
    assert await mail.delete_state("account:support") is False


async def test_a_lease_goes_to_exactly_one_of_many(make_hub: MakeHub) -> None:
    core = await make_hub()
    hub = core.facade("email")
    won = await asyncio.gather(*(hub.claim("send:1", 30, {"by": n}) for n in range(8)))
    assert won.count(True) == 1
    assert await hub.claim("send:1", 30) is False


async def test_a_lapsed_lease_can_be_taken_again(make_hub: MakeHub) -> None:
    core = await make_hub()
    hub = core.facade("email")
    assert await hub.claim("send:2", 0.05)
    await asyncio.sleep(0.1)
    assert await hub.claim("send:2", 30, {"by": "second"})
    assert await hub.get_state("send:2") == {"by": "second"}
    await hub.delete_state("send:2")
    assert await hub.claim("send:2", 30)


async def test_a_kept_lease_is_renewed_by_its_holder_and_by_nobody_else(make_hub: MakeHub) -> None:
    core = await make_hub()
    hub = core.facade("email")
    mine = await hub.lease("watch:support", 0.3, {"by": "me"})
    assert mine is not None and await hub.lease("watch:support", 30) is None
    for _ in range(3):  # kept well past its first 0.3 s by renewing
        await asyncio.sleep(0.15)
        assert await mine.renew()
    assert await hub.lease("watch:support", 30) is None, "still held"
    await asyncio.sleep(0.4)  # not renewed: it runs out, and another process takes it
    theirs = await hub.lease("watch:support", 30, {"by": "them"})
    assert theirs is not None
    assert await mine.renew() is False and await mine.release() is False, "no longer mine"
    assert await hub.get_state("watch:support") == {"by": "them"}
    assert await theirs.release()
    assert await hub.lease("watch:support", 30) is not None, "a released lease is free at once"


async def test_one_of_many_racing_for_a_kept_lease_gets_it(make_hub: MakeHub) -> None:
    core = await make_hub()
    hub = core.facade("email")
    leases = await asyncio.gather(*(hub.lease("watch:sales", 30, {"by": n}) for n in range(6)))
    [held] = [lease for lease in leases if lease is not None]
    assert await held.renew()


async def test_sealed_secrets_open_only_with_the_same_key_and_scope(make_hub: MakeHub) -> None:
    core = await make_hub()
    token = core.facade("email").seal("app-password")
    assert "app-password" not in token
    assert core.facade("email").unseal(token) == "app-password"
    with pytest.raises(ValueError, match="another secret key"):
        core.facade("sms").unseal(token)
