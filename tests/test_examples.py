"""The README's first command works: init a scratch project, run the example pipeline, query it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def orchestrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quickstart_pipeline_is_traced_end_to_end(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    orchestrate("-C", str(project), "init")
    counted = tmp_path / "code"
    counted.mkdir()
    (counted / "a.py").write_text("one\ntwo\n")
    (counted / "b.py").write_text("three\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py"), str(project), str(counted)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().endswith("3 lines in 2 files")
    run_id = done.stdout.split()[1].rstrip(":")

    runs = json.loads(orchestrate("-C", str(project), "runs", "list", "--json").stdout)
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "completed")]
    shown = json.loads(orchestrate("-C", str(project), "runs", "show", run_id, "--json").stdout)
    manifest = shown["manifest"]
    # The job runner recorded who ran it, beat its heartbeat, and finished it with its summary.
    assert set(manifest["owner"]) == {"pid", "host", "boot_id", "start_ticks", "pid_ns"}
    assert manifest["heartbeat_interval_s"] == 5.0
    assert manifest["summary"] == "3 lines in 2 files"
    assert manifest["finished_at"] >= manifest["heartbeat_at"] >= manifest["created_at"]

    timeline = json.loads(orchestrate("-C", str(project), "events", "timeline", run_id, "--json").stdout)
    summary = timeline["summary"]
    assert summary["status"] == "completed"
    assert summary["worker_count"] == 2
    assert summary["counts"]["agent_objectives"] == 2
    types = [entry["event"]["event_type"] for entry in timeline["events"]]
    assert types[0] == "conductor.task.started"
    assert types[-1] == "conductor.task.completed"
    assert types.count("conductor.capability.completed") == 2
