"""Logging in to an IMAP server that goes away: a server that greets, then says BYE and closes
instead of answering LOGIN (one shutting down, or one that limits connections) is reported
at once as not ready, not after the whole command timeout, so the mailbox shows ``down`` and
the next try follows its backoff."""

from __future__ import annotations

import asyncio
import time

import pytest

from hub.errors import NotReady
from plugins.email.config import Account
from plugins.email.imap import connect


async def bye_server(bye_at: str) -> asyncio.Server:
    """A server on loopback that greets, then answers ``bye_at`` (``CAPABILITY``, which the
    client asks first, or ``LOGIN``) with BYE and closes."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK ready\r\n")
        await writer.drain()
        while line := await reader.readline():
            tag, command = line.split(b" ", 2)[:2]
            if command.upper().strip() == bye_at.encode():
                writer.write(b"* BYE server shutting down\r\n")
                await writer.drain()
                break
            writer.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


@pytest.mark.parametrize("bye_at", ["CAPABILITY", "LOGIN"])
async def test_a_server_that_says_bye_before_the_login_is_answered_is_not_ready_at_once(bye_at: str) -> None:
    server = await bye_server(bye_at)
    port = server.sockets[0].getsockname()[1]
    account = Account(name="support", address="support@example.com", imap_host="127.0.0.1",
                      imap_port=port, imap_security="none", imap_password="secret")
    started = time.monotonic()
    try:
        async with asyncio.timeout(20):
            with pytest.raises(NotReady, match="closed the connection before the login was answered"):
                await connect(account, command_seconds=10)
    finally:
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 5, "not the 10 s command timeout"
