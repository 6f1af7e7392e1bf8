"""Decoding mail text whose declared charset is only a hint (reference 1.3).

Senders routinely label GBK text ``gb2312``, Big5-HKSCS text ``big5`` and cp1252 text
``iso-8859-1``; the stdlib decodes strictly with the label and puts U+FFFD in place of every
character outside it. Here each label is widened to the superset its senders really use, and
text with no usable label is tried as UTF-8, then GB18030, then cp1252.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message

_SUPERSETS = {
    **dict.fromkeys(
        ("gb2312", "gbk", "x-gbk", "cp936", "ms936", "euc-cn", "euccn", "csgb2312", "gb_2312-80", "chinese"),
        "gb18030",
    ),
    **dict.fromkeys(("big5", "big-5", "cn-big5", "csbig5", "x-x-big5", "big5-hkscs"), "big5hkscs"),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601", "euc-kr", "csksc56011987", "korean"), "cp949"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis"), "cp932"),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1"), "cp1252"),
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "windows-1252"), "cp1252"),
}
# Labels that say "no idea": treat as undeclared rather than as an unknown name.
_NO_CHARSET = frozenset(("", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "binary"))
# Text codecs Python knows that no mail means: they would turn bytes into escapes or fail oddly.
_NOT_MAIL = frozenset(("unicode_escape", "raw_unicode_escape", "idna", "punycode", "mbcs", "oem"))
_ENCODED_RUN = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:[ \t]*=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def codec_for(label: str | None) -> str | None:
    """The Python codec to decode text labelled ``label`` with; None when there is no usable label."""
    name = (label or "").strip().strip("\"'").lower().partition("*")[0]
    if name in _NO_CHARSET:
        return None
    if len(name) > 40:
        return None
    name = _SUPERSETS.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL:
        return None
    return _SUPERSETS.get(info.name, info.name)


def decode_undeclared(data: bytes) -> str:
    """Bytes with no trustworthy label: UTF-8 if valid, else GB18030, else cp1252 with replacements."""
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def decode_text(data: bytes, label: str | None) -> tuple[str, list[str]]:
    """Decode a body or header chunk; the second item says what had to be repaired."""
    codec, shown = codec_for(label), (label or "")[:40]
    if codec is None:
        known_blank = not label or label.strip().lower() in _NO_CHARSET
        return decode_undeclared(data), [] if known_blank else [f"unknown charset {shown!r}"]
    try:
        return data.decode(codec), []
    except UnicodeDecodeError:
        pass
    # A wrong label is more common than broken bytes: mail labelled utf-8 is often GBK.
    for fallback in ("utf-8", "gb18030"):
        if fallback != codec:
            try:
                return data.decode(fallback), [f"charset {shown!r} was really {fallback}"]
            except UnicodeDecodeError:
                continue
    return data.decode(codec, errors="replace"), [f"undecodable bytes in {shown!r}"]


def unfold(value: str) -> str:
    return _FOLD.sub("", value)


def decode_header_text(raw: str) -> tuple[str, list[str]]:
    """A raw header value (8-bit bytes as surrogates) as text; RFC 2047 words decoded by mapped codec."""
    value, defects = eight_bit_header(raw)
    pieces: list[str] = []
    last = 0
    for match in _ENCODED_RUN.finditer(value):
        pieces.append(value[last : match.start()])
        text, run_defects = _decode_words(match.group(0))
        pieces.append(text)
        defects.extend(run_defects)
        last = match.end()
    pieces.append(value[last:])
    return "".join(pieces), defects


def eight_bit_header(raw: str) -> tuple[str, list[str]]:
    """A raw header value unfolded, its unencoded 8-bit bytes (surrogates) decoded; RFC 2047 words left."""
    value = unfold(raw)
    if not _has_surrogates(value):
        return value, []
    return decode_undeclared(value.encode("utf-8", "surrogateescape")), ["8-bit header without encoding"]


def header_values(part: Message, name: str) -> list[str]:
    """Every value of header ``name`` in ``part``, decoded; never raises on malformed headers."""
    wanted = name.lower()
    return [decode_header_text(str(value))[0] for key, value in part.raw_items() if key.lower() == wanted]


def header_value(part: Message, name: str) -> str:
    values = header_values(part, name)
    return values[0].strip() if values else ""


def raw_header(part: Message, name: str) -> str | None:
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            return unfold(str(value))
    return None


def _decode_words(run: str) -> tuple[str, list[str]]:
    try:
        chunks = decode_header(run)
    except (HeaderParseError, ValueError, binascii.Error):
        chunks = _decode_words_leniently(run)
    texts, defects = [], []
    for chunk, label in chunks:
        data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
        text, chunk_defects = decode_text(data, label)
        texts.append(text)
        defects.extend(chunk_defects)
    return "".join(texts), defects


def _decode_words_leniently(run: str) -> list[tuple[bytes, str | None]]:
    # decode_header gives up on a whole run for one bad base64 word; keep the good ones.
    chunks: list[tuple[bytes, str | None]] = []
    for label, kind, text in re.findall(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=", run):
        if kind in "bB":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
            chunks.append((base64.b64decode(cleaned), label))
        else:
            chunks.append((_q_decode(text), label))
    return chunks


def _q_decode(text: str) -> bytes:
    data = text.replace("_", " ").encode("ascii", "replace")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)
