"""Replies: threaded, retried, failed with a reason, and one copy per reply whatever dies.

Against a real Dovecot (the customer's mail arrives there) and a real SMTP server. The last
test runs the sending job in a real Celery worker and kills it with SIGKILL mid-send.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot
from mail_support import account_settings, customer_mail, email_settings, new_user, start_hub, stored
from smtp_server import SmtpTestServer

from hub.conformance import wait_for
from hub.core import HubCore
from hub.migrate import upgrade
from hub.models import Message
from hub.outbound import send_message
from plugins.email.sending import SEND


@pytest.fixture
async def hub(tmp_path: Path, database_url: str, dovecot_alive: Dovecot,
              smtp: SmtpTestServer) -> AsyncIterator[tuple[HubCore, str]]:
    user = new_user(dovecot_alive)
    section = email_settings(account_settings(dovecot_alive, user, smtp, signature="Example Telecom"))
    core = await start_hub(tmp_path, database_url, section)
    try:
        yield core, user
    finally:
        await core.stop()


async def first_mail(core: HubCore, dovecot: Dovecot, user: str, **kwargs: Any) -> Message:
    await dovecot.aappend(user, customer_mail("My line is down.", message_id="q1@example.cn",
                                              name="Zhang San", **kwargs))
    [message] = await stored(core, 1)
    return message


async def status(core: HubCore, message_id: int) -> Message:
    async with core.sessions() as s:
        row = await s.get(Message, message_id)
    assert row is not None
    return row


async def settled(core: HubCore, message_id: int, seconds: float = 20) -> Message:
    async def done() -> Message | None:
        row = await status(core, message_id)
        return row if row.delivery_status != "pending" else None
    return await wait_for(done, seconds, message=f"message {message_id} settled")


async def test_a_reply_is_threaded_quoted_and_signed(hub: tuple[HubCore, str], dovecot_alive: Dovecot,
                                                     smtp: SmtpTestServer) -> None:
    core, user = hub
    inbound = await first_mail(core, dovecot_alive, user, references=["older@example.cn"])
    reply_id = await send_message(core, inbound.interaction_id, "We are on it: 谢谢.", author_name="Li Si")
    final = await settled(core, reply_id)
    assert final.delivery_status == "sent"
    [got] = await smtp.wait_for_async(1)
    mail = got.message
    assert got.rcpt_tos == ["zhang@example.cn"]
    assert mail["In-Reply-To"] == "<q1@example.cn>"
    assert mail["References"].split() == ["<older@example.cn>", "<q1@example.cn>"]
    assert mail["Subject"] == "Re: Broadband down"
    assert mail["Message-ID"].strip("<>") == final.provider_id
    assert final.provider_id.startswith(f"ch.{reply_id}.") and final.provider_id.endswith("@hub.test")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("We are on it: 谢谢.")
    assert "Example Telecom" in body and "> My line is down." in body
    assert mail["Auto-Submitted"] is None


async def test_a_temporary_refusal_is_retried_and_sent_once(hub: tuple[HubCore, str], dovecot_alive: Dovecot,
                                                            smtp: SmtpTestServer) -> None:
    core, user = hub
    inbound = await first_mail(core, dovecot_alive, user)
    smtp.fail_next(1)  # 451
    reply_id = await send_message(core, inbound.interaction_id, "retried reply")
    assert (await status(core, reply_id)).delivery_status == "pending"
    assert (await settled(core, reply_id)).delivery_status == "sent"
    await asyncio.sleep(0.5)
    assert len(smtp.received) == 1


async def test_a_permanent_refusal_fails_with_the_servers_words(hub: tuple[HubCore, str],
                                                               dovecot_alive: Dovecot,
                                                               smtp: SmtpTestServer) -> None:
    core, user = hub
    inbound = await first_mail(core, dovecot_alive, user)
    smtp.refuse("zhang@example.cn")
    reply_id = await send_message(core, inbound.interaction_id, "to nobody")
    final = await settled(core, reply_id)
    assert final.delivery_status == "failed"
    assert "550" in final.delivery_error and "zhang@example.cn" in final.delivery_error
    assert smtp.received == []


async def test_two_runs_of_the_job_send_one_copy(hub: tuple[HubCore, str], dovecot_alive: Dovecot,
                                                 smtp: SmtpTestServer) -> None:
    core, user = hub
    inbound = await first_mail(core, dovecot_alive, user)
    smtp.delay_next(0.5)
    reply_id = await send_message(core, inbound.interaction_id, "only once")
    for _ in range(3):  # a retry, the sweep and a second worker, all at once
        core.enqueue(SEND, reply_id)
    await settled(core, reply_id)
    await asyncio.sleep(1.0)
    sent_as = (await status(core, reply_id)).provider_id
    assert [r.message["Message-ID"] for r in smtp.received] == [f"<{sent_as}>"]


async def test_an_automatic_message_says_so(hub: tuple[HubCore, str], dovecot_alive: Dovecot,
                                            smtp: SmtpTestServer) -> None:
    core, user = hub
    inbound = await first_mail(core, dovecot_alive, user)
    reply_id = await core.facade("email").reply(inbound.interaction_id, "We got your mail.", client_id="ack")
    await settled(core, reply_id)
    [got] = await smtp.wait_for_async(1)
    assert got.message["Auto-Submitted"] == "auto-replied"
    assert got.message["X-Auto-Response-Suppress"] == "All"


# A real Celery worker dies in the middle of sending.


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-W", "ignore::UserWarning:celery.platforms", "-m", "celery",
             "-A", "hub.tasks:celery", "worker", "--pool", "solo", "--loglevel", "info"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@pytest.mark.slow
async def test_a_worker_killed_mid_send_leaves_one_copy(tmp_path: Path, dovecot_alive: Dovecot,
                                                        smtp: SmtpTestServer) -> None:
    user = new_user(dovecot_alive)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    await upgrade(url)
    account = account_settings(dovecot_alive, user, smtp)
    config = tmp_path / "contacthub.toml"
    config.write_text(
        "[plugins.email]\nsend_lease_seconds = 3\n\n[[plugins.email.accounts]]\n"
        + "".join(f"{k} = {_toml(v)}\n" for k, v in account.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTHUB_")}
    env.update(CONTACTHUB_CONFIG=str(config), CONTACTHUB_DATA_DIR=str(tmp_path / "var"),
               CONTACTHUB_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    log = tmp_path / "worker.log"
    section = email_settings(account, send_lease_seconds=3)
    core = await start_hub(tmp_path, url, section, run_jobs_in_process=False)
    worker = _worker(env, log)
    try:
        inbound = await first_mail(core, dovecot_alive, user)
        smtp.delay_next(30)  # the server holds its answer to DATA; the worker waits for it
        reply_id = await send_message(core, inbound.interaction_id, "sent by a worker that dies")
        lease = f"send:{reply_id}"
        await wait_for(lambda: core.facade("email").get_state(lease), 30,
                       message=f"the worker to take the send lease\n{log.read_text(errors='replace')}")
        await asyncio.sleep(1.0)  # inside DATA now
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert (await status(core, reply_id)).delivery_status == "pending"
        worker = _worker(env, log)
        await asyncio.sleep(3.5)  # the dead worker's lease lapses
        core.celery.send_task("email.resend_stalled")  # what beat runs every minute
        final = await settled(core, reply_id, 40)
        assert final.delivery_status == "sent", log.read_text(errors="replace")[-3000:]
        await asyncio.sleep(1.0)
        ids = [r.message["Message-ID"] for r in smtp.received]
        assert ids == [f"<{final.provider_id}>"], f"copies accepted: {ids}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        worker.wait(10)
        await core.stop()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

