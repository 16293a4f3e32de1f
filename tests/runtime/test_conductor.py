"""Conductors: delegation events, supervision, and exactly one terminal event however a run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.actors import run_conductor
from orchestrator.errors import EscalationError
from orchestrator.events import TERMINAL_EVENT_TYPES, EventBus, EventStore
from orchestrator.messages import RunOutcome
from tests.runtime.workers import FlakyWorker, ScriptedConductor

REPO = Path(__file__).resolve().parents[2]


def run(bus: EventBus, tmp_path: Path, plan: list[list[str]], **params: Any) -> RunOutcome:
    return run_conductor(
        ScriptedConductor,
        events=bus,
        run_id="run-1",
        events_path=tmp_path / "run-1" / "events.jsonl",
        objective="test",
        params={"plan": plan, **params},  # type: ignore[dict-item]
    )


def lines(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "run-1" / "events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def assert_one_terminal_event_last(events: list[dict[str, Any]]) -> dict[str, Any]:
    terminal = [e for e in events if e["event_type"] in TERMINAL_EVENT_TYPES]
    assert len(terminal) == 1, [e["event_type"] for e in events]
    assert events[-1] is terminal[0]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return terminal[0]


def test_delegation_is_recorded_call_to_result(bus: EventBus, tmp_path: Path) -> None:
    outcome = run(bus, tmp_path, [["echo", "greet"], ["blocked", "deploy"]])
    assert outcome.status == "completed"
    assert outcome.summary == "echo do greet; needs a person"
    events = lines(tmp_path)
    types = [e["event_type"] for e in events]
    assert types == [
        "conductor.task.started",
        "conductor.worker.call",
        "worker.task.started",
        "worker.task.progress",
        "worker.task.completed",
        "conductor.worker.result",
        "conductor.capability.completed",
        "conductor.worker.call",
        "worker.task.started",
        "worker.task.completed",
        "conductor.worker.result",
        "conductor.capability.blocked",
        "conductor.task.completed",
    ]
    call = events[1]
    assert call["payload"]["worker_type"] == "echo"
    # One call_id ties the delegation, the worker's lifecycle and the outcome together.
    assert {e["call_id"] for e in events[1:7]} == {call["payload"]["call_id"]}
    assert events[2]["payload"]["call_id"] == call["payload"]["call_id"]
    assert events[11]["payload"]["reason"] == "missing token"
    assert {e["run_id"] for e in events} == {"run-1"}
    assert_one_terminal_event_last(events)


def test_worker_that_raises_is_restarted_then_succeeds(bus: EventBus, tmp_path: Path) -> None:
    FlakyWorker.failures_left = 2
    outcome = run(bus, tmp_path, [["flaky", "wobble"]], max_restarts=2)
    assert outcome.status == "completed"
    types = [e["event_type"] for e in lines(tmp_path)]
    assert types.count("worker.task.failed") == 2
    assert types.count("worker.task.started") == 3
    assert types.count("conductor.worker.call") == 1
    assert types[-2:] == ["conductor.capability.completed", "conductor.task.completed"]


def test_worker_failing_past_its_budget_escalates_and_fails_the_run(bus: EventBus, tmp_path: Path) -> None:
    FlakyWorker.failures_left = 5
    with pytest.raises(EscalationError, match="wobble on flaky failed after 1 restart"):
        run(bus, tmp_path, [["flaky", "wobble"]], max_restarts=1)
    events = lines(tmp_path)
    failed = [e for e in events if e["event_type"] == "conductor.capability.failed"]
    assert failed[0]["payload"]["failure_kind"] == "raised"
    terminal = assert_one_terminal_event_last(events)
    assert terminal["event_type"] == "conductor.task.failed"
    assert terminal["payload"]["error_code"] == "escalated"


def test_worker_that_dies_is_reported_on_its_behalf(bus: EventBus, tmp_path: Path) -> None:
    with pytest.raises(EscalationError, match="crashing"):
        run(bus, tmp_path, [["crashing", "start"]], max_restarts=1)
    events = lines(tmp_path)
    died = [e for e in events if e["event_type"] == "worker.task.failed"]
    assert len(died) == 2  # the first attempt and the one after the restart
    assert all("stopped before answering" in e["payload"]["error"] for e in died)
    capability = next(e for e in events if e["event_type"] == "conductor.capability.failed")
    assert capability["payload"]["failure_kind"] == "died"
    assert assert_one_terminal_event_last(events)["event_type"] == "conductor.task.failed"


def test_a_run_leaves_no_threads_behind(bus: EventBus, tmp_path: Path) -> None:
    before = threading.active_count()
    FlakyWorker.failures_left = 1
    run(bus, tmp_path, [["echo", "a"], ["flaky", "b"], ["blocked", "c"]], max_restarts=1)
    assert threading.active_count() == before


def test_events_query_and_index_agree_with_the_file(bus: EventBus, tmp_path: Path) -> None:
    run(bus, tmp_path, [["echo", "a"]])
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        indexed = [e.model_dump() for e in store.query(run_id="run-1", limit=None)]
        row = store.run("run-1")
    assert indexed == lines(tmp_path)
    assert row is not None
    assert (row.status, row.event_count) == ("completed", len(indexed))


SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from orchestrator.actors import Conductor, run_conductor
    from orchestrator.events import EventBus
    from orchestrator.messages import RunOutcome
    from tests.runtime.workers import BlockingWorker

    started = threading.Event()

    class Waiting(Conductor):
        def conduct(self, start):
            worker = self.start_worker(BlockingWorker, started=started, max_restarts=0)
            self.delegate(worker, "wait", "wait for a signal", timeout=60)
            return RunOutcome(run_id=start.run_id, status="completed", summary="not reached")

    def announce():
        started.wait(30)
        print("ready", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    root = Path(sys.argv[1])
    bus = EventBus(root / "events.db")
    try:
        run_conductor(Waiting, events=bus, run_id="run-1", events_path=root / "run-1" / "events.jsonl",
                      objective="wait")
    except Exception as exc:
        print(f"ended: {type(exc).__name__}", flush=True)
        bus.stop()
        sys.exit(exc.exit_code)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("times", [1, 3])
def test_signal_ends_the_run_with_one_failed_terminal_event(tmp_path: Path, signum: int, times: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    for _ in range(times):  # an impatient user: the later signals are ignored while it stops
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert "ended: RunInterruptedError" in out, err
    # 128 + the signal, as a shell reports it: 130 for SIGINT, 143 for SIGTERM.
    assert proc.returncode == 128 + signum
    events = lines(tmp_path)
    terminal = assert_one_terminal_event_last(events)
    assert terminal["event_type"] == "conductor.task.failed"
    assert terminal["payload"]["error_code"] == "interrupted"
    assert signal.Signals(signum).name in terminal["payload"]["error_message"]
