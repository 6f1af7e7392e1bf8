"""Parsing real-world mail: each corpus/<name>.eml is checked against what corpus/<name>.json expects.

The JSON files are the specification, one mail shape each (charsets, MIME layouts, bounces,
automatic mail, broken input). The property tests below hold for any bytes at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.email.parse import MailParseError, ParsedMail, Part, parse, strip_subject_prefixes

CORPUS = Path(__file__).parent / "corpus"
NAMES = sorted(path.stem for path in CORPUS.glob("*.eml"))


def raw(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def expected(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(params=NAMES)
def case(request: pytest.FixtureRequest) -> tuple[ParsedMail, dict[str, Any]]:
    return parse(raw(request.param)), expected(request.param)


def check_text(text: str, spec: dict[str, Any]) -> None:
    assert text.startswith(spec["text_startswith"]), text[:200]
    for snippet in spec.get("text_contains", []):
        assert snippet in text
    for snippet in spec.get("text_excludes", []):
        assert snippet not in text


def check_parts(parts: tuple[Part, ...], specs: list[dict[str, Any]]) -> None:
    assert len(parts) == len(specs), [(part.filename, part.content_type) for part in parts]
    for part, spec in zip(parts, specs, strict=True):
        for key, value in spec.items():
            actual = len(part.data) if key == "size" else getattr(part, key)
            assert actual == value, key


def test_every_mail_in_the_corpus_has_its_expectations() -> None:
    assert len(NAMES) >= 25
    assert sorted(path.stem for path in CORPUS.glob("*.json")) == NAMES


def test_ids_come_without_angle_brackets_in_order(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert mail.message_id == spec["message_id"]
    assert list(mail.in_reply_to) == spec["in_reply_to"]
    assert list(mail.references) == spec["references"]


def test_sender_and_recipients_are_lower_cased_addresses(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert (mail.sender, mail.sender_name) == (spec["sender"], spec["sender_name"])
    for field in ("to", "cc"):
        if field in spec:
            assert list(getattr(mail, field)) == spec[field]
    assert mail.reply_to == spec.get("reply_to", "")


def test_subject_is_decoded_with_the_charset_widened(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert mail.subject == spec["subject"]
    if "subject_stripped" in spec:
        assert strip_subject_prefixes(mail.subject) == spec["subject_stripped"]


def test_date_is_aware_or_none(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert mail.date is None or mail.date.tzinfo is not None
    if "date" in spec:
        wanted = spec["date"] and datetime.fromisoformat(spec["date"])
        assert mail.date == wanted
        if wanted:
            assert mail.date.utcoffset() == wanted.utcoffset()


def test_text_body(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    check_text(mail.text, spec)


def test_html_body_is_kept_as_sent(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert bool(mail.html) is spec["html"]
    for snippet in spec.get("html_contains", []):
        assert snippet in mail.html


def test_attachments_have_decoded_names_and_declared_types(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    check_parts(mail.attachments, spec["attachments"])


def test_inline_parts_are_every_content_id_in_the_tree(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    check_parts(mail.inline, spec["inline"])


def test_forwarded_messages_are_parsed(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert len(mail.forwarded) == spec["forwarded"]
    for inner, inner_spec in zip(mail.forwarded, spec.get("forwarded_mail", []), strict=False):
        assert (inner.sender, inner.subject, inner.message_id) == (
            inner_spec["sender"], inner_spec["subject"], inner_spec["message_id"])
        check_text(inner.text, inner_spec)
        check_parts(inner.attachments, inner_spec["attachments"])


def test_automatic_mail_says_why(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    assert mail.automatic == spec["automatic"]


def test_delivery_report(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    if spec["report"] is None:
        assert mail.report is None
        return
    assert mail.report is not None
    for key, value in spec["report"].items():
        assert getattr(mail.report, key) == value, key


def test_defects_name_what_was_repaired(case: tuple[ParsedMail, dict[str, Any]]) -> None:
    mail, spec = case
    if not spec["defects"]:
        assert mail.defects == ()
    for wanted in spec["defects"]:
        assert any(wanted in defect for defect in mail.defects), mail.defects


# -- dedupe keys -------------------------------------------------------------------------------


def test_dedupe_key_is_the_message_id_when_there_is_one() -> None:
    assert parse(raw("reply")).dedupe_key() == "id:reply.3@example.cn"


def test_dedupe_key_without_message_id_is_stable_across_fetches() -> None:
    first = parse(raw("missing-message-id")).dedupe_key()
    again = parse(raw("missing-message-id").replace(b"\n", b"\r\n")).dedupe_key()
    assert first.startswith("h:") and len(first) == 2 + 64
    assert again == first


def test_dedupe_key_without_message_id_differs_for_different_mail() -> None:
    other = raw("missing-message-id").replace(b"does not send", b"never sends")
    assert parse(other).dedupe_key() != parse(raw("missing-message-id")).dedupe_key()


# -- subjects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "stripped"), [
    ("Re: Order [#42]", "Order [#42]"),
    ("RE: Fwd: FW: Fw: re: Order", "Order"),
    ("回复: 回复：答复: 转发: 订单 [#7]", "订单 [#7]"),
    ("  Re:   Re:hello  ", "hello"),
    ("Re[2]: hello", "hello"),
    ("Regarding: not a prefix", "Regarding: not a prefix"),
    ("", ""),
])
def test_strip_subject_prefixes(subject: str, stripped: str) -> None:
    assert strip_subject_prefixes(subject) == stripped


# -- shapes the corpus does not show -----------------------------------------------------------

PNG_PART = (
    b"Content-Type: image/png\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\n"
)


def test_parts_without_a_name_get_one_made_up_from_their_type() -> None:
    mail = parse(
        b"From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nhi\n--b\n" + PNG_PART
        + b"--b\n" + PNG_PART + b"--b\nContent-Type: application/x-thing\n\nzz\n--b--\n"
    )
    assert [part.filename for part in mail.attachments] == ["image-1.png", "image-2.png", "application-1.bin"]
    assert mail.attachments[0].data.startswith(b"\x89PNG")


def test_an_attachment_with_a_content_id_the_html_never_shows_stays_an_attachment() -> None:
    # Apple Mail gives every attachment a Content-ID; listing it only as inline would hide it.
    mail = parse(
        b"From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nsee attached\n--b\n"
        b"Content-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment; filename=a.pdf\n"
        b"Content-ID: <a.pdf@apple>\n\n%PDF\n--b--\n"
    )
    assert [part.filename for part in mail.attachments] == ["a.pdf"]
    assert mail.inline == ()


def test_filenames_cannot_name_directories() -> None:
    mail = parse(
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        b"x\n--b\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename=\"..\\\\..\\\\evil.exe\"\n\nMZ\n--b--\n"
    )
    assert mail.attachments[0].filename == "evil.exe"


def report_mail(report_type: str, report_part: bytes) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\nSubject: report\n"
        b"Content-Type: multipart/report; report-type=" + report_type.encode() + b"; boundary=r\n\n"
        b"--r\nContent-Type: text/plain\n\nSee below.\n--r\n" + report_part + b"--r--\n"
    )


def test_a_dsn_with_only_a_delay_reports_the_first_recipient_as_not_failed() -> None:
    mail = parse(report_mail("delivery-status", (
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        b"Final-Recipient: rfc822; <Slow@Example.net>\nAction: delayed\nStatus: 4.4.7\n\n"
        b"Final-Recipient: rfc822; other@example.net\nAction: delayed\nStatus: 4.4.1\n\n"
    )))
    report = mail.report
    assert report is not None
    assert (report.recipient, report.action, report.status) == ("slow@example.net", "delayed", "4.4.7")
    assert report.original_message_id == ""
    assert not report.failed


def test_a_read_receipt_is_automatic_but_not_a_delivery_report() -> None:
    mail = parse(report_mail("disposition-notification", (
        b"Content-Type: message/disposition-notification\n\n"
        b"Reporting-UA: mail.example.net\nFinal-Recipient: rfc822; a@example.net\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n\n"
    )).replace(b"MAILER-DAEMON", b"reader"))
    assert mail.automatic == "report"
    assert mail.report is None
    assert mail.attachments == ()


def nested(depth: int) -> bytes:
    if depth == 0:
        return b"From: inner@example.com\nSubject: level 0\n\ninnermost\n"
    return (f"From: level{depth}@example.com\nSubject: level {depth}\n"
            "Content-Type: message/rfc822\n\n").encode() + nested(depth - 1)


def test_forwarded_mail_is_parsed_only_max_depth_deep() -> None:
    mail = parse(nested(5), max_depth=3)
    depth = 0
    while mail.forwarded:
        assert [part.content_type for part in mail.attachments] == ["message/rfc822"]
        mail, depth = mail.forwarded[0], depth + 1
    assert depth == 3
    assert mail.subject == "level 2"
    assert [part.filename for part in mail.attachments] == ["level 1.eml"]


def test_a_forwarded_mail_is_kept_byte_for_byte_enough_to_parse_again() -> None:
    mail = parse(raw("forwarded"))
    again = parse(mail.attachments[0].data)
    assert (again.message_id, again.subject) == ("refund.99@shop.example", "退款通知")


def test_deeply_nested_multiparts_do_not_exhaust_the_stack() -> None:
    head = b"".join(f"Content-Type: multipart/mixed; boundary=b{n}\n\n--b{n}\n".encode() for n in range(3000))
    mail = parse(b"From: a@example.com\nSubject: deep\n" + head + b"Content-Type: text/plain\n\nbottom\n")
    assert mail.subject == "deep"
    assert mail.defects


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", b"just some words, no header at all\n"])
def test_bytes_that_are_not_a_mail_raise_mail_parse_error(data: bytes) -> None:
    with pytest.raises(MailParseError):
        parse(data)


def test_a_str_is_not_a_mail() -> None:
    with pytest.raises(MailParseError):
        parse("From: a@example.com\n\nhi\n")  # type: ignore[arg-type]


# -- properties --------------------------------------------------------------------------------


def check_invariants(data: bytes) -> None:
    try:
        mail = parse(data)
    except MailParseError:
        return
    key = mail.dedupe_key()
    assert key.startswith(("id:", "h:"))
    for text in (mail.subject, mail.text, mail.html, mail.sender, mail.sender_name, key):
        text.encode("utf-8")  # no lone surrogates leak out of the decoders
    for part in (*mail.inline, *mail.attachments):
        assert part.filename and "/" not in part.filename and "\\" not in part.filename
        assert part.content_type == part.content_type.lower() and "/" in part.content_type


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_but_mail_parse_error(data: bytes) -> None:
    check_invariants(data)


TOKENS = [
    "From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ", "Content-Type: ", "multipart/mixed; boundary=b",
    "message/rfc822", "message/delivery-status", "text/html", "=?gb2312?B?1uzpRrv5?=", "=?x?Q?=FF?=", "\n",
    "\r\n", "--b", "--b--", " ", ";", "<", ">", "@", "\"", "(", "filename*=UTF-8''%E5", "name*0*=gbk''%D6",
    "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "Content-ID: <a>",
    "Content-Disposition: attachment", "charset=gb2312", "charset=base64", "\t", "=", "é", "镕", "<![if",
    "<a href=",
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_header_shaped_garbage_never_raises_anything_but_mail_parse_error(text: str) -> None:
    check_invariants(text.encode("utf-8"))


mutation = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=1, max_value=64),
    st.binary(min_size=1, max_size=16),
)


def mutate(data: bytes, steps: list[tuple[str, float, int, bytes]]) -> bytes:
    for kind, where, length, junk in steps:
        at = int(where * len(data))
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ junk[0]]) + data[at + 1:]
        elif kind == "delete":
            data = data[:at] + data[at + length:]
        elif kind == "insert":
            data = data[:at] + junk + data[at:]
        elif kind == "truncate":
            data = data[:at]
        else:
            data = data[:at] + data[at:at + length] * 3 + data[at:]
    return data


@FUZZ
@given(st.sampled_from(NAMES), st.lists(mutation, min_size=1, max_size=8))
def test_mutated_corpus_mail_never_raises_anything_but_mail_parse_error(
    name: str, steps: list[tuple[str, float, int, bytes]],
) -> None:
    check_invariants(mutate(raw(name), steps))
