"""benchmarks/scenarios.py at tiny sizes: it runs end to end and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KEYS = {"traj_per_s_p1", "traj_per_s_p4", "bare_traj_per_s", "overhead_p1", "rss_mb_100", "rss_mb_2000"}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scenario_benchmark_ends_with_its_figures_as_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    argv = [sys.executable, str(REPO / "benchmarks" / "scenarios.py")]
    argv += ["--trajectories", "6", "--rss-small", "3", "--rss-large", "6", "--rounds", "1"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("round 1: 6 trajectories: parallel 1 ")
    figures = json.loads(lines[-1])
    assert figures.keys() >= KEYS
    for key in KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    assert figures["rss_trajectories"] == [3, 6]
    assert figures["overhead_p1"] == pytest.approx(
        figures["bare_traj_per_s"] / figures["traj_per_s_p1"], rel=0.01
    )
