"""The voice benchmark runs end to end on a few calls and ends with its JSON figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[3] / "bench" / "voice.py"


def test_every_call_rings_an_agent_and_the_figures_come_last() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--calls", "4", "--agents", "4"],
                          capture_output=True, text=True, check=True, timeout=120)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["calls"], figures["rang"]) == (4, 4)
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["events"] > 0
