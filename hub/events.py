"""Events: what plugins observe through hooks, and the live bus that feeds open screens."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger("contacthub.events")


@dataclass(frozen=True, slots=True)
class InteractionEvent:
    """An interaction changed: ``kind`` is opened, assigned, followup, or closed."""

    kind: str
    interaction_id: int
    channel: str
    customer_id: int
    queue: str = ""
    agent_id: int | None = None
    disposition: str = ""


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message was stored (``kind`` inbound/outbound) or its delivery status changed."""

    kind: str
    message_id: int
    interaction_id: int
    channel: str
    seq: int
    status: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """A work order changed; ``data`` carries what the ticket service says about it."""

    kind: str
    ticket_id: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentStateEvent:
    """An agent's state changed from ``from_state`` to ``to_state`` at ``at``.

    ``by`` is the agent id of whoever changed it (the agent, or a supervisor forcing it);
    None when the hub did (an offer, a missed offer, the end of an automatic wrap-up).
    """

    agent_id: int
    from_state: str
    to_state: str
    reason: str
    by: int | None
    at: datetime
    interaction_id: int | None = None


@dataclass(frozen=True, slots=True)
class OfferEvent:
    """Routing offered an interaction to an agent, or that offer ended.

    ``kind`` is ``offered`` (``timeout`` says how long it rings), ``accepted``, ``declined``,
    ``timeout`` (not answered in time: the agent is set busy), or ``withdrawn`` (the customer
    left, the agent became unavailable, a supervisor moved the interaction). ``waited`` is
    how long the customer had waited when it happened, in seconds.
    """

    kind: str
    interaction_id: int
    agent_id: int
    queue: str
    level: int
    channel: str
    tier: str
    at: datetime
    waited: float = 0.0
    timeout: float | None = None
    reason: str = ""
    """Why it was ``withdrawn``: ``customer_left``, ``moved``, ``agent_unavailable``."""

    def as_dict(self) -> dict[str, Any]:
        return {"event": "OfferEvent", **asdict(self), "at": self.at.isoformat()}


def event_dict(event: InteractionEvent | MessageEvent | TicketEvent) -> dict[str, Any]:
    return {"event": type(event).__name__, **asdict(event)}


Listener = Callable[[str, dict[str, Any]], Awaitable[None]]


class EventBus:
    """In-process fan-out of live updates by topic (``inbox``, ``interaction:<id>``...).

    Delivery is best effort by design: screens that miss an update catch up from the
    database (messages carry a per-interaction ``seq``), so the bus never needs to be durable.
    """

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = defaultdict(set)

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic, payload)`` for each event on ``topic``; returns the unsubscriber."""
        self._listeners[topic].add(listener)

        def unsubscribe() -> None:
            listeners = self._listeners.get(topic)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[topic]

        return unsubscribe

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await self.deliver_local(topic, payload)

    async def deliver_local(self, topic: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(topic, ())):
            try:
                await listener(topic, payload)
            except Exception:
                log.exception("live listener on %s failed", topic)

    async def start(self) -> None:
        """Connect to whatever carries events between processes; nothing in-process."""

    async def stop(self) -> None:
        """Release that connection."""


class RedisEventBus(EventBus):
    """Fan-out across several web processes through Redis pub/sub."""

    CHANNEL = "contacthub:events"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._redis: Any = None
        self._task: Any = None

    async def start(self) -> None:
        import asyncio

        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(self._url)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.CHANNEL)
        self._task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub: Any) -> None:
        async for item in pubsub.listen():
            if item.get("type") != "message":
                continue
            envelope = json.loads(item["data"])
            await self.deliver_local(envelope["topic"], envelope["payload"])

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self.CHANNEL, json.dumps({"topic": topic, "payload": payload}))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._redis is not None:
            await self._redis.aclose()


class RelayEventBus(EventBus):
    """Publish-only bus for processes without screens (Celery workers) on the embedded
    set-up: events are posted to the web process, which fans them out.

    Best effort like every bus here: if the web process is down, screens catch up from the
    database, and pending deliveries are retried when it starts.
    """

    def __init__(self, url: str, secret: str) -> None:
        super().__init__()
        self._url = url.rstrip("/") + "/internal/events"
        self._secret = secret.encode()
        self._http: Any = None

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        import aiohttp

        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        body = json.dumps({"topic": topic, "payload": payload}).encode()
        try:
            async with self._http.post(self._url, data=body,
                                       headers={"X-Relay-Signature": relay_signature(self._secret, body)}
                                       ) as response:
                if response.status != 204:
                    log.warning("event relay refused %s: HTTP %s", topic, response.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("event relay to the web process failed for %s: %s", topic, err)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()


def relay_signature(secret: bytes, body: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(secret, b"relay:" + body, hashlib.sha256).hexdigest()
