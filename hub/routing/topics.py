"""The bus topics routing speaks on, shared by the router and every process's web side."""

from __future__ import annotations

TOPIC = "routing"
"""Offer lifecycle for observers (``OfferEvent`` as a dict); declines from any process."""
REQUESTS = "routing-requests"
"""Asks of the leader from any process: ``{"kind": "next", "agent_id": 7}``."""
BOARD = "wallboard"
"""The leader's wallboard, at most once a second while something changes."""
MISSED = "missed_offer"
"""The busy reason of an agent who let an offer go."""


def agent_topic(agent_id: int) -> str:
    """The topic an agent's screens listen on: offers, offer ends, alerts."""
    return f"agent:{agent_id}"
