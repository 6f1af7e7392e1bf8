"""A FreeSWITCH double per test, and hubs whose voice channel talks to it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from freeswitch_double import FreeSwitchDouble
from voice_support import VoiceHub

import plugins.voice
from hub.core import HubCore, create_hub
from hub.settings import load_settings

PASSWORD = "not-ClueCon"


@pytest.fixture
def database_url(migrated_sqlite: str, tmp_path: Path) -> str:
    """SQLite only: these tests exercise the switch and the calls; the hub's storage runs on
    both databases in its own tests."""
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def switch() -> AsyncIterator[FreeSwitchDouble]:
    double = FreeSwitchDouble(password=PASSWORD)
    await double.start()
    yield double
    await double.stop()


@pytest.fixture
async def voice_hub(tmp_path: Path, database_url: str, switch: FreeSwitchDouble) -> AsyncIterator[VoiceHub]:
    """``await voice_hub(**voice_settings)``: a started hub whose voice channel uses ``switch``."""
    made: list[HubCore] = []

    async def make(*, routing: bool = False, extra_plugins: tuple[object, ...] = (), **voice: Any) -> HubCore:
        section = {"esl_port": switch.port, "esl_password": PASSWORD, "reconnect_max_seconds": 0.5,
                   "outbound_port": 0, **voice}
        settings = load_settings(data_dir=tmp_path / f"hub{len(made)}", database_url=database_url,
                                 redis_url="", blocked_plugins=[], plugins={"voice": section},
                                 run_jobs_in_process=True, routing=routing, leader_retry_seconds=0.1,
                                 wrap_up_seconds=0.2)
        core = create_hub(settings, plugins=[plugins.voice, *extra_plugins], load_entry_points=False)
        made.append(core)
        await core.start()
        return core

    yield make
    for core in reversed(made):
        await core.stop()
