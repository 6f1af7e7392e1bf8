"""Raw RFC 5322 bytes to a ParsedMail: what the hub keeps of an inbound mail.

Mail from the wild is mislabelled, truncated and malformed; a conversation must not be lost
because of it. The stdlib parser (``policy.default``) splits the MIME tree, but every header
and text body is decoded here from its raw bytes with the charset widened to what senders
really use (see charsets.py). Only bytes that are not a mail at all raise MailParseError.
"""

from __future__ import annotations

import email
import email.headerregistry
import email.policy
import functools
import hashlib
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO

from hub.rich_text import html_to_text
from plugins.email.charsets import decode_header_text, decode_text, eight_bit_header, raw_header
from plugins.email.reports import (
    DeliveryReport,
    automatic_reason,
    delivery_report,
    guessed_report,
    headers_only,
    looks_like_bounce,
)

__all__ = ["DeliveryReport", "MailParseError", "ParsedMail", "Part", "parse", "strip_subject_prefixes"]


class _HeaderClasses(email.headerregistry.HeaderRegistry):
    """The standard header registry, but each header class is made once: the stdlib builds a
    new class with ``type()`` on every lookup, a third of the parser's time on plain mail."""

    @functools.lru_cache(maxsize=256)  # noqa: B019  (one registry, kept for the process)
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)


POLICY = email.policy.default.clone(header_factory=_HeaderClasses())

_MAX_NESTING = 40
_MAX_PARTS = 2000
_MIME_TYPES = mimetypes.MimeTypes()  # the built-in table only: names must not depend on /etc/mime.types
_HEADER_NAME = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|From )")
_ADDRESS = re.compile(r"^[^@\s]+(?:@[^@\s]+\.?[^@\s]*)?$")
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_IDS = re.compile(r"<([^<>\s]+)>")
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|fw|aw|wg|回复|回覆|答复|转发|轉寄)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*", re.IGNORECASE
)
_NESTED_TYPES = frozenset(("message/rfc822", "message/global", "message/news"))
_REPORT_TYPES = frozenset(("message/delivery-status", "message/disposition-notification"))


class MailParseError(Exception):
    """The bytes are not a mail at all (empty, or no header block)."""


@dataclass(frozen=True, slots=True)
class Part:
    """An attachment or inline part of a mail."""

    filename: str
    content_type: str
    data: bytes
    content_id: str = ""


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything the hub uses of one mail; addresses lower-cased, ids without <>."""

    message_id: str = ""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    sender: str = ""
    sender_name: str = ""
    reply_to: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str = ""
    inline: tuple[Part, ...] = ()
    attachments: tuple[Part, ...] = ()
    forwarded: tuple[ParsedMail, ...] = ()
    automatic: str = ""
    report: DeliveryReport | None = None
    defects: tuple[str, ...] = ()

    def dedupe_key(self) -> str:
        """The same for the same mail fetched twice: its Message-ID, else a hash of what it says."""
        if self.message_id:
            return "id:" + self.message_id
        date = self.date.astimezone(UTC).isoformat() if self.date else ""
        fields = (date, self.sender, ",".join(sorted(self.to)), " ".join(self.subject.split()),
                  " ".join(self.text.split()))
        return "h:" + hashlib.sha256("\x1f".join(fields).encode("utf-8", "surrogatepass")).hexdigest()


def parse(raw: bytes, *, max_depth: int = 3) -> ParsedMail:
    """Parse a raw mail, repairing what can be repaired (listed in ``defects``).

    ``max_depth`` bounds how deep forwarded messages are parsed; deeper ones stay attachments.
    Raises MailParseError only when ``raw`` is not a mail at all.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError(f"a mail is bytes, not {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise MailParseError("empty message")
    message, defects = _read(data)
    if not any(True for _ in message.raw_items()):
        raise MailParseError("no header block: not a mail")
    return _Builder(message, max_depth, defects).build()


def strip_subject_prefixes(subject: str) -> str:
    """``subject`` without stacked reply/forward prefixes (Re:, Fwd:, FW:, 回复:, 答复:, 转发: ...)."""
    previous = None
    while previous != subject:
        previous, subject = subject, _SUBJECT_PREFIX.sub("", subject, count=1)
    return subject.strip()


def _read(data: bytes) -> tuple[Message, list[str]]:
    data, defects = _without_junk_header_lines(data)
    try:
        return email.message_from_bytes(data, policy=POLICY), defects
    except Exception:  # the parser has crashed on hostile input (deep nesting, odd headers)
        pass
    # Headers with the body as one text part is still a conversation an agent can read.
    message = BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    return message, [*defects, "MIME structure unreadable: body kept as text"]


def _without_junk_header_lines(data: bytes) -> tuple[bytes, list[str]]:
    """Drop lines that are not headers from inside the header block.

    The stdlib ends the header block at the first such line, which turns every header after
    it (Content-Type included) into body text. Junk after the last real header is left: there
    it is more likely the body of a mail that lacks the blank separator line.
    """
    end = re.search(rb"\r?\n\r?\n", data)
    if end is None:
        return data, []
    lines = data[: end.start()].split(b"\n")
    headers = [index for index, line in enumerate(lines) if _HEADER_NAME.match(line)]
    if not headers or headers[0] != 0:
        return data, []
    last = headers[-1]
    kept = [line for line in lines[:last] if _HEADER_NAME.match(line) or line[:1] in (b" ", b"\t")]
    if len(kept) == last:
        return data, []
    head = b"\n".join([*kept, *lines[last:]])
    return head + data[end.start():], [f"{last - len(kept)} malformed header line(s) dropped"]


@dataclass(slots=True)
class _Leaf:
    part: Message
    content_type: str
    disposition: str
    filename: str
    content_id: str


class _Builder:
    """Builds one ParsedMail; collects defects on the way."""

    def __init__(self, message: Message, depth_left: int, defects: list[str]) -> None:
        self.message = message
        self.depth_left = depth_left
        self.defects = list(defects)
        self.counters: dict[str, int] = {}

    def build(self) -> ParsedMail:
        head = self.message
        leaves = list(self._leaves())
        bodies = [leaf for leaf in leaves if _is_body(leaf)]
        html = "\n".join(self._text(leaf) for leaf in bodies if leaf.content_type == "text/html")
        plain = "\n".join(self._text(leaf) for leaf in bodies if leaf.content_type != "text/html")
        text = plain if any(leaf.content_type != "text/html" for leaf in bodies) else html_to_text(html)
        nested = [leaf.part.get_payload()[0] for leaf in leaves if _is_nested(leaf)]
        inline, attachments = self._parts([leaf for leaf in leaves if leaf not in bodies], html)
        senders = self._addresses("from")
        sender, sender_name = senders[0] if senders else ("", "")
        subject = " ".join(self._header("subject").split())
        automatic = automatic_reason(head, sender, _mime(head).get_content_type())
        return ParsedMail(
            message_id=_first_id(self._header("message-id")),
            in_reply_to=_ids(self._header("in-reply-to")),
            references=_ids(self._header("references")),
            sender=sender,
            sender_name=sender_name,
            reply_to=next(iter(address for address, _ in self._addresses("reply-to")), ""),
            to=tuple(address for address, _ in self._addresses("to")),
            cc=tuple(address for address, _ in self._addresses("cc")),
            subject=subject,
            date=_date(self._header("date")),
            text=text.strip("\n"),
            html=html,
            inline=inline,
            attachments=attachments,
            forwarded=self._forwarded(nested),
            automatic=automatic,
            report=self._report(leaves, nested, sender, subject, automatic, text),
            defects=tuple(dict.fromkeys(self.defects)),
        )

    def _header(self, name: str) -> str:
        raw = raw_header(self.message, name)
        if raw is None:
            return ""
        value, defects = decode_header_text(raw)
        self.defects.extend(f"{name}: {defect}" for defect in defects)
        return value.strip()

    def _addresses(self, name: str) -> list[tuple[str, str]]:
        raw = raw_header(self.message, name)
        if raw is None:
            return []
        # Split first, decode names after: a decoded name may hold commas and quotes.
        value, defects = eight_bit_header(raw)
        self.defects.extend(f"{name}: {defect}" for defect in defects)
        found = []
        for display, address in getaddresses([value]):
            if _ADDRESS.match(address.strip()):
                found.append((address.strip().lower(), decode_header_text(display)[0].strip()))
        return found

    def _leaves(self) -> Iterator[_Leaf]:
        stack: list[tuple[Message, int]] = [(self.message, 0)]
        count = 0
        while stack and count < _MAX_PARTS:
            part, depth = stack.pop()
            count += 1
            self.defects.extend(_defect_words(part))
            payload = part.get_payload()
            mime = _mime(part)
            content_type = mime.get_content_type()
            if not _MIME_TYPE.match(content_type):
                # RFC 2045: a Content-Type that does not parse means the default one.
                self.defects.append(f"content type {content_type[:40]!r} not valid")
                content_type = part.get_default_type()
            if content_type.startswith("multipart/") and isinstance(payload, list):
                if depth >= _MAX_NESTING:
                    self.defects.append("parts nested too deeply were dropped")
                    continue
                stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
                continue
            if content_type.startswith("multipart/"):
                self.defects.append("multipart without parts: read as text")
                content_type = "text/plain"
            yield self._leaf(part, mime, content_type)
        if stack:
            self.defects.append(f"more than {_MAX_PARTS} parts: the rest were dropped")

    def _leaf(self, part: Message, mime: Message, content_type: str) -> _Leaf:
        filename = self._param_text(mime, "filename", "content-disposition") or self._param_text(
            mime, "name", "content-type"
        )
        content_id = (raw_header(part, "content-id") or "").strip().strip("<>").strip()
        return _Leaf(part, content_type, mime.get_content_disposition() or "", _safe_filename(filename),
                     content_id)

    def _param_text(self, mime: Message, name: str, header: str) -> str:
        value = mime.get_param(name, header=header)
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded text as latin-1)
            charset, _, text = value
            decoded, defects = decode_text(_percent_decoded_bytes(str(text)), charset or None)
        elif isinstance(value, str):
            decoded, defects = decode_header_text(value)
        else:
            return ""
        self.defects.extend(f"{name}: {defect}" for defect in defects)
        return decoded

    def _text(self, leaf: _Leaf) -> str:
        charset = _mime(leaf.part).get_param("charset")
        label = charset[2] if isinstance(charset, tuple) else charset
        text, defects = decode_text(_payload(leaf.part), str(label) if label else None)
        self.defects.extend(f"{leaf.content_type} body: {defect}" for defect in defects)
        return text.replace("\r\n", "\n")

    def _parts(self, leaves: list[_Leaf], html: str) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
        inline: list[Part] = []
        attachments: list[Part] = []
        for leaf in leaves:
            if leaf.content_type in _REPORT_TYPES:
                continue
            data = self._message_bytes(leaf) if _is_nested(leaf) else _payload(leaf.part)
            part = Part(leaf.filename or self._made_up_name(leaf), leaf.content_type, data, leaf.content_id)
            # Apple Mail gives every attachment a Content-ID: only those shown in the HTML are inline.
            shown = leaf.disposition != "attachment" or f"cid:{leaf.content_id}" in html
            (inline if leaf.content_id and shown else attachments).append(part)
        return tuple(inline), tuple(attachments)

    def _made_up_name(self, leaf: _Leaf) -> str:
        if _is_nested(leaf):
            subject = decode_header_text(raw_header(leaf.part.get_payload()[0], "subject") or "")[0]
            if _safe_filename(subject):
                return _safe_filename(subject)[:120] + ".eml"
        kind = leaf.content_type.partition("/")[0]
        self.counters[kind] = self.counters.get(kind, 0) + 1
        extension = _MIME_TYPES.guess_extension(leaf.content_type) or (".txt" if kind == "text" else ".bin")
        return f"{kind}-{self.counters[kind]}{extension}"

    def _message_bytes(self, leaf: _Leaf) -> bytes:
        buffer = BytesIO()
        policy = email.policy.compat32.clone(max_line_length=None)
        try:
            BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(leaf.part.get_payload()[0])
        except Exception:  # regenerating a broken message may fail; its parse still stands
            self.defects.append("forwarded message could not be rebuilt as .eml")
            return b""
        return buffer.getvalue()

    def _forwarded(self, nested: list[Message]) -> tuple[ParsedMail, ...]:
        if self.depth_left <= 0:
            return ()
        return tuple(_Builder(message, self.depth_left - 1, []).build() for message in nested)

    def _report(self, leaves: list[_Leaf], nested: list[Message], sender: str, subject: str,
                automatic: str, text: str) -> DeliveryReport | None:
        status_parts = [leaf.part for leaf in leaves if leaf.content_type == "message/delivery-status"]
        originals = nested + [headers_only(_payload(leaf.part)) for leaf in leaves
                              if leaf.content_type == "text/rfc822-headers"]
        report = delivery_report(status_parts, originals)
        if report is None and looks_like_bounce(sender, subject, automatic):
            report = guessed_report(subject, text, originals)
        return report


def _mime(part: Message) -> Message:
    """The part's Content-Type and Content-Disposition read by the lenient compat32 parser."""
    shadow = Message(policy=email.policy.compat32)
    for name in ("content-type", "content-disposition"):
        raw = raw_header(part, name)
        if raw is not None:
            shadow[name] = raw
    shadow.set_default_type(part.get_default_type())
    return shadow


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a transfer encoding the stdlib trips on: keep the bytes as sent
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""


def _percent_decoded_bytes(text: str) -> bytes:
    # The stdlib hands RFC 2231 values back %-decoded as latin-1: one character per byte, unless
    # the raw value already held characters beyond latin-1.
    try:
        return text.encode("latin-1", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _is_body(leaf: _Leaf) -> bool:
    return (leaf.content_type in ("text/plain", "text/html") and leaf.disposition != "attachment"
            and not leaf.filename)


def _is_nested(leaf: _Leaf) -> bool:
    payload = leaf.part.get_payload()
    return (leaf.content_type in _NESTED_TYPES and isinstance(payload, list) and len(payload) == 1
            and isinstance(payload[0], Message))


def _ids(value: str) -> tuple[str, ...]:
    # Some clients leave out the <>: a lone token with an @ is still an id.
    found = _IDS.findall(value) or ([value] if "@" in value and not re.search(r"\s", value) else [])
    return tuple(dict.fromkeys(found))


def _first_id(value: str) -> str:
    found = _IDS.search(value)
    if found:
        return found.group(1)
    return value if value and not any(char.isspace() for char in value) else ""


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _safe_filename(name: str) -> str:
    # Names come from strangers: no directories, no control characters.
    base = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(char for char in base if char.isprintable()).strip().strip(".").strip()
    return cleaned[:200]


def _defect_words(part: Message) -> list[str]:
    """The stdlib's repairs (StartBoundaryNotFoundDefect...) as "start boundary not found"."""
    names = (type(defect).__name__.removesuffix("Defect") for defect in getattr(part, "defects", ()))
    return [re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower() for name in names]
