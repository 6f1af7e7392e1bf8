"""The channel-neutral shapes every channel turns its native contacts into, and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """A file already in the hub's file store, named by its content hash."""

    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One contact as a channel received it.

    ``external_id`` is the channel's own id for this message (an IMAP UID key, a Kannel
    message id, a web chat client message id): the hub stores each (channel, external_id)
    exactly once, so a channel may hand the same message over again after a retry or a crash.
    ``thread_key`` groups messages into one interaction while it is open (a chat visitor, an
    email thread, a caller's call id). ``sender`` is the address the customer is known by on
    this channel (phone number, email address, visitor id).
    """

    channel: str
    external_id: str
    sender: str
    thread_key: str
    text: str = ""
    attachments: tuple[AttachmentRef, ...] = ()
    sender_name: str = ""
    subject: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    identities: tuple[tuple[str, str], ...] = ()
    """Extra (kind, address) pairs the customer gave (a pre-chat form's phone or email)."""
    entry: str = ""
    """The address the customer contacted: the dialled number, the mailbox, the official
    account; entry rules (number-level routing) match it. Empty when the channel has one."""
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON-safe details stored with the message and shown to agents (an email's subject,
    sender, HTML body file, threading ids). Agents' screens read the keys they know."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message the hub asks a channel to deliver, already stored with its ``seq``."""

    message_id: int
    interaction_id: int
    channel: str
    thread_key: str
    recipient: str
    seq: int
    text: str
    author_name: str = ""
    author_type: str = "agent"
    attachments: tuple[AttachmentRef, ...] = ()
    subject: str = ""
    created_at: str = ""
    entry: str = ""
    """The address the conversation came in on (``InboundMessage.entry``): a reply leaves
    from the same mailbox or number."""
