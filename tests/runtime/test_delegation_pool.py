"""Failures are data: every way a call fails is reported and returned; the slot pool is bounded."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orchestrator.actors import Conductor, Delegation, Outcome, Worker, run_conductor
from orchestrator.errors import ConfigError
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult
from orchestrator.testing import CapturedEvents, capture_events


class Gauge:
    """Counts requests in flight across a pool's workers, and the most seen at once."""

    lock = threading.Lock()
    now = 0
    most = 0

    @classmethod
    def reset(cls) -> None:
        cls.now = cls.most = 0

    @classmethod
    def enter(cls) -> None:
        with cls.lock:
            cls.now += 1
            cls.most = max(cls.most, cls.now)

    @classmethod
    def leave(cls) -> None:
        with cls.lock:
            cls.now -= 1


class Slot(Worker):
    """Answers ``n``; raises for every 10th n (a failed trajectory, say)."""

    worker_type = "slot"

    def perform(self, request: WorkRequest) -> WorkResult:
        Gauge.enter()
        try:
            n = int(request.params["n"])  # type: ignore[arg-type]
            if n % 10 == 9:
                raise RuntimeError(f"trajectory {n} broke")
            return self.result(request, summary=f"n={n}", data={"n": n})
        finally:
            Gauge.leave()


class Misbehaving(Worker):
    """Fails the way ``request.capability`` says."""

    worker_type = "misbehaving"

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability == "config":
            raise ConfigError("orchestrate.toml", "issues.token_env", "is not set", "set GITHUB_TOKEN")
        if request.capability == "raise":
            raise ValueError("broken")
        if request.capability == "hang":
            self.cancelled.wait(30)
        return self.result(request, summary="fine")


class DeadOnArrival(Misbehaving):
    """Dies as it starts, so whatever is sent to it is never handled."""

    def on_start(self) -> None:
        raise RuntimeError("crashed on start")


class PoolConductor(Conductor):
    outcomes: ClassVar[list[Outcome]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        mode = str(start.params["mode"])
        count = int(start.params.get("count", 0))  # type: ignore[arg-type]
        if mode == "pool":
            pool = self.start_pool(Slot, size=4, max_restarts=0)
            ok = failed = 0

            def tally(outcome: Outcome) -> None:
                nonlocal ok, failed
                ok, failed = ok + outcome.ok, failed + (outcome.failure is not None)

            work = (Delegation(pool, "step", f"trajectory {n}", {"n": n}) for n in range(count))
            kept = self.delegate_all(work, on_outcome=tally, collect=bool(start.params.get("collect")))
            PoolConductor.outcomes[:] = kept
            return RunOutcome(run_id=start.run_id, status="completed", summary=f"{ok} ok {failed} failed")
        kind = DeadOnArrival if start.params.get("dead") else Misbehaving
        worker = self.start_worker(kind, max_restarts=int(start.params.get("restarts", 0)))  # type: ignore[arg-type]
        capabilities = [str(c) for c in start.params["capabilities"]]  # type: ignore[union-attr]
        work = [Delegation(worker, c, c) for c in capabilities]
        PoolConductor.outcomes[:] = self.delegate_all(work, timeout=float(start.params.get("timeout", 10)))  # type: ignore[arg-type]
        return RunOutcome(run_id=start.run_id, status="completed", summary="batch done")


def conduct(tmp_path: Path, **params: Any) -> tuple[RunOutcome, CapturedEvents]:
    with capture_events() as captured:
        outcome = run_conductor(
            PoolConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="pool",
            params=params,
        )
    return outcome, captured


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    Gauge.reset()
    PoolConductor.outcomes.clear()
    yield
    PoolConductor.outcomes.clear()


def failure_kinds(captured: CapturedEvents) -> list[str]:
    return [p["failure_kind"] for p in captured.payloads("conductor.capability.failed")]


@pytest.mark.parametrize(
    ("capability", "kind", "extra"),
    [
        ("config", "raised", {}),
        ("raise", "raised", {}),
        ("die", "died", {"dead": True}),
        ("hang", "timeout", {"timeout": 0.3}),
        ("raise", "raised", {"restarts": 1}),
    ],
)
def test_each_way_to_fail_ends_the_call_with_its_kind(
    tmp_path: Path, capability: str, kind: str, extra: dict[str, Any]
) -> None:
    outcome, captured = conduct(tmp_path, mode="one", capabilities=[capability, "fine"], **extra)
    # The batch goes on after the failure, and the run completes.
    assert outcome.status == "completed"
    first, second = PoolConductor.outcomes
    assert first.failure is not None and first.failure.kind == kind
    assert first.result is None
    assert captured.types("conductor.worker.result") == ["conductor.worker.result"] * 2
    of_first = [e for e in captured if e.call_id == first.call_id]
    types = [e.event_type for e in of_first]
    assert types[0] == "conductor.worker.call"
    # The call ends with its result (success false), then the failure with its kind.
    assert types[-2:] == ["conductor.worker.result", "conductor.capability.failed"]
    assert of_first[-2].payload["success"] is False
    assert of_first[-1].payload["failure_kind"] == kind
    if kind == "raised":
        # A worker that raised is still there: the next request of the batch succeeds.
        assert second.ok and failure_kinds(captured) == ["raised"]
    assert first.failure.restarts == extra.get("restarts", 0)
    if capability == "config":
        assert first.failure.error_code == "config_error"
        assert "set GITHUB_TOKEN" in first.failure.error
    assert second.index == 1
    # The conductor reports the lifecycle of a worker that could not report itself.
    assert captured.types("worker.task.failed")
    assert captured.types()[-1] == "conductor.task.completed"


@pytest.mark.slow
def test_a_thousand_requests_through_four_slots(tmp_path: Path) -> None:
    outcome, captured = conduct(tmp_path, mode="pool", count=1000, collect=True)
    assert outcome.summary == "900 ok 100 failed"
    assert len(PoolConductor.outcomes) == 1000
    assert [o.index for o in PoolConductor.outcomes] == list(range(1000))
    failed = [o for o in PoolConductor.outcomes if o.failure is not None]
    assert [o.index % 10 for o in failed] == [9] * 100
    assert {o.failure.kind for o in failed if o.failure} == {"raised"}
    assert all(
        o.result is not None and o.result.data == {"n": o.index} for o in PoolConductor.outcomes if o.ok
    )
    assert 1 <= Gauge.most <= 4
    assert len(captured.payloads("conductor.capability.failed")) == 100
    assert len(captured.payloads("conductor.capability.completed")) == 900


def _peak_while_streaming(tmp_path: Path, count: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        with capture_events() as captured:
            # Events are kept by the capture: clear them as they come, so only the pool's own
            # memory is measured.
            original = captured.emit

            def emit(*args: Any, **kwargs: Any) -> None:
                original(*args, **kwargs)
                captured.clear()

            captured.emit = emit  # type: ignore[method-assign]
            run_conductor(
                PoolConductor,
                events=captured,
                run_id=f"r{count}",
                events_path=tmp_path / "events.jsonl",
                objective="pool",
                params={"mode": "pool", "count": count, "collect": False},
            )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_stays_flat_when_outcomes_stream(tmp_path: Path) -> None:
    small = _peak_while_streaming(tmp_path, 100)
    large = _peak_while_streaming(tmp_path, 1000)
    assert PoolConductor.outcomes == []
    # Ten times the requests may not need ten times the memory: streamed, nothing accumulates.
    assert large < small * 2 + 512 * 1024, (small, large)
