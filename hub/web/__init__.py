"""The hub's web side: REST API, websockets, agent pages, and channel webhooks."""
