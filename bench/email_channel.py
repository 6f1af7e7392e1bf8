"""Email benchmark: a full mailbox read, stored and routed by the email channel.

A private Dovecot (the same harness the tests use; needs root and the Debian packages
``dovecot-core`` and ``dovecot-imapd``) is filled with N customer mails from many senders,
some replying in threads, some in Chinese, some with an attachment. A hub with the email
channel then starts on an empty database and the clock runs from ``channel.start()`` until
every mail is stored and the router has admitted every new conversation to its queue.

The baseline, measured in the same run against the same mailbox, is the IMAP transfer alone:
one client fetching every message with ``UID FETCH 1:* BODY.PEEK[]`` in the same batches and
storing nothing. The ratio says what storing and routing cost on top of reading the mail.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Not ``email.py``: run as a script, a file of that name in bench/ would hide the standard
# library's ``email`` package from every benchmark here.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "plugins" / "email")]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from email import policy  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.utils import format_datetime  # noqa: E402
from typing import Any  # noqa: E402

import aioimaplib  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from scratch_database import scratch_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

import plugins.email  # noqa: E402
from hub.core import HubCore, create_hub  # noqa: E402
from hub.db import transaction  # noqa: E402
from hub.migrate import upgrade  # noqa: E402
from hub.models import Interaction, Message, Queue  # noqa: E402
from hub.settings import load_settings  # noqa: E402

USER, PASSWORD = "support@hub.test", "bench-pass"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def mails(count: int, senders: int) -> list[bytes]:
    """Customer mail as clients send it: a tenth reply to an earlier mail of the same sender."""
    out = []
    for n in range(count):
        sender = f"customer{n % senders}@example.cn"
        mail = EmailMessage(policy=policy.SMTP)
        mail["From"] = f"Customer {n % senders} <{sender}>"
        mail["To"] = USER
        mail["Date"] = format_datetime(_date(n))
        mail["Message-ID"] = f"<m{n}@example.cn>"
        if n % 10 == 9 and n >= senders:
            earlier = n - senders
            mail["In-Reply-To"] = f"<m{earlier}@example.cn>"
            mail["References"] = f"<m{earlier}@example.cn>"
            mail["Subject"] = f"Re: Broadband fault {earlier}"
        else:
            mail["Subject"] = f"Broadband fault {n}" if n % 3 else f"宽带故障 {n}"
        mail.set_content(f"Line {n} has been down since this morning.\n"
                         + ("宽带从早上开始就断了，请尽快处理。\n" if n % 3 == 0 else "")
                         + "Account 0571-8888" + str(n).zfill(4) + "\n")
        if n % 20 == 0:
            mail.add_attachment(PNG, maintype="image", subtype="png", filename=f"modem-{n}.png")
        out.append(mail.as_bytes())
    return out


def _date(n: int) -> datetime:
    return datetime(2026, 11, 30, 8, tzinfo=UTC) + timedelta(seconds=n)


async def transfer_only(port: int, batch: int) -> float:
    """Seconds for one client to fetch every message, storing nothing."""
    started = time.perf_counter()
    client = aioimaplib.IMAP4("127.0.0.1", port, timeout=120)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    await client.select("INBOX")
    found = await client.uid_search("ALL", charset=None)
    uids = [int(x) for x in bytes(found.lines[0]).split()]
    fetched = 0
    for start in range(0, len(uids), batch):
        chunk = ",".join(str(u) for u in uids[start:start + batch])
        response = await client.uid("fetch", chunk, "(UID BODY.PEEK[])")
        fetched += sum(isinstance(line, bytearray) for line in response.lines)
    await client.logout()
    assert fetched == len(uids), (fetched, len(uids))
    return time.perf_counter() - started


async def counts(core: HubCore) -> tuple[int, int, int]:
    async with core.sessions() as s:
        stored = (await s.execute(select(func.count()).select_from(Message).where(
            Message.channel == "email"))).scalar_one()
        conversations = (await s.execute(select(func.count()).select_from(Interaction).where(
            Interaction.channel == "email"))).scalar_one()
    router = core.routing.router
    waiting = 0 if router is None else len(router.waiting.items)
    return int(stored), int(conversations), waiting


async def read_mailbox(
    port: int, data_dir: Path, database_url: str, expected: int, batch: int,
) -> dict[str, Any]:
    url = database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite'}"
    await upgrade(url)
    account = {"name": "support", "address": USER, "imap_host": "127.0.0.1", "imap_port": port,
               "imap_security": "none", "imap_password": PASSWORD, "queue": "email"}
    settings = load_settings(data_dir=data_dir, database_url=url, redis_url="", blocked_plugins=[],
                             plugins={"email": {"accounts": [account], "batch": batch,
                                                "sweep_seconds": 3600}})
    core = create_hub(settings, plugins=[plugins.email], load_entry_points=False)
    async with transaction(core.sessions) as s:
        s.add(Queue(name="email", title="Email"))  # the account's queue, as an operator sets it up
    # Routing first, the mailbox second: the clock starts when the channel starts.
    channel = core.channels.pop("email")
    await core.start()
    for _ in range(500):
        if core.routing.router is not None:
            break
        await asyncio.sleep(0.01)
    core.channels["email"] = channel
    try:
        started = time.perf_counter()
        await channel.start()
        stored_at = None
        while True:
            stored, conversations, waiting = await counts(core)
            if stored >= expected and stored_at is None:
                stored_at = time.perf_counter()
            if stored >= expected and waiting >= conversations:
                await core.routing.settled()
                break
            # Counting rows costs the hub's loop too: look four times a second, no more.
            await asyncio.sleep(0.25)
        routed_at = time.perf_counter()
    finally:
        await channel.stop()
        await core.stop()
    assert stored_at is not None
    return {"stored_s": stored_at - started, "routed_s": routed_at - started, "messages": stored,
            "conversations": conversations, "database": url.split(":", 1)[0]}


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with Dovecot(tmp / "dovecot") as server:
        server.add_user(USER, PASSWORD)
        server.start()
        loaded = time.perf_counter()
        server.fill(USER, mails(args.messages, args.senders))
        fill_s = time.perf_counter() - loaded
        baseline = await transfer_only(server.port, args.batch)
        if args.database_url:
            async with scratch_database(args.database_url) as url:
                result = await read_mailbox(server.port, tmp / "hub", url, args.messages, args.batch)
        else:
            result = await read_mailbox(server.port, tmp / "hub", "", args.messages, args.batch)
    result.update(fill_s=round(fill_s, 2), transfer_only_s=round(baseline, 3))
    result["messages_per_s"] = round(result["messages"] / result["routed_s"], 1)
    result["transfer_only_per_s"] = round(result["messages"] / baseline, 1)
    result["vs_transfer_only"] = round(result["routed_s"] / baseline, 1)
    for key in ("stored_s", "routed_s"):
        result[key] = round(result[key], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000, help="mails waiting in the mailbox")
    parser.add_argument("--senders", type=int, default=2_000, help="distinct customers writing them")
    parser.add_argument("--batch", type=int, default=100, help="messages per UID FETCH")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+asyncpg://...): the run makes a fresh "
                             "database there and drops it afterwards; embedded SQLite by default")
    args = parser.parse_args()
    if reason := Dovecot.available():
        sys.exit(f"bench/email_channel.py needs a private Dovecot: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(f"{'step':<34}{'seconds':>10}{'msgs/s':>10}   ({result['database']}, {result['messages']} mails, "
          f"{result['conversations']} conversations)")
    print(f"{'IMAP transfer only (baseline)':<34}{result['transfer_only_s']:>10.2f}"
          f"{result['transfer_only_per_s']:>10.0f}")
    print(f"{'start -> all stored':<34}{result['stored_s']:>10.2f}"
          f"{result['messages'] / result['stored_s']:>10.0f}")
    print(f"{'start -> all stored and routed':<34}{result['routed_s']:>10.2f}"
          f"{result['messages_per_s']:>10.0f}")
    print(f"storing and routing take {result['vs_transfer_only']}x the bare transfer; the aim is 200 msgs/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
