"""Outgoing mail as bytes: threading headers, subjects, bodies, attachments, and no header injection."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from plugins.email.compose import (
    FileToSend,
    Quoted,
    build_message,
    clean_header,
    references_for,
    reply_subject,
)

WHEN = datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=8)))


def make(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "from_addr": "support@hub.test", "from_name": "Support", "to_addr": "zhang@example.cn",
        "to_name": "Zhang", "subject": "Re: hello", "text": "Thank you.", "message_id": "ch.1.sig@hub.test",
        "date": WHEN,
    }
    return build_message(**(fields | overrides))


def round_trip(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(msg: EmailMessage, kind: str = "plain") -> str:
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0].decode() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]


# -- headers ------------------------------------------------------------------------------


def test_threading_headers_carry_brackets_whether_given_or_not() -> None:
    msg = round_trip(make(message_id="<ch.1.sig@hub.test>", in_reply_to="parent@example.cn",
                          references=["<root@example.cn>", "parent@example.cn"]))
    assert msg["Message-ID"] == "<ch.1.sig@hub.test>"
    assert msg["In-Reply-To"] == "<parent@example.cn>"
    assert msg["References"] == "<root@example.cn> <parent@example.cn>"


def test_a_first_message_has_no_threading_headers() -> None:
    msg = round_trip(make())
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime == WHEN


def test_a_naive_date_is_utc() -> None:
    assert round_trip(make(date=datetime(2025, 3, 1, 2, 30)))["Date"].datetime == WHEN.astimezone(UTC)


def test_references_are_the_parents_then_the_parent() -> None:
    assert references_for(["<a@x>", "<b@x>"], ["<b@x>"], "<c@x>") == ["a@x", "b@x", "c@x"]


def test_references_fall_back_to_in_reply_to() -> None:
    assert references_for([], ["<b@x>"], "c@x") == ["b@x", "c@x"]
    assert references_for([], [], "<c@x>") == ["c@x"]


def test_references_split_one_header_value_and_drop_repeats() -> None:
    assert references_for(["<a@x> <b@x>\r\n <a@x>"], [], "<b@x>") == ["a@x", "b@x"]


def test_references_take_whole_header_values() -> None:
    assert references_for("<a@x> <b@x>", "", "<c@x>") == ["a@x", "b@x", "c@x"]
    assert references_for("", "<b@x>", "c@x") == ["b@x", "c@x"]
    assert round_trip(make(references="<a@x> <b@x>"))["References"] == "<a@x> <b@x>"


def test_long_references_keep_the_first_and_the_last_ten() -> None:
    chain = references_for([f"<m{i}@x>" for i in range(20)], [], "<parent@x>")
    assert chain == ["m0@x", *[f"m{i}@x" for i in range(11, 20)], "parent@x"]
    assert len(references_for([f"<m{i}@x>" for i in range(11)], [], "<p@x>")) == 12


def test_automatic_mail_is_marked_so_robots_do_not_answer() -> None:
    msg = round_trip(make(automatic=True))
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] == "bulk"
    assert round_trip(make())["Auto-Submitted"] is None


# -- subjects -----------------------------------------------------------------------------


@pytest.mark.parametrize(("original", "expected"), [
    ("hello", "Re: hello"),
    ("Re: hello", "Re: hello"),
    ("RE: Re:re: hello", "Re: hello"),
    ("Fwd: FW: Fw: hello", "Re: hello"),
    ("Re[2]: hello", "Re: hello"),
    ("AW: SV: hello", "Re: hello"),
    ("回复: 发票问题", "Re: 发票问题"),
    ("回复：答复: 转发: 发票问题", "Re: 发票问题"),
    ("Re：发票", "Re: 发票"),
    ("Review: the plan", "Re: Review: the plan"),
    ("", "Re: (no subject)"),
    ("Re:  ", "Re: (no subject)"),
])
def test_reply_subject_does_not_stack_prefixes(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


@pytest.mark.parametrize(("original", "expected"), [
    ("hello", "Re: hello [#1234]"),
    ("Re: hello [#1234]", "Re: hello [#1234]"),
    ("[#1234] Re: hello", "Re: hello [#1234]"),
    ("回复: Re: [#1234] 发票", "Re: 发票 [#1234]"),
    ("Re: hello [#99]", "Re: hello [#99] [#1234]"),
    ("", "Re: [#1234]"),
])
def test_reply_subject_carries_the_ticket_tag_once(original: str, expected: str) -> None:
    assert reply_subject(original, "[#1234]") == expected


def test_utf8_subject_and_names_round_trip() -> None:
    msg = make(subject=reply_subject("回复: 发票问题", "[#12]"), from_name="客服 小王", to_name="张三")
    raw = msg.as_bytes()
    assert raw.isascii()  # RFC 2047 words, not raw UTF-8 in headers
    parsed = round_trip(msg)
    assert parsed["Subject"] == "Re: 发票问题 [#12]"
    assert parsed["From"].addresses[0].display_name == "客服 小王"
    assert parsed["From"].addresses[0].addr_spec == "support@hub.test"
    assert parsed["To"].addresses[0].display_name == "张三"


@pytest.mark.parametrize("subject", ["发票 " * 60 + "end", "Re: 关于 invoice 12 的 问题 " * 5 + "[#7]"])
def test_a_long_subject_folds_and_comes_back_with_every_space(subject: str) -> None:
    raw = make(subject=subject).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == subject


# -- bodies -------------------------------------------------------------------------------


def test_plain_body_has_text_signature_and_quote() -> None:
    quote = Quoted("Zhang <zhang@example.cn>", WHEN, "My invoice?\r\n> earlier line\r\n\r\nThanks")
    msg = round_trip(make(text="Sent again.\n", signature="Alice\nSupport", quote=quote))
    assert body(msg) == (
        "Sent again.\n\n-- \nAlice\nSupport\n\n"
        "On 2025-03-01 10:30 +0800, Zhang <zhang@example.cn> wrote:\n"
        "> My invoice?\n>> earlier line\n>\n> Thanks\n"
    )


def test_quote_without_a_date_still_names_the_sender() -> None:
    msg = round_trip(make(quote=Quoted("zhang@example.cn", None, "hi")))
    assert "zhang@example.cn wrote:\n> hi" in body(msg)


def test_html_twin_is_escaped_with_line_breaks_and_a_blockquote() -> None:
    quote = Quoted("Zhang <zhang@example.cn>", WHEN, "<b>bold?</b>\nline two")
    msg = round_trip(make(text="a < b & c\nnext", signature="Alice", quote=quote))
    assert msg.get_content_type() == "multipart/alternative"
    content = body(msg, "html")
    assert "a &lt; b &amp; c<br>\nnext" in content
    assert "Zhang &lt;zhang@example.cn&gt; wrote:" in content
    assert "<blockquote" in content and "&lt;b&gt;bold?&lt;/b&gt;<br>\nline two</blockquote>" in content
    assert "<b>" not in content
    assert "Alice" in content


def test_unicode_body_is_utf8() -> None:
    msg = round_trip(make(text="您好，发票已重新发送。"))
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    assert body(msg) == "您好，发票已重新发送。\n"


# -- attachments --------------------------------------------------------------------------


def test_attachments_round_trip() -> None:
    files = [
        FileToSend("发票.pdf", "application/pdf", b"%PDF-1.4\x00\xff binary"),
        FileToSend("notes.txt", "text/plain", "第一行\n".encode()),
        FileToSend("../../etc/passwd", "not a type", b"x"),
    ]
    msg = round_trip(make(attachments=files))
    assert msg.get_content_type() == "multipart/mixed"
    got = list(msg.iter_attachments())
    assert [part.get_filename() for part in got] == ["发票.pdf", "notes.txt", ".._.._etc_passwd"]
    assert [part.get_content_type() for part in got] == [
        "application/pdf", "text/plain", "application/octet-stream",
    ]
    assert got[0].get_content() == b"%PDF-1.4\x00\xff binary"
    assert got[2].get_content() == b"x"
    assert body(msg) == "Thank you.\n"


# -- injection ----------------------------------------------------------------------------


def test_clean_header_leaves_no_line_breaks() -> None:
    assert clean_header(" Hi\r\nBcc: victim@x\u2028Cc:\x85y \t z ") == "Hi Bcc: victim@x Cc: y z"


def test_a_subject_cannot_add_a_header() -> None:
    raw = make(subject="Hi\r\nBcc: victim@x", to_name="Zhang\nCc: other@x\r\n").as_bytes()
    assert header_names(raw).count("Bcc") == 0
    assert header_names(raw).count("Cc") == 0
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw and b"\nCc:" not in raw
    assert round_trip(make(subject="Hi\r\nBcc: victim@x"))["Subject"] == "Hi Bcc: victim@x"


def test_a_display_name_cannot_add_a_header() -> None:
    raw = make(from_name="Support\r\nBcc: victim@x", to_name="张三\rX-Evil: 1").as_bytes()
    names = header_names(raw)
    assert "Bcc" not in names and "X-Evil" not in names
    assert names.count("From") == 1 and names.count("To") == 1
    parsed = round_trip(make(from_name="Support\r\nBcc: victim@x"))
    assert parsed["From"].addresses[0].display_name == "Support Bcc: victim@x"
    assert parsed["Bcc"] is None


@pytest.mark.parametrize("address", [
    "zhang@example.cn\r\nBcc: victim@x",
    "zhang@example.cn\n",
    "zhang@example.cn, victim@x",
    "Zhang <zhang@example.cn>",
    "<zhang@example.cn>",
    "zhang@example.cn (comment)",
    "zhang",
    "@example.cn",
    "",
    "张三@example.cn",
])
def test_an_address_that_is_not_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        make(to_addr=address)
    with pytest.raises(ValueError):
        make(from_addr=address)


@pytest.mark.parametrize("field", ["message_id", "in_reply_to"])
def test_a_message_id_cannot_carry_a_header(field: str) -> None:
    with pytest.raises(ValueError):
        make(**{field: "a@x\r\nBcc: victim@x"})
    with pytest.raises(ValueError):
        make(**{field: "<a@x> <b@x>"})
