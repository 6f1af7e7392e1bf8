"""Reading one mailbox folder: IMAP IDLE for news, a UID sweep as the safety net.

Per folder the plugin keeps the UIDVALIDITY and the last UID it has stored. Both move only
after the database has committed the messages up to that UID, so a crash, a dropped
connection or a restarted server makes the hub fetch again, never skip. What is fetched
twice is recognised by its key (``plugins.email.receive``). Messages are fetched with
BODY.PEEK, so another client reading the mailbox changes nothing here, and nothing is moved
or deleted on the server before it is stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aioimaplib

from hub.errors import AuthFailed, ChannelError, NotReady

if TYPE_CHECKING:
    from plugins.email.config import Account, EmailConfig

log = logging.getLogger("contacthub.channel.email")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")
_EXISTS = re.compile(rb"^\d+ EXISTS$")


class ConnectionLost(NotReady):
    """The server went away in the middle of a session."""


@dataclass(frozen=True, slots=True)
class Fetched:
    uid: int
    raw: bytes


Store = Callable[[str, int, list[Fetched]], Awaitable[int]]
"""Stores fetched messages of (folder, uidvalidity) in UID order; returns the highest UID up
to which everything is stored (a message that must be tried again stops it short)."""


async def connect(account: Account, command_seconds: float) -> aioimaplib.IMAP4:
    """A logged-in client; ``AuthFailed`` when the password is refused, ``NotReady`` when the
    server cannot be reached."""
    lost = asyncio.Event()
    try:
        if account.imap_security == "tls":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                account.imap_host, account.imap_port, timeout=command_seconds,
                ssl_context=ssl.create_default_context(), conn_lost_cb=lambda _exc: lost.set())
        else:
            client = aioimaplib.IMAP4(account.imap_host, account.imap_port, timeout=command_seconds,
                                      conn_lost_cb=lambda _exc: lost.set())
        client.lost = lost  # type: ignore[attr-defined]
        # A server that says BYE and closes before answering (shutting down, or over its
        # connection limit) would leave the greeting's CAPABILITY waiting for ever and LOGIN
        # for its whole timeout.
        await _unless_lost(client, asyncio.wait_for(client.wait_hello_from_server(), command_seconds),
                           "the greeting")
        response = await _unless_lost(client, client.login(account.login, account.imap_password), "LOGIN")
    except ConnectionLost as err:
        await _close(client)
        raise NotReady(f"IMAP server {account.imap_host}:{account.imap_port} closed the connection "
                       f"before the login was answered") from err
    except (OSError, TimeoutError, aioimaplib.AioImapException) as err:
        raise NotReady(f"IMAP server {account.imap_host}:{account.imap_port} unreachable: "
                       f"{err or type(err).__name__}") from err
    if response.result != "OK":
        await _close(client)
        raise AuthFailed(f"the IMAP server {account.imap_host} refused the user name or password "
                         f"for {account.login}: {_text(response.lines)}")
    return client


async def check_imap(account: Account, command_seconds: float = 15) -> None:
    """Log in and select every folder; raises what ``connect`` raises, ``ChannelError`` for a
    folder that does not exist."""
    client = await connect(account, command_seconds)
    try:
        for folder in [*account.folders, *([account.processed_folder] if account.processed_folder else [])]:
            response = await client.select(_quote(folder))
            if response.result != "OK":
                raise ChannelError(f"folder {folder!r} does not exist on {account.imap_host}")
    finally:
        await _close(client)


class FolderWatcher:
    """Keeps one folder of one account stored, for as long as it runs."""

    def __init__(self, account: Account, folder: str, config: EmailConfig, store: Store,
                 cursor: CursorStore, report: Callable[[str, str], None],
                 ahead: Callable[[str, list[Fetched]], None] | None = None) -> None:
        self.account = account
        self.folder = folder
        self.config = config
        self.store = store
        self.ahead = ahead
        """Told of each batch as soon as it is fetched, before the one ahead of it is stored:
        the receiver parses it meanwhile."""
        self.cursor = cursor
        self.report = report
        """report(state, detail) with state "ok" or "down": the channel logs changes once."""
        self.synced = asyncio.Event()
        self.wake = asyncio.Event()
        """Set to sync now (a test, or an admin asking) instead of at the next sweep."""

    @property
    def label(self) -> str:
        return f"{self.account.name}/{self.folder}"

    async def run(self) -> None:
        first = min(1.0, self.config.reconnect_max_seconds)
        delay = first
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except AuthFailed as err:
                self.report("down", str(err))
                # Retrying a refused password every second would lock the account on many
                # servers; the admin is told, and the same password is tried rarely.
                await asyncio.sleep(self.config.login_retry_seconds)
                continue
            except (NotReady, OSError, TimeoutError, aioimaplib.AioImapException) as err:
                self.report("down", f"{self.label}: {err or type(err).__name__}")
            except Exception as err:
                log.exception("email %s: unexpected failure; reconnecting", self.label)
                self.report("down", f"{self.label}: {err}")
            await asyncio.sleep(delay * random.uniform(1.0, 1.3))
            delay = min(delay * 2, self.config.reconnect_max_seconds)
            if self.synced.is_set():
                delay = first
                self.synced.clear()

    async def _session(self) -> None:
        client = await connect(self.account, self.config.command_timeout)
        try:
            response = await _unless_lost(client, client.select(_quote(self.folder)), "SELECT")
            if response.result != "OK":
                raise ChannelError(f"cannot open folder {self.folder!r}: {_text(response.lines)}")
            uidvalidity = _uidvalidity(response.lines)
            await self._sync(client, uidvalidity)
            self.report("ok", "")
            self.synced.set()
            idle = client.has_capability("IDLE")
            while True:
                if idle:
                    await self._idle(client)
                else:
                    await self._nap(client)
                await self._sync(client, uidvalidity)
        finally:
            await _close(client)

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Return when the folder may have news: EXISTS, the sweep period ends, or the IDLE
        must be renewed. Raises ``ConnectionLost`` when the server went away."""
        lost: asyncio.Event = client.lost  # type: ignore[attr-defined]
        idle = await _unless_lost(client, client.idle_start(timeout=self.config.idle_renew_seconds), "IDLE")
        deadline = time.monotonic() + self.config.sweep_seconds
        try:
            while True:
                if lost.is_set():
                    raise ConnectionLost("the server closed the connection")
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.wake.is_set():
                    break
                try:
                    push = await client.wait_server_push(timeout=min(remaining, 1.0))
                except TimeoutError:
                    continue
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(_EXISTS.match(bytes(line)) for line in push):
                    break
        finally:
            self.wake.clear()
            if not lost.is_set():
                client.idle_done()
                try:
                    await asyncio.wait_for(idle, 10)
                except TimeoutError as err:
                    raise ConnectionLost("no answer to DONE") from err

    async def _nap(self, client: aioimaplib.IMAP4) -> None:
        lost: asyncio.Event = client.lost  # type: ignore[attr-defined]
        deadline = time.monotonic() + self.config.sweep_seconds
        while time.monotonic() < deadline and not self.wake.is_set():
            if lost.is_set():
                raise ConnectionLost("the server closed the connection")
            await asyncio.sleep(0.5)
        self.wake.clear()
        await _ok(client, client.noop(), "NOOP")

    async def _sync(self, client: aioimaplib.IMAP4, uidvalidity: int) -> None:
        """Fetch and store every message after the stored cursor, advancing it per batch."""
        stored = await self.cursor.get(self.account.name, self.folder)
        last = 0
        if stored is not None and stored[0] == uidvalidity:
            last = stored[1]
        elif stored is not None:
            log.warning("email %s: UIDVALIDITY changed from %s to %s; reading the folder again "
                        "(messages already stored are recognised and kept once)",
                        self.label, stored[0], uidvalidity)
        response = await _ok(client, client.uid_search(f"UID {last + 1}:*", charset=None), "UID SEARCH")
        # "n:*" includes the highest UID even when it is below n: filter here.
        uids = sorted(u for u in _uids(response.lines) if u > last)
        batches = [uids[start:start + self.config.batch] for start in range(0, len(uids), self.config.batch)]
        following = await self._fetched(client, batches[0]) if batches else []
        for number, batch in enumerate(batches):
            # The next batch is fetched before this one is stored, so it is parsed meanwhile.
            fetched = following
            if number + 1 < len(batches):
                following = await self._fetched(client, batches[number + 1])
            done = await self.store(self.folder, uidvalidity, fetched)
            if done > last:
                last = done
                await self.cursor.put(self.account.name, self.folder, uidvalidity, last)
            kept = [uid for uid in batch if uid <= done]
            if kept and self.account.processed_folder:
                # Only now, after the commit: a crash before this line leaves mail in place.
                await _ok(client, client.uid("move", _uid_set(kept), _quote(self.account.processed_folder)),
                          "UID MOVE")
            if done < batch[-1]:
                return  # a message to try again at the next sync; nothing after it is skipped
        if stored is None or stored[0] != uidvalidity:
            await self.cursor.put(self.account.name, self.folder, uidvalidity, last)

    async def _fetched(self, client: aioimaplib.IMAP4, uids: list[int]) -> list[Fetched]:
        fetched = await self._fetch(client, uids)
        if self.ahead is not None and fetched:
            self.ahead(self.folder, fetched)
        return fetched

    async def _fetch(self, client: aioimaplib.IMAP4, uids: list[int]) -> list[Fetched]:
        response = await _ok(client, client.uid("fetch", _uid_set(uids), "(UID BODY.PEEK[])"), "UID FETCH")
        found: dict[int, bytes] = {}
        lines = response.lines
        for i, line in enumerate(lines):
            # Each message: a header line with its UID, then the literal as a bytearray.
            if isinstance(line, bytes) and b"FETCH" in line and i + 1 < len(lines) \
                    and isinstance(lines[i + 1], bytearray):
                match = _FETCH_UID.search(line)
                if match:
                    found[int(match.group(1))] = bytes(lines[i + 1])
        # A UID may vanish between SEARCH and FETCH (expunged by someone): skip it.
        return [Fetched(uid, found[uid]) for uid in uids if uid in found]


class CursorStore:
    """(UIDVALIDITY, last stored UID) per account and folder, in the plugin's state."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    @staticmethod
    def key(account: str, folder: str) -> str:
        return f"cursor:{account}:{folder}"

    async def get(self, account: str, folder: str) -> tuple[int, int] | None:
        doc = await self.hub.get_state(self.key(account, folder))
        return None if doc is None else (int(doc["uidvalidity"]), int(doc["last_uid"]))

    async def put(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        await self.hub.put_state(self.key(account, folder),
                                 {"uidvalidity": uidvalidity, "last_uid": last_uid})


async def _ok(client: aioimaplib.IMAP4, call: Awaitable[Any], what: str) -> Any:
    response = await _unless_lost(client, call, what)
    if response.result != "OK":
        raise NotReady(f"{what} failed: {_text(response.lines)}")
    return response


async def _unless_lost(client: aioimaplib.IMAP4, call: Awaitable[Any], what: str) -> Any:
    """The command's response, or ``ConnectionLost`` as soon as the connection drops:
    aioimaplib leaves a command sent on a dead connection waiting for its whole timeout."""
    lost: asyncio.Event = client.lost  # type: ignore[attr-defined]
    command = asyncio.ensure_future(call)
    gone = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({command, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        answered = command.done()
        if not answered:
            command.cancel()
    if not answered:
        raise ConnectionLost(f"the server closed the connection during {what}")
    return command.result()


async def _close(client: aioimaplib.IMAP4) -> None:
    lost: asyncio.Event | None = getattr(client, "lost", None)
    try:
        # On a dropped connection LOGOUT would only wait out its 5 s for no answer.
        if client.get_state() in ("AUTH", "SELECTED") and not (lost and lost.is_set()):
            if client.has_pending_idle():
                # Stopped while IDLE was starting: LOGOUT would queue behind it for 5 s.
                client.idle_done()
            await asyncio.wait_for(client.logout(), 5)
    except Exception:
        pass  # leaving anyway; the server ends the session itself
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()


def _uidvalidity(lines: list[Any]) -> int:
    for line in lines:
        match = _UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ChannelError("the server did not say the folder's UIDVALIDITY")


def _uids(lines: list[Any]) -> list[int]:
    if not lines:
        return []
    first = bytes(lines[0]).strip()
    return [int(x) for x in first.split() if x.isdigit()]


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(u) for u in uids)


def _quote(folder: str) -> str:
    return f'"{folder}"' if " " in folder else folder


def _text(lines: list[Any]) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in lines)[:300]
