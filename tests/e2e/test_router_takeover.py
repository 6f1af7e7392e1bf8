"""Two real hub processes on one PostgreSQL: exactly one routes; when it is killed the other
takes over within seconds, with the contacts that waited and the offers that rang."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hub_process import HubProcess, free_port
from sqlalchemy import select

from hub.conformance import wait_for
from hub.core import HubCore, create_hub
from hub.db import transaction
from hub.ingest import ingest
from hub.messages import InboundMessage
from hub.migrate import upgrade
from hub.models import Agent, AgentSkill, RoutingOffer
from hub.routing.states import AgentState
from hub.settings import load_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ELECTED = "elected: this process leads"


@pytest.fixture
async def shared(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, Any]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several routing processes need PostgreSQL (SQLite serves one process)")
    await upgrade(database_url)
    config = tmp_path / "contacthub.toml"
    config.write_text(f'database_url = "{database_url}"\nredis_url = "{redis_url}"\n'
                      "leader_retry_seconds = 0.2\nwrap_up_seconds = 1\n")
    return {"config": config, "database_url": database_url, "redis_url": redis_url}


def hub_process(shared: dict[str, Any], tmp_path: Path, name: str) -> HubProcess:
    (tmp_path / name).mkdir()
    return HubProcess(tmp_path / name / "var", free_port(), shared["config"])


async def test_the_standby_routes_within_seconds_when_the_leader_is_killed(
    shared: dict[str, Any], tmp_path: Path,
) -> None:
    # A third hub that never routes plays the channel: it stores contacts and publishes.
    desk: HubCore = create_hub(load_settings(data_dir=tmp_path / "desk", database_url=shared["database_url"],
                                             redis_url=shared["redis_url"], routing=False),
                               load_entry_points=False)
    await desk.start()
    first, second = hub_process(shared, tmp_path, "a"), hub_process(shared, tmp_path, "b")
    try:
        async with transaction(desk.sessions) as s:
            agent = Agent(number="1001", name="Li Na", password_hash="")
            s.add(agent)
            await s.flush()
            s.add(AgentSkill(agent_id=agent.id, queue="default"))
        first.start()
        second.start()
        leader = await wait_for(lambda: [p for p in (first, second) if ELECTED in p.log()], 15,
                                message="a leader")
        assert len(leader) == 1, "exactly one process routes"
        standby = second if leader[0] is first else first
        await desk.states.change(int(agent.id or 0), AgentState.IDLE, by=agent.id)

        async def offered(interaction_id: int) -> int | None:
            async with desk.sessions() as s:
                row = await s.get(RoutingOffer, interaction_id)
            return None if row is None else row.agent_id

        before = await ingest(desk, InboundMessage(channel="chat", external_id="m1", sender="c1",
                                                   thread_key="c1", text="hello"))
        ringing = await wait_for(lambda: offered(before.interaction_id), 15, message="the leader's offer")
        assert ringing == agent.id

        leader[0].kill()
        killed_at = time.monotonic()
        await wait_for(lambda: ELECTED in standby.log(), 10, message="the standby to take over")
        took_over = time.monotonic() - killed_at
        assert took_over < 5, f"takeover took {took_over:.1f} s"
        # The offer that was ringing survived: still the agent's, now timed by the new leader.
        assert await offered(before.interaction_id) == agent.id

        async with transaction(desk.sessions) as s:
            s.add(Agent(number="1002", name="Wang Fang", password_hash=""))
        async with desk.sessions() as s:
            bob = (await s.execute(select(Agent.id).where(Agent.number == "1002"))).scalar_one()
        async with transaction(desk.sessions) as s:
            s.add(AgentSkill(agent_id=bob, queue="default"))
        await desk.bus.publish("routing-config", {"event": "routing-config", "what": "skills"})
        await desk.states.change(bob, AgentState.IDLE, by=bob)
        after = await ingest(desk, InboundMessage(channel="chat", external_id="m2", sender="c2",
                                                  thread_key="c2", text="anyone?"))
        assert await wait_for(lambda: offered(after.interaction_id), 15,
                              message="an offer from the new leader") in (agent.id, bob)
    finally:
        first.kill()
        second.kill()
        await desk.stop()
