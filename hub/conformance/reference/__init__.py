"""The in-memory reference channel: the smallest complete channel plugin, made to be copied.

A real plugin has the same files under ``plugins/<name>/``: this ``__init__`` with the hook
implementations only, ``channel.py`` (the ``Channel`` subclass), ``client.py`` (the peer's
protocol) and ``config.py`` (its settings section).
"""

from collections.abc import Callable

from hub.channel import Channel
from hub.conformance.reference.channel import MemoryChannel
from hub.conformance.reference.client import MemoryPeer, PeerUnavailable, connect, listen, unlisten
from hub.hookspecs import hookimpl

__all__ = ["MemoryChannel", "MemoryPeer", "PeerUnavailable", "connect", "hub_register_channels",
           "listen", "unlisten"]


@hookimpl
def hub_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(MemoryChannel)
