"""The ticket-search benchmark runs end to end on a small load, on SQLite and on PostgreSQL,
and ends with its JSON figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "tickets.py"


def run_bench(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, str(BENCH), "--rows", "20000", "--times", "20",
                           "--naive-times", "2", *args],
                          capture_output=True, text=True, check=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(figures: dict[str, object], database: str) -> None:
    assert figures["bench"] == "tickets" and figures["database"] == database
    assert figures["rows"] == 20000
    timed = figures["figures"]
    assert isinstance(timed, dict) and {"customer", "phone", "unit, open", "7 days"} <= set(timed)
    assert all(row["found"] > 0 for row in timed.values())  # every filter finds something


@pytest.mark.slow
def test_bench_runs_small_on_sqlite_and_prints_json_last() -> None:
    check(run_bench(), "sqlite")


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_runs_small_on_postgresql_and_prints_json_last(postgres_url: str) -> None:
    check(run_bench("--database-url", postgres_url), "postgresql")
