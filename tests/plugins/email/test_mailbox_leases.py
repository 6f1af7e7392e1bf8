"""Several hub processes on one database: each mail account is watched by exactly one of them,
the one holding its lease. Another takes it over when that process stops or dies, and an
admin's change made through any process reaches the one that watches the account. On
PostgreSQL, the database several processes share."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import account_settings, customer_mail, email_settings, new_user, start_hub, stored

from hub.conformance import wait_for
from hub.core import HubCore
from plugins.email.channel import EmailChannel

LEASE = 0.6
pytestmark = pytest.mark.postgres


def email(core: HubCore) -> EmailChannel:
    channel = core.channels["email"]
    assert isinstance(channel, EmailChannel)
    return channel


async def two_hubs(tmp_path: Path, database_url: str, *accounts: dict[str, Any],
                   **settings: Any) -> tuple[HubCore, HubCore]:
    section = email_settings(*accounts, watch_lease_seconds=LEASE)
    # One centre's processes share the secret key that seals the accounts' passwords.
    settings.setdefault("secret_key", "one centre's secret key, shared by its processes")
    first = await start_hub(tmp_path / "first", database_url, section, **settings)
    second = await start_hub(tmp_path / "second", database_url, section, **settings)
    return first, second


async def test_one_process_watches_a_mailbox_and_another_takes_over_when_it_stops(
        tmp_path: Path, server_database_url: str, dovecot_alive: Dovecot) -> None:
    user = new_user(dovecot_alive)
    first, second = await two_hubs(tmp_path, server_database_url, account_settings(dovecot_alive, user, None))
    try:
        assert set(email(first).watchers) == {"support"} and email(first).leases
        assert email(second).watchers == {} and email(second).elsewhere == {"support"}
        health = email(second).current_health
        assert health.detail == ("mail accounts watched by another hub process: support "
                                 f"(this one takes them within {LEASE:g} s if that one is gone)")
        await asyncio.sleep(LEASE * 2)  # renewed meanwhile: still the first's
        assert email(second).watchers == {}

        dovecot_alive.append(user, customer_mail("while the first watched"))
        [message] = await stored(first, 1)
        await first.stop()
        await wait_for(lambda: set(email(second).watchers) == {"support"}, 5,
                       message="the second process to take the mailbox")
        dovecot_alive.append(user, customer_mail("after the first stopped"))
        messages = await stored(second, 2)
        assert [m.text.strip() for m in messages] == ["while the first watched", "after the first stopped"]
        assert messages[0].id == message.id, "nothing stored twice"
    finally:
        await second.stop()
        if email(first).leases:
            await first.stop()


async def test_a_dead_process_leaves_its_mailbox_once_its_lease_runs_out(
        tmp_path: Path, server_database_url: str, dovecot_alive: Dovecot) -> None:
    user = new_user(dovecot_alive)
    first, second = await two_hubs(tmp_path, server_database_url, account_settings(dovecot_alive, user, None))
    try:
        keeper = email(first)._keeper
        assert keeper is not None
        keeper.cancel()  # it stops renewing, as a killed process would
        await wait_for(lambda: set(email(second).watchers) == {"support"}, LEASE * 4,
                       message="the lease to run out and the second process to take the mailbox")
    finally:
        await second.stop()
        await first.stop()


async def test_an_admins_change_or_sync_made_in_one_process_reaches_the_one_watching(
        tmp_path: Path, server_database_url: str, redis_url: str, dovecot_alive: Dovecot) -> None:
    user = new_user(dovecot_alive)
    first, second = await two_hubs(tmp_path, server_database_url, redis_url=redis_url)
    account = {**account_settings(dovecot_alive, user, None), "name": "support"}
    try:
        await email(first).accounts.save(account, check=False)
        await email(first).reload("support")  # what the admin API does after a save
        watcher = email(first).watchers["support"][0]
        await wait_for(lambda: email(second).elsewhere == {"support"}, 5,
                       message="the second process to see the account watched by the first")

        await email(second).accounts.save({**account, "queue": "billing"}, check=False)
        await email(second).reload("support")  # an admin's change, served by the second

        def rewatched() -> bool:
            current = email(first).watchers.get("support", [])
            return bool(current) and current[0] is not watcher and email(first).queues["support"] == "billing"

        await wait_for(rewatched, 5, message="the watching process to use the new settings")
        assert email(second).watchers == {}, "the other still does not watch it"

        woken: list[str] = []
        email(first)._wake_watchers = lambda: woken.append("first")  # type: ignore[method-assign]
        await email(second).sync_now()  # an admin's "look now", served by the second
        await wait_for(lambda: woken == ["first"], 5, message="the watching process to look now")
    finally:
        await second.stop()
        await first.stop()
