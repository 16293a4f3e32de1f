"""Workers and conductors used by the runtime tests (real actors, nothing mocked)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest

from orchestrator.actors import Conductor, Worker
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult


class EchoWorker(Worker):
    worker_type = "echo"

    def perform(self, request: WorkRequest) -> WorkResult:
        self.progress("echoing")
        return self.result(request, summary=f"echo {request.objective}", data={"params": request.params})


class FailingWorker(Worker):
    worker_type = "failing"

    def perform(self, request: WorkRequest) -> WorkResult:
        raise ValueError(f"cannot {request.objective}")


class FlakyWorker(Worker):
    """Fails while ``failures_left`` (shared across restarts) is positive, then succeeds."""

    worker_type = "flaky"
    failures_left: ClassVar[int] = 0

    def perform(self, request: WorkRequest) -> WorkResult:
        if FlakyWorker.failures_left > 0:
            FlakyWorker.failures_left -= 1
            raise RuntimeError("flaked")
        return self.result(request, summary="worked")


class CrashOnStartWorker(Worker):
    """Dies as soon as it starts, so whatever is sent to it is never handled."""

    worker_type = "crashing"

    def on_start(self) -> None:
        raise RuntimeError("crashed on start")

    def perform(self, request: WorkRequest) -> WorkResult:  # pragma: no cover - never reached
        return self.result(request, summary="unreachable")


class BlockingWorker(Worker):
    """Waits until the run is cancelled (or ``release`` is set); announces that it started."""

    worker_type = "blocking"

    def __init__(self, *, started: threading.Event, release: threading.Event | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._started = started
        self._release = release or threading.Event()

    def perform(self, request: WorkRequest) -> WorkResult:
        self._started.set()
        while not (self.cancelled.is_set() or self._release.is_set()):
            self.cancelled.wait(0.05)
        return self.result(request, summary="released")


class BlockedWorker(Worker):
    worker_type = "blocked"

    def perform(self, request: WorkRequest) -> WorkResult:
        return self.result(request, success=False, summary="needs a person", blocked_reason="missing token")


class ScriptedConductor(Conductor):
    """Runs the plan in ``start.params["plan"]``: a list of [worker kind, capability] pairs."""

    kinds: ClassVar[dict[str, type[Worker]]] = {
        "echo": EchoWorker,
        "failing": FailingWorker,
        "flaky": FlakyWorker,
        "crashing": CrashOnStartWorker,
        "blocked": BlockedWorker,
    }

    def conduct(self, start: StartRun) -> RunOutcome:
        plan = start.params["plan"]
        assert isinstance(plan, list)
        restarts = start.params.get("max_restarts", 0)
        assert isinstance(restarts, int)
        summaries = []
        for kind, capability in plan:  # type: ignore[misc]
            worker = self.start_worker(self.kinds[str(kind)], max_restarts=restarts)
            result = self.delegate(worker, str(capability), f"do {capability}", timeout=10)
            summaries.append(result.summary)
        return RunOutcome(run_id=start.run_id, status="completed", summary="; ".join(summaries))


@pytest.fixture(autouse=True)
def _reset_flaky() -> None:
    FlakyWorker.failures_left = 0
