"""Submitting mail to a real SMTP server (aiosmtpd on loopback), and every failure in the hub's words."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from smtp_server import SmtpTestServer

from hub.errors import AuthFailed, ChannelError, NotReady
from plugins.email.compose import build_message
from plugins.email.smtp import check_login, submit

PASSWORD = "s3cret-Pa55"


def message(to: str = "zhang@example.cn", subject: str = "Re: 发票 [#12]") -> EmailMessage:
    return build_message(from_addr="support@hub.test", from_name="客服", to_addr=to, to_name="张三",
                         subject=subject, text="您好", message_id="ch.1.sig@hub.test")


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[SmtpTestServer]:
    with SmtpTestServer(directory=tmp_path) as server:
        yield server


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SmtpTestServer]:
    with SmtpTestServer(security="starttls", username="agent", password=PASSWORD,
                        directory=tmp_path) as server:
        yield server


# -- delivery -----------------------------------------------------------------------------


async def test_plain_delivery_carries_envelope_and_content(plain: SmtpTestServer) -> None:
    reply = await submit(plain.smtp_server(), message())
    assert reply.startswith("250 ")
    got = (await plain.wait_for_async(1))[0]
    assert got.mail_from == "support@hub.test"
    assert got.rcpt_tos == ["zhang@example.cn"]
    assert got.message["Subject"] == "Re: 发票 [#12]"
    assert got.message["Message-ID"] == "<ch.1.sig@hub.test>"
    assert got.message["To"].addresses[0].display_name == "张三"
    assert got.user is None and not got.tls


async def test_envelope_can_differ_from_the_headers(plain: SmtpTestServer) -> None:
    await submit(plain.smtp_server(), message(), sender="", recipients=["other@example.cn"])
    got = (await plain.wait_for_async(1))[0]
    assert got.mail_from == "<>"  # the null sender of automatic replies
    assert got.rcpt_tos == ["other@example.cn"]
    assert got.message["To"].addresses[0].addr_spec == "zhang@example.cn"


async def test_starttls_and_login(secure: SmtpTestServer) -> None:
    assert (await submit(secure.smtp_server(), message())).startswith("250 ")
    got = (await secure.wait_for_async(1))[0]
    assert got.tls
    assert got.user == "agent"


async def test_implicit_tls(tmp_path: Path) -> None:
    with SmtpTestServer(security="tls", username="agent", password=PASSWORD, directory=tmp_path) as server:
        await submit(server.smtp_server(), message())
        got = (await server.wait_for_async(1))[0]
    assert got.tls and got.user == "agent"


async def test_partly_refused_recipients_are_named_in_the_reply(plain: SmtpTestServer) -> None:
    plain.refuse("gone@example.cn")
    reply = await submit(plain.smtp_server(), message(), recipients=["zhang@example.cn", "gone@example.cn"])
    assert reply.startswith("250 ") and "gone@example.cn (550" in reply
    assert (await plain.wait_for_async(1))[0].rcpt_tos == ["zhang@example.cn"]


# -- credentials --------------------------------------------------------------------------


async def test_a_wrong_password_is_auth_failed_at_once(secure: SmtpTestServer) -> None:
    started = time.monotonic()
    with pytest.raises(AuthFailed) as caught:
        await submit(secure.smtp_server(password="wrong-one"), message())
    assert time.monotonic() - started < 3  # an answer, not a timeout
    text = str(caught.value)
    assert "refused the user name or password for agent@127.0.0.1" in text
    assert "535" in text and "wrong-one" not in text
    assert secure.received == []


async def test_no_credentials_where_they_are_required(secure: SmtpTestServer) -> None:
    with pytest.raises(AuthFailed, match="requires a user name and password: 530"):
        await submit(secure.smtp_server(username="", password=""), message())


async def test_check_login(secure: SmtpTestServer) -> None:
    await check_login(secure.smtp_server())
    with pytest.raises(AuthFailed, match="535"):
        await check_login(secure.smtp_server(password="nope"))
    assert secure.received == []


async def test_auth_without_tls_is_a_channel_error(secure: SmtpTestServer) -> None:
    # The server offers AUTH only after STARTTLS; an account set to "none" cannot log in.
    with pytest.raises(ChannelError, match="AUTH extension is not supported"):
        await check_login(secure.smtp_server(security="none"))


async def test_an_untrusted_certificate_is_not_ready(secure: SmtpTestServer) -> None:
    with pytest.raises(NotReady, match="certificate"):
        await check_login(secure.smtp_server(cert_bundle=None))


# -- failures -----------------------------------------------------------------------------


async def test_server_down_is_not_ready_and_it_comes_back(plain: SmtpTestServer) -> None:
    plain.stop()
    with pytest.raises(NotReady, match="not reachable"):
        await submit(plain.smtp_server(), message())
    with pytest.raises(NotReady):
        await check_login(plain.smtp_server())
    plain.start()
    await submit(plain.smtp_server(), message())
    assert len(await plain.wait_for_async(1)) == 1


async def test_a_temporary_failure_is_not_ready(plain: SmtpTestServer) -> None:
    plain.fail_next(1)
    with pytest.raises(NotReady, match="451"):
        await submit(plain.smtp_server(), message())
    assert plain.received == []
    await submit(plain.smtp_server(), message())
    assert len(await plain.wait_for_async(1)) == 1


async def test_a_permanent_failure_is_a_channel_error(plain: SmtpTestServer) -> None:
    plain.fail_next(1, permanent=True)
    with pytest.raises(ChannelError, match="550"):
        await submit(plain.smtp_server(), message())
    assert plain.received == []


async def test_refused_recipients_are_a_channel_error(plain: SmtpTestServer) -> None:
    plain.refuse("gone@example.cn")
    with pytest.raises(ChannelError, match=r"gone@example.cn: 550 5\.1\.1"):
        await submit(plain.smtp_server(), message(to="gone@example.cn"))


async def test_a_silent_server_is_not_ready(plain: SmtpTestServer) -> None:
    plain.delay_next(5)
    with pytest.raises(NotReady):
        await submit(plain.smtp_server(timeout=0.5), message())
    # The client hung up before the server said 250: not delivered.
    await asyncio.to_thread(_wait_until, lambda: len(plain.abandoned) == 1)
    assert plain.received == []


async def test_a_client_killed_mid_send_delivers_nothing(plain: SmtpTestServer) -> None:
    plain.delay_next(5)
    sending = asyncio.create_task(submit(plain.smtp_server(), message()))
    await asyncio.sleep(0.3)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    await asyncio.to_thread(_wait_until, lambda: len(plain.abandoned) == 1)
    assert plain.abandoned[0].message["Subject"] == "Re: 发票 [#12]"
    assert plain.received == []


async def test_a_server_that_goes_away_mid_send_is_not_ready(plain: SmtpTestServer) -> None:
    plain.delay_next(5)
    sending = asyncio.create_task(submit(plain.smtp_server(), message()))
    await asyncio.sleep(0.3)
    await asyncio.to_thread(plain.stop)
    with pytest.raises(NotReady):
        await sending


def test_wait_for_says_how_many_arrived(plain: SmtpTestServer) -> None:
    with pytest.raises(TimeoutError, match="received 0 message"):
        plain.wait_for(1, timeout=0.1)


def _wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
