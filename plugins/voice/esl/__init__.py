"""A small asyncio client for FreeSWITCH's Event Socket, inbound and outbound, no ESL library.

``EslConnection.connect`` dials FreeSWITCH (inbound, port 8021) and ``Supervisor`` keeps it
up; ``OutboundServer`` accepts the per-call connections of the ``socket`` application.
``frames`` and ``events`` are the wire format, usable on their own (tests, the double).
"""

from hub.errors import AuthFailed
from plugins.voice.esl.connection import EslConnection, parse_channels
from plugins.voice.esl.delivery import EventStream, Job
from plugins.voice.esl.errors import CommandError, ConnectionLost, FrameError, UnsafeCommand
from plugins.voice.esl.events import Event, channel_data, parse_event
from plugins.voice.esl.frames import Command, FrameParser, Message
from plugins.voice.esl.link import Link, Options
from plugins.voice.esl.outbound import OutboundServer, OutboundSession
from plugins.voice.esl.supervisor import Supervisor

__all__ = [
    "AuthFailed",
    "Command",
    "CommandError",
    "ConnectionLost",
    "EslConnection",
    "Event",
    "EventStream",
    "FrameError",
    "FrameParser",
    "Job",
    "Link",
    "Message",
    "Options",
    "OutboundServer",
    "OutboundSession",
    "Supervisor",
    "UnsafeCommand",
    "channel_data",
    "parse_channels",
    "parse_event",
]
