"""What can go wrong talking to FreeSWITCH, each error a case of the hub's vocabulary.

``hub.errors`` gives every error one fixed meaning; the ESL errors below only add detail:
a lost connection is ``NotReady`` (reconnect with backoff), a refused password is
``AuthFailed`` (raised as is), a ``-ERR`` answer is a ``ChannelError`` for that one
command, and a command that would smuggle a line break onto the wire is the caller's
fault, an ``InvalidRequest``.
"""

from __future__ import annotations

from hub.errors import ChannelError, InvalidRequest, NotReady


class ConnectionLost(NotReady):
    """The connection is gone: closed by FreeSWITCH, silent too long, or dropped by us."""


class FrameError(NotReady):
    """FreeSWITCH sent bytes that are not a well-formed ESL message.

    Raised by the parser only; the connection that carried the bytes is dropped (and its
    pending commands fail with ``ConnectionLost``), never the process."""


class CommandError(ChannelError):
    """FreeSWITCH answered a command with ``-ERR`` (or ``-USAGE``)."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command!r} failed: {reply}")
        self.command = command
        """The command as sent, with any password left out."""
        self.reply = reply
        """FreeSWITCH's whole answer, e.g. ``-ERR NO_ANSWER``."""

    @property
    def reason(self) -> str:
        """The answer without its ``-ERR`` prefix, e.g. ``NO_ANSWER`` or ``invalid``."""
        head, _, rest = self.reply.partition(" ")
        return rest if head.startswith("-") else self.reply


class UnsafeCommand(InvalidRequest):
    """A command line, header or argument would carry CR, LF or NUL onto the wire.

    A line break there would end the command early and let the rest be read as a second
    command (``api status\\n\\napi fsctl shutdown``): refused before anything is sent."""

    def __init__(self, message: str) -> None:
        super().__init__("esl_unsafe_command", message)
