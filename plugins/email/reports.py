"""Mail that no person wrote: delivery reports (RFC 3464) and the marks of automatic mail (RFC 3834).

A bounce names the message that failed; the hub uses that to mark its outbound message. Any
automatic mail is still stored, but never answered automatically (reference 1.5 and 1.6).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from plugins.email.charsets import header_value, header_values

DAEMONS = frozenset(("mailer-daemon", "postmaster", "mail-daemon", "maildaemon"))
NO_REPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[-_.+].*)?$")
BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned to sender|delivery status notification|delivery (?:has )?failed|"
    r"failure notice|mail delivery (?:failed|system)|non-?delivery|系统退信|退信|投递失败|未能送达",
    re.IGNORECASE,
)
_AUTORESPONDER_HEADERS = ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "x-mailing-list")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID:[ \t]*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_ANY_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_RECIPIENT_PATTERNS = (
    # Postfix and qmail: "<a@b>: host said...", sendmail: "<a@b>... Deferred".
    re.compile(r"^[ \t]*<([^<>\s@]+@[^<>\s]+)>(?::|\.\.\.)", re.MULTILINE),
    re.compile(r"(?:收件人|收信人|recipient|address)[^\n@]{0,20}?([\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
               re.IGNORECASE),
)
# A line with an SMTP reply code and an enhanced status code, else any line with a reply code.
_SMTP_REPLY = re.compile(r"^.*\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*$", re.MULTILINE)
_SMTP_CODE = re.compile(r"^.*\b[45]\d\d[ -].*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a bounce says about one recipient of a message the hub sent."""

    original_message_id: str
    recipient: str
    action: str
    status: str
    diagnostic: str

    @property
    def failed(self) -> bool:
        """True when delivery is over for good: the MTA gave up, or the status is permanent (5.x.x)."""
        return self.action == "failed" or self.status.startswith("5")


def automatic_reason(part: Message, sender: str, content_type: str) -> str:
    """Why ``part`` is automatic mail, by the first rule of reference 1.5 that holds; "" for a person."""
    auto_submitted = header_value(part, "auto-submitted").lower()
    local_part = sender.partition("@")[0]
    checks = (
        ("auto-submitted", bool(auto_submitted) and not re.match(r"no\b", auto_submitted)),
        ("precedence", header_value(part, "precedence").lower() in ("bulk", "list", "junk", "auto_reply")),
        ("mailing-list", any(header_values(part, name) for name in _LIST_HEADERS)),
        ("report", content_type == "multipart/report"),
        ("mailer-daemon", local_part in DAEMONS or _null_return_path(part)),
        ("autoreply-header", _autoresponder(part)),
        ("no-reply", bool(NO_REPLY.match(local_part))),
    )
    return next((reason for reason, holds in checks if holds), "")


def delivery_report(status_parts: Sequence[Message], originals: Sequence[Message]) -> DeliveryReport | None:
    """The report in the message/delivery-status ``status_parts``: the first failed recipient, else the first.

    ``originals`` are the returned message or its headers (message/rfc822, text/rfc822-headers).
    """
    blocks = [block for part in status_parts for block in _recipient_blocks(part)]
    if not blocks:
        return None
    chosen = next((block for block in blocks if _block_failed(block)), blocks[0])
    return DeliveryReport(
        original_message_id=_original_id(originals, ""),
        recipient=_address_field(header_value(chosen, "final-recipient"))
        or _address_field(header_value(chosen, "original-recipient")),
        action=header_value(chosen, "action").lower().split(" ")[0],
        status=_status(header_value(chosen, "status")),
        diagnostic=" ".join(header_value(chosen, "diagnostic-code").split()),
    )


def looks_like_bounce(sender: str, subject: str, automatic: str) -> bool:
    """A bounce without a multipart/report: from a mailer daemon, or an automatic mail titled as one."""
    if sender.partition("@")[0] in DAEMONS:
        return True
    return bool(automatic) and bool(BOUNCE_SUBJECT.search(subject))


def guessed_report(subject: str, text: str, originals: Sequence[Message]) -> DeliveryReport:
    """Read what a free-form bounce tells: the quoted original's Message-ID, the recipient, the status."""
    delayed = re.search(r"delay|延迟|延時", subject, re.IGNORECASE) is not None
    found = _STATUS.search(text)
    status = found.group(1) if found else ("4.0.0" if delayed else "5.0.0")
    reply = _SMTP_REPLY.search(text) or _SMTP_CODE.search(text)
    return DeliveryReport(
        original_message_id=_original_id(originals, text),
        recipient=_bounced_recipient(text, originals),
        action="delayed" if delayed and not status.startswith("5") else "failed",
        status=status,
        diagnostic=" ".join(reply.group(0).split()) if reply else "",
    )


def _bounced_recipient(text: str, originals: Sequence[Message]) -> str:
    for pattern in _RECIPIENT_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1).lower()
    for message in originals:
        found = _ANY_ADDRESS.search(header_value(message, "to"))
        if found:
            return found.group(0).lower()
    found = _ANY_ADDRESS.search(text)
    return found.group(0).lower() if found else ""


def _recipient_blocks(part: Message) -> Iterator[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return
    # The first block is per-message (Reporting-MTA...); recipient blocks carry an address.
    for block in payload:
        if isinstance(block, Message) and (header_value(block, "final-recipient")
                                           or header_value(block, "original-recipient")):
            yield block


def _block_failed(block: Message) -> bool:
    action = header_value(block, "action").lower()
    return action.startswith("failed") or _status(header_value(block, "status")).startswith("5")


def _original_id(originals: Sequence[Message], text: str) -> str:
    for message in originals:
        found = _message_id(header_value(message, "message-id"))
        if found:
            return found
    quoted = _MESSAGE_ID_LINE.search(text)
    return quoted.group(1) if quoted else ""


def headers_only(data: bytes) -> Message:
    """The header block of a text/rfc822-headers part, as a message with no body."""
    return BytesHeaderParser(policy=compat32).parsebytes(data)


def _message_id(value: str) -> str:
    found = re.search(r"<([^<>\s]+)>", value)
    if found:
        return found.group(1)
    return value.strip() if value.strip() and " " not in value.strip() else ""


def _address_field(value: str) -> str:
    # "rfc822; nobody@example.cn" -> the address; the address type is not ours to keep.
    address = value.rpartition(";")[2].strip().strip("<>").strip()
    return address.lower()


def _status(value: str) -> str:
    found = _STATUS.search(value)
    return found.group(1) if found else ""


def _null_return_path(part: Message) -> bool:
    values = header_values(part, "return-path")
    return bool(values) and values[0].strip() in ("<>", "")


def _autoresponder(part: Message) -> bool:
    if any(header_values(part, name) for name in _AUTORESPONDER_HEADERS):
        return True
    suppress = header_value(part, "x-auto-response-suppress").lower()
    return any(word in suppress for word in ("all", "autoreply", "oof"))
