"""The routing benchmark runs end to end on a small load and ends with its JSON figures."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "routing.py"


def test_bench_runs_small_and_prints_json_last():
    args = ["--agents", "200", "--queues", "10", "--waiting", "500", "--decisions", "40",
            "--naive-decisions", "10"]
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=True,
                          timeout=120)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["agents"] == 200
    assert figures["free"]["ratio"] > 1 and figures["arrive"]["ratio"] > 1
