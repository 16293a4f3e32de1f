"""benchmarks/pack.py at tiny sizes: it runs end to end and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KEYS = ("pack_steps_per_s", "bare_steps_per_s", "pack_overhead")


@pytest.mark.timeout(120)
def test_pack_benchmark_ends_with_its_figures_as_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORCHESTRATE_")}
    argv = [sys.executable, str(REPO / "benchmarks" / "pack.py"), "--steps", "7", "--rounds", "1"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("round 1: 7 steps at parallel 1 ")
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    assert (figures["steps"], figures["scenarios"], figures["rounds"]) == (7, 2, 1)
    assert figures["pack_overhead"] == pytest.approx(
        figures["bare_steps_per_s"] / figures["pack_steps_per_s"], rel=0.01
    )
