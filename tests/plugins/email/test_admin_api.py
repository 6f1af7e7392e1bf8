"""Admins manage mail accounts over the API: credentials are checked before anything is
saved, passwords are sealed and never shown, every change is audited, and only admins may."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import PASSWORD, customer_mail, new_user, stored
from smtp_server import SmtpTestServer
from sqlalchemy import select

import plugins.email
from hub.conformance import wait_for
from hub.models import AuditEntry, PluginState
from hub.settings import load_settings
from tests.web.web_helpers import Client, Hub, served_hub

BASE = "/api/admin/channels/email"
PEOPLE = [("1001", "Alice", "agent"), ("8001", "Ada", "admin")]


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Hub]:
    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url, redis_url="",
                             run_jobs_in_process=True,
                             plugins={"email": {"sweep_seconds": 1, "reconnect_max_seconds": 1}})
    async with served_hub(settings, PEOPLE, plugins=[plugins.email]) as hub:
        yield hub


@pytest.fixture
async def admin(served: Hub) -> AsyncIterator[Client]:
    client = Client(served)
    await client.login("8001")
    yield client
    await client.close()


def account(dovecot: Dovecot, user: str, smtp: SmtpTestServer, **extra: Any) -> dict[str, Any]:
    return {"address": user, "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
            "imap_password": PASSWORD, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
            "smtp_security": "none", "smtp_auth": False, **extra}


async def put(client: Client, name: str, body: dict[str, Any]) -> Any:
    return await client.http.put(client.hub.url(f"{BASE}/accounts/{name}"), json=body,
                                 headers={"X-CSRF-Token": client.csrf})


async def test_a_saved_account_is_read_at_once(served: Hub, admin: Client, dovecot_alive: Dovecot,
                                               smtp: SmtpTestServer) -> None:
    user = new_user(dovecot_alive)
    await dovecot_alive.aappend(user, customer_mail("waiting before the account existed"))
    response = await put(admin, "support", account(dovecot_alive, user, smtp, queue="billing"))
    assert response.status == 200, await response.text()
    shown = await response.json()
    assert shown["has_imap_password"] is True and "imap_password" not in shown
    [message] = await stored(served.core, 1)
    assert message.text.strip() == "waiting before the account existed"
    listed = await (await admin.get(f"{BASE}/accounts")).json()
    [row] = listed["accounts"]
    assert row["name"] == "support" and row["mailboxes"] == {"INBOX": "ok"}
    assert PASSWORD not in str(listed)


async def test_the_password_is_sealed_at_rest(served: Hub, admin: Client, dovecot_alive: Dovecot,
                                              smtp: SmtpTestServer) -> None:
    user = new_user(dovecot_alive)
    response = await put(admin, "support", account(dovecot_alive, user, smtp))
    assert response.status == 200, await response.text()
    async with served.core.sessions() as s:
        doc = (await s.execute(select(PluginState.value).where(
            PluginState.scope == "email", PluginState.key == "account:support"))).scalar_one()
    assert doc["imap_password"] and PASSWORD not in str(doc)


async def test_a_wrong_password_is_refused_before_saving(
        served: Hub, admin: Client, tmp_path: Path, smtp: SmtpTestServer) -> None:
    # A private server: Dovecot makes the next login from an address that failed one wait
    # seconds, and every test logs in from loopback.
    with Dovecot(tmp_path / "own") as own:
        user = "solo@hub.test"
        own.add_user(user, PASSWORD)
        own.start()
        response = await put(admin, "support", account(own, user, smtp, imap_password="wrong"))
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "imap_login_refused"
    assert user in error["message"] and "wrong" not in error["message"]
    assert (await (await admin.get(f"{BASE}/accounts")).json())["accounts"] == []


async def test_an_unreachable_smtp_server_is_refused_before_saving(
        served: Hub, admin: Client, dovecot_alive: Dovecot, smtp: SmtpTestServer) -> None:
    user = new_user(dovecot_alive)
    smtp.stop()
    response = await put(admin, "support", account(dovecot_alive, user, smtp))
    assert (await response.json())["error"] == "smtp_unreachable"


async def test_plaintext_to_a_remote_server_is_refused(served: Hub, admin: Client,
                                                       dovecot_alive: Dovecot, smtp: SmtpTestServer) -> None:
    body = account(dovecot_alive, "x@hub.test", smtp, imap_host="imap.example.com")
    response = await put(admin, "support", body)
    assert response.status == 400
    assert "only to a server on this machine" in (await response.json())["message"]


async def test_changes_are_audited_and_removal_stops_reading(
        served: Hub, admin: Client, dovecot_alive: Dovecot, smtp: SmtpTestServer) -> None:
    user = new_user(dovecot_alive)
    assert (await put(admin, "support", account(dovecot_alive, user, smtp))).status == 200
    # An edit without passwords keeps the stored ones (the form never shows them).
    edit = {**account(dovecot_alive, user, smtp), "imap_password": "", "signature": "Thanks"}
    assert (await put(admin, "support", edit)).status == 200
    channel = served.core.channel("email")
    assert "support" in channel.watchers
    deleted = await admin.http.delete(admin.hub.url(f"{BASE}/accounts/support"),
                                      headers={"X-CSRF-Token": admin.csrf})
    assert deleted.status == 200
    assert "support" not in channel.watchers
    async with served.core.sessions() as s:
        rows = (await s.execute(select(AuditEntry.action, AuditEntry.target).where(
            AuditEntry.action.startswith("email.")).order_by(AuditEntry.id))).all()  # type: ignore[attr-defined]
    saved, removed = ("email.account_saved", "support"), ("email.account_removed", "support")
    assert [tuple(r) for r in rows] == [saved, saved, removed]


async def test_only_admins_may(served: Hub, dovecot_alive: Dovecot, smtp: SmtpTestServer) -> None:
    agent = Client(served)
    await agent.login("1001")
    try:
        assert (await agent.get(f"{BASE}/accounts")).status == 403
        assert (await put(agent, "support", account(dovecot_alive, "x@hub.test", smtp))).status == 403
        anonymous = Client(served)
        assert (await anonymous.get(f"{BASE}/accounts")).status == 401
        await anonymous.close()
    finally:
        await agent.close()


async def test_without_the_csrf_token_nothing_changes(served: Hub, admin: Client,
                                                      dovecot_alive: Dovecot, smtp: SmtpTestServer) -> None:
    response = await admin.http.put(admin.hub.url(f"{BASE}/accounts/support"),
                                    json=account(dovecot_alive, "x@hub.test", smtp))
    assert response.status == 403


async def test_the_routes_are_in_the_openapi_document(served: Hub, admin: Client) -> None:
    document = await (await admin.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert paths[f"{BASE}/accounts/{{name}}"]["put"]["x-required-role"] == "admin"
    assert f"{BASE}/quarantine" in paths


async def test_the_mailbox_state_shows_a_server_going_down(
        served: Hub, admin: Client, tmp_path: Path, smtp: SmtpTestServer) -> None:
    with Dovecot(tmp_path / "own") as own:
        user = "solo@hub.test"
        own.add_user(user, PASSWORD)
        own.start()
        assert (await put(admin, "support", account(own, user, smtp))).status == 200

        async def shown(state: str) -> bool:
            rows = (await (await admin.get(f"{BASE}/accounts")).json())["accounts"]
            return bool(rows[0]["mailboxes"] == {"INBOX": state})
        # Read first, so the server goes away under a watcher that is connected, not one
        # still being greeted.
        await wait_for(lambda: shown("ok"), 10, message="the mailbox shown ok")
        own.stop()
        # Within the watcher's 10 s wait for an answer to DONE, when the stop came mid-IDLE.
        await wait_for(lambda: shown("down"), 20, message="the mailbox shown down")
