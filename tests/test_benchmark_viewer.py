"""benchmarks/viewer.py at tiny sizes: it runs end to end (Chromium included) and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KEYS = (
    "events_api_ms",
    "events_sql_ms",
    "api_vs_sql",
    "runs_api_ms",
    "detail_render_ms",
    "stream_delay_ms",
)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_viewer_benchmark_ends_with_its_figures_as_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    argv = [sys.executable, str(REPO / "benchmarks" / "viewer.py")]
    argv += ["--events", "2000", "--runs", "10", "--repeat", "3", "--detail-events", "200", "--loads", "2"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=230, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("seeded 2,000 events over 10 runs through the bus in ") for line in lines)
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    assert (figures["events"], figures["runs"], figures["detail_events"]) == (2000, 10, 200)
    assert figures["api_vs_sql"] == pytest.approx(
        figures["events_api_ms"] / figures["events_sql_ms"], rel=0.01
    )


def test_viewer_benchmark_refuses_sizes_it_cannot_build() -> None:
    argv = [sys.executable, str(REPO / "benchmarks" / "viewer.py"), "--events", "100", "--runs", "1"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode != 0
    assert "--runs must be at least 2" in done.stderr
