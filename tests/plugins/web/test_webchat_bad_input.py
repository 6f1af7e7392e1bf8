"""Bad input on every entry point: a clear error, nothing stored, and other visitors unaffected."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import aiohttp
import pytest
from itsdangerous import URLSafeTimedSerializer
from webchat_support import Chat, Visitor

from plugins.web import protocol


@pytest.fixture
async def bystander(chat: Chat) -> Visitor:
    """A second visitor, chatting on another socket while the first one misbehaves."""
    visitor = await chat.visitor()
    await visitor.connect()
    await visitor.say("I am just chatting")
    return visitor


async def _still_chatting(chat: Chat, bystander: Visitor, stored_before: int) -> None:
    ack = await bystander.say("still here")
    assert ack["seq"] >= 2
    assert await chat.count() == stored_before + 1


def _msg(text: Any = "hi", client_msg_id: Any = None) -> dict[str, Any]:
    return {"type": "message", "client_msg_id": client_msg_id or str(uuid.uuid4()), "text": text}


FRAMES = [
    pytest.param("{not json", "bad_json", id="invalid-json"),
    pytest.param("[1, 2]", "bad_frame", id="not-an-object"),
    pytest.param(json.dumps({"type": "shout"}), "unknown_type", id="unknown-type"),
    pytest.param(json.dumps({"text": "no type"}), "unknown_type", id="missing-type"),
    pytest.param(json.dumps({"type": "message", "text": "no id"}), "bad_field", id="missing-id"),
    pytest.param(json.dumps(_msg(client_msg_id="not-a-uuid")), "bad_field", id="bad-id"),
    pytest.param(json.dumps(_msg(text=42)), "empty_message", id="text-not-string"),
    pytest.param(json.dumps(_msg(text="   ")), "empty_message", id="blank-text"),
    pytest.param(json.dumps(_msg(text="x" * 101)), "text_too_long", id="text-too-long"),
    pytest.param(json.dumps(_msg(text="a\x00b")), "bad_text", id="nul-in-text"),
    pytest.param(json.dumps({"type": "typing", "state": "maybe"}), "bad_field", id="bad-typing"),
    pytest.param(json.dumps({"type": "read", "up_to_seq": -1}), "bad_field", id="negative-read"),
    pytest.param(json.dumps({"type": "read", "up_to_seq": "3"}), "bad_field", id="read-not-number"),
    pytest.param(json.dumps({"type": "hello", "token": "again"}), "bad_frame", id="second-hello"),
]


@pytest.fixture
def web_settings() -> dict[str, Any]:
    return {"max_text": 100, "max_frame_bytes": 2048, "max_bad_frames": 3, "messages_per_minute": 1000}


@pytest.mark.parametrize(("raw", "code"), FRAMES)
async def test_a_bad_frame_gets_a_clear_error_and_stores_nothing(
    chat: Chat, bystander: Visitor, raw: str, code: str
) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    stored = await chat.count()

    await visitor.ws.send_str(raw)  # type: ignore[union-attr]
    error = await visitor.expect("error")

    assert error["code"] == code and error["message"]
    assert await chat.count() == stored
    await _still_chatting(chat, bystander, stored)
    ack = await visitor.say("and now a good one")  # the socket itself keeps serving
    assert ack["seq"] == 1


async def test_too_many_bad_frames_close_the_socket_and_log_once(
    chat: Chat, bystander: Visitor, caplog: pytest.LogCaptureFixture
) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    with caplog.at_level(logging.INFO, logger="contacthub.channel.web"):
        for _ in range(3):
            await visitor.ws.send_str("{not json")  # type: ignore[union-attr]
        assert await visitor.closed() == protocol.CLOSE_POLICY
    assert len([r for r in caplog.records if "refused a frame" in r.getMessage()]) == 1
    await _still_chatting(chat, bystander, await chat.count())


async def test_an_oversized_frame_closes_with_message_too_big(chat: Chat, bystander: Visitor) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    stored = await chat.count()
    await visitor.send(_msg(text="x" * 4000))
    assert await visitor.closed() == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await chat.count() == stored
    await _still_chatting(chat, bystander, stored)


async def test_a_binary_frame_is_refused(chat: Chat, bystander: Visitor) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    await visitor.ws.send_bytes(b"\x00\x01")  # type: ignore[union-attr]
    assert (await visitor.expect("error"))["code"] == "bad_frame"
    assert await visitor.closed() == aiohttp.WSCloseCode.UNSUPPORTED_DATA


async def test_the_first_frame_must_be_hello(chat: Chat, bystander: Visitor) -> None:
    visitor = await chat.visitor()
    await visitor.open()
    stored = await chat.count()
    await visitor.send(_msg())
    assert (await visitor.expect("error"))["code"] == "hello_required"
    assert await visitor.closed() == protocol.CLOSE_POLICY
    assert await chat.count() == stored
    await _still_chatting(chat, bystander, stored)


def _forged(chat: Chat) -> str:
    return URLSafeTimedSerializer("not the hub's secret", salt="web:visitor").dumps({"v": "v_someone"})


def _expired(chat: Chat) -> str:
    signer = chat.core.facade("web").signer("visitor")
    # itsdangerous stamps the current time; a clock 40 days back makes a token 40 days old.
    now = time.time
    try:
        time.time = lambda: now() - 40 * 86400  # type: ignore[assignment]
        return signer.dumps({"v": "v_old"})
    finally:
        time.time = now  # type: ignore[assignment]


@pytest.mark.parametrize(("make", "code"), [
    pytest.param(_forged, "session_invalid", id="forged"),
    pytest.param(_expired, "session_expired", id="expired"),
    pytest.param(lambda chat: "", "session_invalid", id="missing"),
    pytest.param(lambda chat: 12345, "session_invalid", id="not-a-string"),
])
async def test_a_bad_token_closes_with_4001_so_the_widget_starts_over(
    chat: Chat, bystander: Visitor, make: Any, code: str
) -> None:
    visitor = Visitor(chat, make(chat))
    await visitor.open()
    await visitor.send({"type": "hello", "token": visitor.token, "last_seq": 0})
    assert (await visitor.expect("error"))["code"] == code
    assert await visitor.closed() == protocol.CLOSE_SESSION == 4001
    await _still_chatting(chat, bystander, await chat.count())


async def test_a_foreign_origin_is_refused_before_the_upgrade(chat: Chat, bystander: Visitor) -> None:
    visitor = await chat.visitor()
    for origin in ("http://evil.test", "https://shop.example.com"):
        # Even an allowed embedding site: the socket belongs to the frame, which is the hub's.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await visitor.open(origin=origin)
        assert refused.value.status == 403
    await _still_chatting(chat, bystander, await chat.count())


async def test_messages_over_the_rate_limit_are_refused_not_stored(chat: Chat) -> None:
    chat.channel.message_limit.burst = 2.0
    chat.channel.message_limit.rate = 0.0
    visitor = await chat.visitor()
    await visitor.connect()
    await visitor.say("one")
    await visitor.say("two")
    third = str(uuid.uuid4())
    await visitor.send(_msg("three", third))
    error = await visitor.expect("error")
    assert error == {**error, "code": "rate_limited", "client_msg_id": third}
    assert await chat.count() == 2


async def test_a_socket_that_never_says_hello_is_closed(chat: Chat) -> None:
    chat.channel.config.hello_timeout = 0.2
    visitor = await chat.visitor()
    await visitor.open()
    assert (await visitor.expect("error"))["code"] == "hello_timeout"
    assert await visitor.closed() == protocol.CLOSE_POLICY


async def test_a_visitor_too_slow_to_read_is_closed_with_1013_and_resumes(chat: Chat) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    ack = await visitor.say("hello")
    (conn,) = chat.channel.registry
    for n in range(chat.channel.config.send_queue + 1):
        conn.push({"type": "pong", "n": n})  # faster than any socket drains: the queue overflows
    assert await visitor.closed() == aiohttp.WSCloseCode.TRY_AGAIN_LATER
    welcome = await visitor.connect(last_seq=ack["seq"], conversation_id=ack["conversation_id"])
    assert welcome["last_seq"] == 1
    assert (await visitor.say("resumed"))["seq"] == 2


async def test_a_failed_store_is_an_error_the_widget_retries_not_an_ack(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    visitor = await chat.visitor()
    await visitor.connect()
    hub = chat.channel.hub
    real_ingest = hub.ingest

    async def database_away(msg: Any) -> Any:
        raise OSError("database is away")

    monkeypatch.setattr(hub, "ingest", database_away)
    client_msg_id = str(uuid.uuid4())
    await visitor.send(_msg("kept by the widget", client_msg_id))
    error = await visitor.expect("error")
    assert error == {**error, "code": "unavailable", "client_msg_id": client_msg_id}
    assert not [f for f in visitor.seen if f["type"] == "ack"]

    monkeypatch.setattr(hub, "ingest", real_ingest)
    assert (await visitor.say("kept by the widget", client_msg_id))["seq"] == 1
    assert await chat.count() == 1
