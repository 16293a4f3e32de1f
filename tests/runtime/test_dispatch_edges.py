"""The dispatch loop's edges: late answers, work or callbacks that raise, workers that exit."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orchestrator.actors import Conductor, Delegation, Outcome, Worker, WorkerPool, run_conductor
from orchestrator.errors import RunInterruptedError
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult
from orchestrator.testing import CapturedEvents, capture_events


class SlowFirst(Worker):
    """The first attempt overall answers after ``first_s``; every later one at once."""

    worker_type = "slow-first"
    attempts: ClassVar[int] = 0
    first_s: ClassVar[float] = 0.6
    lock = threading.Lock()

    def perform(self, request: WorkRequest) -> WorkResult:
        with SlowFirst.lock:
            SlowFirst.attempts += 1
            first = SlowFirst.attempts == 1
        if first:
            # Deaf to its cancel event, like code stuck in a library call: it answers late anyway.
            threading.Event().wait(SlowFirst.first_s)
        return self.result(request, summary="answered", data={"first": first})


class Exiting(Worker):
    """Calls sys.exit for capability ``exit``, as in-process CLI code may."""

    worker_type = "exiting"

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability == "exit":
            sys.exit(2)
        return self.result(request, summary="fine")


class Scripted(Conductor):
    """Runs ``script(self)``, keeping what it returns in ``kept``."""

    script: ClassVar[Callable[[Conductor], Any]]
    kept: ClassVar[list[Any]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        Scripted.kept.append(Scripted.script(self))
        return RunOutcome(run_id=start.run_id, status="completed", summary="done")


def conduct(tmp_path: Path, script: Callable[[Conductor], Any]) -> tuple[Any, CapturedEvents]:
    Scripted.script = staticmethod(script)  # type: ignore[assignment]
    Scripted.kept = []
    with capture_events() as captured:
        run_conductor(
            Scripted, events=captured, run_id="r1", events_path=tmp_path / "events.jsonl", objective="edges"
        )
    return Scripted.kept[0], captured


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    SlowFirst.attempts, SlowFirst.first_s = 0, 0.6
    yield
    SlowFirst.attempts, SlowFirst.first_s = 0, 0.6


def test_a_late_answer_is_not_taken_for_the_retrys(tmp_path: Path) -> None:
    def script(conductor: Conductor) -> list[Outcome]:
        worker = conductor.start_worker(SlowFirst, max_restarts=1)
        return conductor.delegate_all([Delegation(worker, "go", "go")], timeout=0.3, limit=1)

    (outcome,), captured = conduct(tmp_path, script)
    # The retry answered; the first attempt's late answer was ignored, not read as the retry's.
    assert outcome.ok and outcome.result is not None and outcome.result.data == {"first": False}
    assert [p["success"] for p in captured.payloads("conductor.worker.result")] == [True]
    # The abandoned attempt added nothing to the trace after the conductor reported it.
    assert captured.types("worker.task") == [
        "worker.task.started",
        "worker.task.failed",
        "worker.task.started",
        "worker.task.completed",
    ]


def _free_after(conductor: Conductor, pool: WorkerPool) -> int:
    taken = []
    while (worker := pool.try_acquire()) is not None:
        taken.append(worker)
    for worker in taken:
        pool.release(worker)
    return len(taken)


def test_work_that_raises_frees_every_slot_and_the_pool_goes_on(tmp_path: Path) -> None:
    def work(pool: WorkerPool) -> Iterator[Delegation]:
        yield Delegation(pool, "go", "one")
        yield Delegation(pool, "go", "two")
        raise ValueError("the catalog is broken")

    def script(conductor: Conductor) -> tuple[int, list[Outcome]]:
        pool = conductor.start_pool(SlowFirst, size=2, max_restarts=0)
        with pytest.raises(ValueError, match="catalog is broken"):
            conductor.delegate_all(work(pool), timeout=5)
        free = _free_after(conductor, pool)
        again = conductor.delegate_all([Delegation(pool, "go", f"again {n}") for n in range(3)], timeout=5)
        return free, again

    (free, again), _ = conduct(tmp_path, script)
    assert free == 2
    assert [o.ok for o in again] == [True, True, True]


def test_a_callback_that_raises_frees_every_slot(tmp_path: Path) -> None:
    def refuse(outcome: Outcome) -> None:
        raise RuntimeError("the results file is full")

    def script(conductor: Conductor) -> int:
        pool = conductor.start_pool(SlowFirst, size=3, max_restarts=0)
        with pytest.raises(RuntimeError, match="results file is full"):
            conductor.delegate_all(
                [Delegation(pool, "go", f"n{n}") for n in range(6)], on_outcome=refuse, timeout=5
            )
        return _free_after(conductor, pool)

    free, _ = conduct(tmp_path, script)
    assert free == 3


def test_a_worker_that_calls_sys_exit_fails_its_task_and_no_other(tmp_path: Path) -> None:
    def script(conductor: Conductor) -> list[Outcome]:
        exiting = conductor.start_worker(Exiting, max_restarts=0)
        bystander = conductor.start_worker(SlowFirst, max_restarts=0)
        SlowFirst.attempts = 1  # answers at once
        first = conductor.delegate_all([Delegation(exiting, "exit", "exit")], timeout=10)
        second = conductor.delegate_all([Delegation(bystander, "go", "go")], timeout=10)
        return first + second

    (exited, bystander), captured = conduct(tmp_path, script)
    assert exited.failure is not None and exited.failure.kind == "raised"
    assert "SystemExit" in exited.failure.error
    assert bystander.ok
    assert captured.types()[-1] == "conductor.task.completed"


def test_a_stopped_run_frees_the_slots_of_what_was_in_flight(tmp_path: Path) -> None:
    def script(conductor: Conductor) -> int:
        pool = conductor.start_pool(SlowFirst, size=1, max_restarts=0)
        SlowFirst.first_s = 2.0
        threading.Timer(0.3, conductor.cancelled.set).start()
        try:
            with pytest.raises(RunInterruptedError):
                conductor.delegate_all([Delegation(pool, "go", "go")], timeout=30)
        finally:
            SlowFirst.first_s = 0.6
        return _free_after(conductor, pool)

    free, _ = conduct(tmp_path, script)
    assert free == 1
