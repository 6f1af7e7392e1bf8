"""The channel conformance kit: fixtures and contract tests every channel plugin passes.

``hub.conformance.fixtures`` is a pytest plugin (installed with the package) that provides
the running hub; ``ChannelContract`` holds the tests (with the live-contact contracts of
``hub.conformance.live`` for a channel that declares live controls); ``PeerDriver`` is what a
plugin's test gives the kit to drive its peer, ``LivePeerDriver`` one that also places a live
contact; ``hub.conformance.reference`` is the in-memory channel that passes it all. See
docs/plugins/testing.md.
"""

import pytest

# Before the import below, so the contract's plain asserts report their values.
pytest.register_assert_rewrite("hub.conformance.contracts", "hub.conformance.helpers",
                               "hub.conformance.live")

from hub.conformance.contracts import ChannelContract  # noqa: E402
from hub.conformance.helpers import wait_for  # noqa: E402
from hub.conformance.live import control_problems  # noqa: E402
from hub.conformance.peer import LivePeerDriver, PeerDriver  # noqa: E402

__all__ = ["ChannelContract", "LivePeerDriver", "PeerDriver", "control_problems", "wait_for"]
