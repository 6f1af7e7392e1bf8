"""contacthub: a plugin-based multichannel contact center."""

from hub.channel import Capabilities, Channel, Control, Health, SendResult
from hub.hookspecs import hookimpl
from hub.messages import AttachmentRef, InboundMessage, OutboundMessage

__all__ = [
    "AttachmentRef",
    "Capabilities",
    "Channel",
    "Control",
    "Health",
    "InboundMessage",
    "OutboundMessage",
    "SendResult",
    "hookimpl",
]
