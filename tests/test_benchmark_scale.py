"""benchmarks/scale.py at tiny sizes: it runs both parts end to end and ends with its JSON line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RAY_KEYS = ("ray_traj_per_s", "ray_vs_local")
ALWAYS_KEYS = ("local_traj_per_s", "bus_events_per_s", "bus_otel_events_per_s", "otel_bus_ratio")


def ray_importable() -> bool:
    """Whether ``import ray`` works in this interpreter, the one the benchmark runs in."""
    if importlib.util.find_spec("ray") is None:
        return False
    probe = [sys.executable, "-c", "import ray"]
    return subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_scale_benchmark_ends_with_its_figures_as_json() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("ORCHESTRATE_", "OTEL_", "RAY_ADDRESS"))
    }
    argv = [sys.executable, str(REPO / "benchmarks" / "scale.py")]
    argv += ["--trajectories", "4", "--events", "2000", "--rounds", "1"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures.keys() >= {*RAY_KEYS, *ALWAYS_KEYS}
    for key in ALWAYS_KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    if ray_importable():
        for key in RAY_KEYS:
            assert isinstance(figures[key], int | float) and figures[key] > 0, key
        assert any(
            line.startswith("round 1: 4 trajectories at 2 slots: local ") and " Ray " in line
            for line in lines
        )
    else:
        assert all(figures[key] is None for key in RAY_KEYS)
        assert any(line.startswith("Ray part skipped:") for line in lines)
    # The OTLP round really exported: its spans reached the collector subprocess.
    (received,) = [line for line in lines if line.startswith("the collector received ")]
    assert not received.startswith("the collector received 0 spans")
    assert (figures["trajectories"], figures["events"], figures["rounds"]) == (4, 2000, 1)
