"""The job runner: one bus, a run dir with an owner and a heartbeat, a real final status, nothing left open.

Jobs run for real: the project's SQLite index, the event bus actor, conductors and workers, and,
for a run whose owner dies, a real subprocess killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from orchestrator import Conductor, RunOutcome, StartRun, Worker, WorkRequest, WorkResult, load_config
from orchestrator.config import ProjectConfig
from orchestrator.errors import EventStoreError, RunInterruptedError, UsageError
from orchestrator.events import EventStore
from orchestrator.jobs import open_job, run_job
from orchestrator.pipelines.test import GateOptions, run_gate
from orchestrator.runs import list_runs, read_run

REPO = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        pause.wait(0.02)


class Echo(Worker):
    worker_type = "echo"

    def perform(self, request: WorkRequest) -> WorkResult:
        return self.result(request, summary=f"echo {request.params.get('word')}")


class EchoOnce(Conductor):
    """Delegates once and reports what the worker said."""

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(Echo)
        result = self.delegate(worker, "echo", "say the word", params={"word": start.params["word"]})
        return RunOutcome(run_id=start.run_id, status="completed", summary=result.summary)


@pytest.fixture
def config(tmp_path: Path) -> ProjectConfig:
    root = tmp_path / "project"
    root.mkdir()
    (root / "orchestrate.toml").write_text('[project]\nname = "jobs"\n')
    return load_config(root, env={})


def manifest(path: Path) -> dict[str, Any]:
    document = json.loads((path / "run.json").read_text())
    assert isinstance(document, dict)
    return document


@pytest.mark.timeout(60)
def test_run_job_records_owner_outcome_and_final_status(config: ProjectConfig) -> None:
    result = run_job(
        str(config.root),  # a project directory as a plain string works
        EchoOnce,
        kind="scenario",
        objective="echo once",
        params=lambda run: {"word": run.run_id},
    )
    assert result.status == "completed"
    assert result.outcome.summary == f"echo {result.run_dir.run_id}"
    written = manifest(result.run_dir.path)
    assert written["status"] == "completed"
    assert written["summary"] == result.outcome.summary
    assert written["owner"]["pid"] == os.getpid()
    assert written["heartbeat_interval_s"] == 5.0
    assert "heartbeat_at" in written and "finished_at" in written
    lines = (result.run_dir.path / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event_type"] == "conductor.task.completed"
    with EventStore(config.events_db) as store:
        row = store.run(result.run_dir.run_id)
    assert row is not None and row.status == "completed"


@pytest.mark.timeout(60)
def test_an_error_in_the_body_still_marks_the_run_failed(config: ProjectConfig) -> None:
    def run_then_break() -> None:
        with open_job(config, "scenario") as job:
            job.run(EchoOnce, objective="echo", params={"word": "a"})
            raise ValueError("report broke")

    with pytest.raises(ValueError, match="report broke"):
        run_then_break()
    [run] = list_runs([config.scenario_runs_dir])
    written = manifest(run.path)
    assert written["status"] == "failed"
    assert written["error_code"] == "ValueError"
    assert written["error"] == "report broke"


@pytest.mark.timeout(60)
def test_an_interruption_marks_the_run_interrupted(config: ProjectConfig) -> None:
    with pytest.raises(RunInterruptedError), open_job(config, "ui", target="web") as job:
        raise RunInterruptedError("stopped by SIGTERM")
    written = manifest(job.path)
    assert (written["status"], written["error_code"]) == ("interrupted", "interrupted")
    assert read_run(job.path) is not None and read_run(job.path).status == "interrupted"  # type: ignore[union-attr]


@pytest.mark.timeout(60)
def test_finish_is_recorded_once_and_a_job_runs_one_conductor(config: ProjectConfig) -> None:
    with open_job(config, "scenario") as job:
        job.run(EchoOnce, objective="echo", params={"word": "a"})
        with pytest.raises(UsageError, match="one conductor"):
            job.run(EchoOnce, objective="again", params={"word": "b"})
        job.finish("failed", verdict="BLOCKED")
        with pytest.raises(UsageError, match="already finished"):
            job.finish("completed")
    written = manifest(job.path)
    assert (written["status"], written["verdict"]) == ("failed", "BLOCKED")


@pytest.mark.timeout(60)
def test_a_database_that_cannot_open_fails_before_any_run_dir(config: ProjectConfig) -> None:
    config.events_db.mkdir(parents=True)  # a folder where the database file should be
    with pytest.raises(EventStoreError), open_job(config, "scenario"):
        pytest.fail("the job body must not run")
    assert list_runs([config.ui_runs_dir, config.scenario_runs_dir]) == []


@pytest.mark.timeout(60)
def test_the_heartbeat_beats_while_the_run_lives_and_stops_with_it(config: ProjectConfig) -> None:
    with open_job(config, "scenario", heartbeat_s=0.05) as job:
        first = manifest(job.path)["heartbeat_at"]
        wait_until(lambda: manifest(job.path)["heartbeat_at"] != first, 10, "a second heartbeat")
        beating = [t for t in threading.enumerate() if t.name == f"heartbeat-{job.run_id}"]
        assert len(beating) == 1 and beating[0].daemon
    assert not beating[0].is_alive()
    written = manifest(job.path)
    assert written["status"] == "completed"
    assert written["heartbeat_interval_s"] == 0.05


# --- an owner that dies ------------------------------------------------------------------------------

STUCK_JOB = """\
import sys
from pathlib import Path

from orchestrator import Conductor, RunOutcome
from orchestrator.jobs import open_job


class Stuck(Conductor):
    def conduct(self, start):
        JOB.bus.flush()  # the run's first event is in the file and the index
        Path(sys.argv[2]).write_text(start.run_id)
        self.cancelled.wait()
        return RunOutcome(run_id=start.run_id, status="completed", summary="stopped")


with open_job(sys.argv[1], "scenario", heartbeat_s=60) as JOB:
    JOB.run(Stuck, objective="wait to be killed")
"""


def orchestrate(root: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_whose_process_was_killed_is_interrupted_and_the_next_job_says_so(
    config: ProjectConfig, tmp_path: Path
) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(STUCK_JOB)
    ready = tmp_path / "ready"
    owner = subprocess.Popen([sys.executable, str(script), str(config.root), str(ready)], cwd=REPO)
    try:
        wait_until(lambda: ready.exists() or owner.poll() is not None, 60, "the job to start its run")
        assert owner.poll() is None, "the job ended before it was killed"
        run_id = ready.read_text()
        assert manifest(config.scenario_runs_dir / run_id)["status"] == "running"
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)

    [info] = list_runs([config.scenario_runs_dir])
    assert (info.run_id, info.status) == (run_id, "interrupted")
    assert info.interrupted_reason == f"its process {owner.pid} on {socket.gethostname()} is gone"
    with EventStore(config.events_db) as store:
        row = store.run(run_id)
    assert row is not None and row.status == "interrupted"
    listed = orchestrate(config.root, "runs", "list")
    assert [(r["run_id"], r["status"]) for r in listed] == [(run_id, "interrupted")]
    shown = orchestrate(config.root, "runs", "show", run_id)
    assert shown["status"] == "interrupted"
    assert shown["indexed_status"] == "interrupted"
    assert shown["manifest"]["status"] == "running"  # only a job rewrites run.json

    with structlog.testing.capture_logs() as logs:
        run_job(config, EchoOnce, kind="scenario", objective="next", params={"word": "b"})
    said = [entry for entry in logs if "marked interrupted" in entry["event"]]
    assert len(said) == 1 and run_id in said[0]["event"]
    rewritten = manifest(config.scenario_runs_dir / run_id)
    assert rewritten["status"] == "interrupted"
    assert rewritten["interrupted_reason"] == info.interrupted_reason
    assert rewritten["finished_at"] == rewritten["heartbeat_at"]

    with structlog.testing.capture_logs() as logs:
        run_job(config, EchoOnce, kind="scenario", objective="third", params={"word": "c"})
    assert not [entry for entry in logs if "marked interrupted" in entry["event"]]


# --- nothing left open -----------------------------------------------------------------------------

JUNIT = '<testsuite name="s" tests="1"><testcase classname="c" name="t"/></testsuite>'


def _gate_project(root: Path) -> ProjectConfig:
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / "orchestrate.toml").write_text('[targets.unit]\ndriver = "command"\n')
    command = [sys.executable, "-c", f"open('junit.xml', 'w').write({JUNIT!r})"]
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(
        "default_target: unit\ntargets: {unit: unit}\nprofiles:\n  unit:\n    driver: command\n"
        f"    command: {json.dumps(command)}\n    junit: junit.xml\n    checks: [console_errors]\n"
        "    timeout_s: 60\n"
    )
    return load_config(root, env={})


def _open_databases(config: ProjectConfig) -> list[str]:
    """This process's open file descriptors on the project's events database files."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(config.events_db)):
            found.append(target)
    return found


def _open_connections() -> int:
    import gc

    count = 0
    for thing in gc.get_objects():
        if isinstance(thing, sqlite3.Connection):
            try:
                thing.total_changes  # noqa: B018 - raises on a closed connection
            except sqlite3.ProgrammingError:
                continue
            count += 1
    return count


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_two_gate_runs_leave_no_thread_and_no_database_connection(tmp_path: Path) -> None:
    config = _gate_project(tmp_path / "project")
    options = GateOptions(triage="skip", parallel=1)
    threads_before = set(threading.enumerate())
    connections_before = _open_connections()
    lines: list[str] = []

    results = [run_gate(config, options, say=lines.append) for _ in range(2)]

    # A stopped actor's thread may take a moment to return; a leaked one never does.
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=10)
    assert [t.name for t in set(threading.enumerate()) - threads_before] == []
    assert _open_databases(config) == []
    assert _open_connections() == connections_before
    assert [r.exit_code for r in results] == [0, 0], [r.summary for r in results]
    assert [r.status for r in list_runs([config.ui_runs_dir])] == ["completed", "completed"]
    assert [line.split(":")[0] for line in lines] == ["Test Runner", "Test Runner complete"] * 2
