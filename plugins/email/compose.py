"""Outgoing mail, built as bytes a mail server accepts and a mail client threads and shows.

Pure functions, no I/O. Every header value that comes from a person (subject, display
names, file names) passes through :func:`clean_header`, so nobody can smuggle a header in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

# Cc covers C0, DEL and C1 (NEL included); the two Unicode separators also end lines for
# some parsers. Tabs go too: a folded header may not start a line with one we chose.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|sv|wg)(?:\s*\[\d+\])?|回复|答复|转发)\s*[:：]\s*", re.IGNORECASE
)
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>|([^<>\s]+)")
MAX_REFERENCES = 12
"""Longer References are cut to the first id and the last ten (clients stop reading)."""
NO_SUBJECT = "(no subject)"


@dataclass(frozen=True, slots=True)
class Quoted:
    """The message being answered, quoted under the reply."""

    sender: str
    """Display form, ``Name <addr>`` or the bare address."""
    date: datetime | None
    text: str


@dataclass(frozen=True, slots=True)
class FileToSend:
    """One attachment of an outgoing message."""

    filename: str
    content_type: str
    data: bytes


def clean_header(value: str) -> str:
    """``value`` made safe for one header line: control characters (CR and LF among them)
    become spaces, runs of white space one space, and the ends are trimmed."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def reply_subject(original: str, ticket_tag: str = "") -> str:
    """``Re: `` and the original subject without the prefixes clients stack (English,
    German, Nordic and Chinese ones); ``ticket_tag`` such as ``[#1234]`` ends it, once."""
    subject = clean_header(original)
    tag = clean_header(ticket_tag)
    if tag:
        subject = clean_header(subject.replace(tag, " "))
    subject = _strip_prefixes(subject) or (NO_SUBJECT if not tag else "")
    return " ".join(part for part in ("Re:", subject, tag) if part)


def _strip_prefixes(subject: str) -> str:
    while True:
        stripped = _PREFIX.sub("", subject, count=1)
        if stripped == subject:
            return subject
        subject = stripped


def bare_id(value: str) -> str:
    """A Message-ID without its angle brackets; ValueError if it is not one id."""
    found = message_ids(value)
    if len(found) != 1:
        raise ValueError(f"not one message id: {value!r}")
    return found[0]


def message_ids(value: str) -> list[str]:
    """The ids in a header value such as References, without angle brackets, in order."""
    return [bracketed or bare for bracketed, bare in _MESSAGE_ID.findall(value)]


def references_for(
    parent_references: Sequence[str] | str, parent_in_reply_to: Sequence[str] | str, parent_id: str
) -> list[str]:
    """The References of a reply (RFC 5322 3.6.4): the parent's References, or failing those
    its In-Reply-To, then the parent's own id; without brackets or repeats, and cut to the
    first id and the last ten when longer than twelve. A whole header value may stand for
    a list of ids."""
    chain: list[str] = []
    parent = message_ids(parent_id)
    for item in [*_values(parent_references or parent_in_reply_to), *parent[:1]]:
        for found in message_ids(item):
            if found in chain:
                chain.remove(found)  # the later place wins, so the parent stays last
            chain.append(found)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-10:]]
    return chain


def _values(value: Sequence[str] | str) -> Sequence[str]:
    # A lone string is one header value, not a sequence of one-letter ids.
    return [value] if isinstance(value, str) else value


def build_message(
    *,
    from_addr: str,
    from_name: str,
    to_addr: str,
    to_name: str = "",
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str = "",
    references: Sequence[str] | str = (),
    quote: Quoted | None = None,
    signature: str = "",
    attachments: Sequence[FileToSend] = (),
    automatic: bool = False,
    date: datetime | None = None,
) -> EmailMessage:
    """One outgoing message: plain text and an HTML twin, attachments, threading headers.

    ``automatic`` marks an acknowledgement (RFC 3834) so other robots do not answer it.
    Raises ValueError for an address that is not exactly one plain addr-spec, or a
    message id that is not one id.
    """
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = mailbox(from_addr, from_name)
    msg["To"] = mailbox(to_addr, to_name)
    msg["Subject"] = _subject(clean_header(subject))
    msg["Date"] = format_datetime(_aware(date or datetime.now(UTC)))
    msg["Message-ID"] = f"<{bare_id(message_id)}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{bare_id(in_reply_to)}>"
    chain = [found for value in _values(references) for found in message_ids(value)]
    if chain:
        msg["References"] = " ".join(f"<{found}>" for found in chain)
    msg["MIME-Version"] = "1.0"
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Precedence"] = "bulk"
    msg.set_content(plain_body(text, signature, quote), charset="utf-8")
    msg.add_alternative(html_body(text, signature, quote), subtype="html", charset="utf-8")
    for item in attachments:
        _attach(msg, item)
    return msg


def mailbox(addr: str, name: str = "") -> Address:
    """An address header value; ValueError unless ``addr`` is one plain ``local@domain``."""
    if _CONTROL.search(addr):
        raise ValueError(f"address contains control characters: {addr!r}")
    try:
        address = Address(display_name=clean_header(name), addr_spec=addr.strip())
    except (ValueError, IndexError, HeaderParseError) as err:
        raise ValueError(f"not one e-mail address: {addr!r}") from err
    # The parser forgives comments and stray text; an address we send to must be exact.
    if not address.username or not address.domain or address.addr_spec != addr.strip():
        raise ValueError(f"not one e-mail address: {addr!r}")
    if not address.addr_spec.isascii():
        # Sending to such an address needs SMTPUTF8, which we do not ask servers for.
        raise ValueError(f"address is not ASCII: {addr!r}")
    return address


def plain_body(text: str, signature: str = "", quote: Quoted | None = None) -> str:
    """The text/plain body: the reply, the signature after ``-- ``, then the quote."""
    body = _lines(text).rstrip()
    if signature.strip():
        body += "\n\n-- \n" + _lines(signature).strip("\n")
    if quote is not None:
        quoted = "\n".join(_quote_line(line) for line in _lines(quote.text).rstrip().split("\n"))
        body += f"\n\n{quote_heading(quote)}\n{quoted}"
    return body + "\n"


def html_body(text: str, signature: str = "", quote: Quoted | None = None) -> str:
    """The text/html twin of :func:`plain_body`, escaped, the quote in a blockquote."""
    parts = [f"<div>{_html_lines(text)}</div>"]
    if signature.strip():
        parts.append(f'<div class="signature">-- <br>\n{_html_lines(signature)}</div>')
    if quote is not None:
        parts.append(f"<div>{html.escape(quote_heading(quote))}</div>")
        parts.append(
            '<blockquote style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">'
            f"{_html_lines(quote.text)}</blockquote>"
        )
    body = "\n<br>\n".join(parts)
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


def quote_heading(quote: Quoted) -> str:
    """``On <date>, <sender> wrote:``; numbers only, so it reads the same in any language."""
    sender = clean_header(quote.sender)
    if quote.date is None:
        return f"{sender} wrote:"
    return f"On {_aware(quote.date):%Y-%m-%d %H:%M %z}, {sender} wrote:"


class _EncodedSubject(str):
    """A non-ASCII subject that folds itself.

    The stdlib folder sometimes leaves the space between two words outside the encoded
    words it splits them into, and RFC 2047 readers drop such spaces ("发票 发票" comes back
    "发票发票"). The older ``Header`` encoder keeps every space inside an encoded word.
    """

    name = "Subject"

    def fold(self, *, policy: policy.Policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def _subject(value: str) -> str:
    return value if value.isascii() else _EncodedSubject(value)


def _quote_line(line: str) -> str:
    # Nested quotes stay ">>" (RFC 3676 style) rather than "> >".
    if not line or line.startswith(">"):
        return ">" + line
    return "> " + line


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html_lines(text: str) -> str:
    return html.escape(_lines(text).strip("\n")).replace("\n", "<br>\n")


def _aware(moment: datetime) -> datetime:
    # The hub keeps naive datetimes in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _attach(msg: EmailMessage, item: FileToSend) -> None:
    maintype, _, subtype = item.content_type.partition(";")[0].strip().lower().partition("/")
    if not maintype or not subtype or maintype == "multipart" or "/" in subtype:
        maintype, subtype = "application", "octet-stream"
    # Receiving clients may honour path parts; a name is all we mean to send.
    filename = clean_header(item.filename).replace("/", "_").replace("\\", "_") or "attachment"
    msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=filename)
