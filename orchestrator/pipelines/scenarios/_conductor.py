"""The scenario conductor: trajectories through a pool of runner slots, then (optionally) judging.

Trajectory specs are generated lazily and handed to a pool of runner actors (one slot each)
with :meth:`~orchestrator.actors.Conductor.delegate_all`, at most one per slot at a time. Each
answer is written to its file and its events are published as it arrives, then dropped, so
memory stays flat. A delegation that fails (a runner that died, timed out or answered garbage)
is a result too: an ``errored`` trajectory naming the failure, and the batch goes on.

The judging phase works the same way over the run's trajectory files, through a pool of judge
actors, skipping trajectories already judged unless asked to judge again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from orchestrator.actors import Conductor, Delegation, Outcome, Worker
from orchestrator.agents.runner import slot_failure
from orchestrator.correlation import correlation_scope
from orchestrator.errors import OrchestrateError
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.pipelines.scenarios._files import RunFiles
from orchestrator.pipelines.scenarios._publish import publish_trajectory
from orchestrator.scenarios import (
    JUDGE_TRAJECTORY,
    RUN_TRAJECTORY,
    JudgeRequest,
    Judgment,
    Scenario,
    Trajectory,
    TrajectorySpec,
)

__all__ = ["JudgePhase", "RunPhase", "ScenarioConductor", "Tally", "errored_trajectory", "unjudged"]

log = structlog.get_logger(__name__)

_JUDGE_TIMEOUT_S = 900.0
_TRAJECTORY_GRACE_S = 60.0


@dataclass
class Tally:
    """Counts per scenario as trajectories finish and are judged (what progress displays show)."""

    planned: dict[str, int] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    errored: dict[str, int] = field(default_factory=dict)
    satisfied: dict[str, int] = field(default_factory=dict)
    unsatisfied: dict[str, int] = field(default_factory=dict)
    unjudged: dict[str, int] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)

    def add(self, counter: dict[str, int], scenario_id: str) -> None:
        counter[scenario_id] = counter.get(scenario_id, 0) + 1

    def total(self, counter: dict[str, int]) -> int:
        return sum(counter.values())


ProgressHook = Callable[[str, str, Tally], None]
"""Called on the conductor's thread with (``ran`` | ``judged``, scenario id, tally)."""


@dataclass(frozen=True)
class RunPhase:
    """The trajectories to run and the runner pool to run them on."""

    specs: Iterable[TrajectorySpec]
    runner: type[Worker]
    runner_kwargs: dict[str, Any]
    slots: int
    deadline_s: float
    """A trajectory's deadline; the runner ends a trajectory then, so a later answer means trouble."""


@dataclass(frozen=True)
class JudgePhase:
    """The trajectories to judge and the judge pool to judge them with."""

    trajectory_ids: Callable[[], list[str]]
    """Called when judging starts (after the run phase, when both run): the ids to judge."""
    scenarios: dict[str, Scenario]
    judge: type[Worker]
    judge_kwargs: dict[str, Any]
    workers: int


def _now() -> str:
    return datetime.now(UTC).isoformat()


def errored_trajectory(spec: TrajectorySpec, error: str, *, slot: str = "unknown") -> Trajectory:
    """The record of a trajectory whose runner gave no answer: errored, with the cause."""
    return slot_failure(slot, spec, f"the runner gave no answer: {error}", slot_failed=False)


def unjudged(trajectory: Trajectory, reason: str) -> Judgment:
    """The judgment of a trajectory the judge could not decide on."""
    return Judgment(
        trajectory_id=trajectory.id,
        scenario_id=trajectory.scenario_id,
        run_id=trajectory.run_id,
        verdict="unjudged",
        reasoning=reason,
        confidence=0.0,
        judge="rule",
        chaos_injected=bool(trajectory.chaos),
        trajectory_status=trajectory.status,
        judged_at=_now(),
    )


class ScenarioConductor(Conductor):
    """Runs a scenario job's phases (see the module docstring).

    Constructed (through the job runner's conductor keyword arguments) with ``files``, an
    optional ``run`` and ``judge`` phase, the ``tally`` to keep and an ``on_progress`` hook.
    """

    def __init__(
        self,
        *,
        files: RunFiles,
        run: RunPhase | None = None,
        judge: JudgePhase | None = None,
        tally: Tally | None = None,
        on_progress: ProgressHook | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.run_phase = run
        self.judge_phase = judge
        self.tally = tally or Tally()
        self.on_progress = on_progress
        self.usage: dict[str, int] = {}

    def conduct(self, start: StartRun) -> RunOutcome:
        if self.run_phase is not None:
            self._run(self.run_phase)
        if self.judge_phase is not None and not self.cancelled.is_set():
            self._judge(self.judge_phase)
        tally = self.tally
        summary = f"{tally.total(tally.finished)} trajectories ({tally.total(tally.errored)} errored)" + (
            f"; judged {tally.total(tally.judged)}: {tally.total(tally.satisfied)} satisfied, "
            f"{tally.total(tally.unsatisfied)} unsatisfied, {tally.total(tally.unjudged)} unjudged"
            if self.judge_phase is not None
            else ""
        )
        return RunOutcome(
            run_id=start.run_id,
            status="completed",
            summary=summary,
            data={"usage": self.usage},
        )

    # --- running -------------------------------------------------------------------------------

    def _run(self, phase: RunPhase) -> None:
        pool = self.start_pool(phase.runner, size=phase.slots, max_restarts=3, **phase.runner_kwargs)
        in_flight: dict[int, TrajectorySpec] = {}
        lock = threading.Lock()

        def delegations() -> Iterator[Delegation]:
            for index, spec in enumerate(phase.specs):
                with lock:
                    in_flight[index] = spec
                yield Delegation(
                    pool,
                    RUN_TRAJECTORY,
                    f"run trajectory {spec.trajectory_id} of scenario {spec.scenario.id}",
                    params=spec,
                    phase="run",
                )

        def finished(outcome: Outcome) -> None:
            with lock:
                spec = in_flight.pop(outcome.index)
            if outcome.ok:
                trajectory = outcome.done(RUN_TRAJECTORY).result.trajectory
            else:
                failure = outcome.failure
                cause = f"{failure.kind}: {failure.error}" if failure is not None else "no answer"
                trajectory = errored_trajectory(spec, cause)
            self._record(trajectory, outcome.call_id)

        self.delegate_all(
            delegations(),
            limit=phase.slots,
            timeout=self._trajectory_timeout(phase),
            on_outcome=finished,
            collect=False,
        )

    def _trajectory_timeout(self, phase: RunPhase) -> float:
        # The runner ends a trajectory at its deadline; the grace covers a slot's (re)start.
        return phase.deadline_s + _TRAJECTORY_GRACE_S

    def _record(self, trajectory: Trajectory, call_id: str) -> None:
        self.files.write_trajectory(trajectory)
        with correlation_scope(task_id=trajectory.id, call_id=call_id):
            publish_trajectory(self, trajectory)
        tally = self.tally
        tally.add(tally.finished, trajectory.scenario_id)
        if trajectory.status != "completed":
            tally.add(tally.errored, trajectory.scenario_id)
        if self.on_progress is not None:
            self.on_progress("ran", trajectory.scenario_id, tally)

    # --- judging -------------------------------------------------------------------------------

    def _judge(self, phase: JudgePhase) -> None:
        pending = phase.trajectory_ids()
        if not pending:
            return
        workers = max(1, min(phase.workers, len(pending)))
        pool = self.start_pool(phase.judge, size=workers, max_restarts=3, **phase.judge_kwargs)
        in_flight: dict[int, Trajectory] = {}
        lock = threading.Lock()

        def delegations() -> Iterator[Delegation]:
            for index, trajectory_id in enumerate(pending):
                trajectory = self.files.read_trajectory(trajectory_id)
                scenario = phase.scenarios.get(trajectory.scenario_id)
                if scenario is None:
                    self._record_judgment(
                        unjudged(trajectory, f"scenario {trajectory.scenario_id} is unknown")
                    )
                    continue
                with lock:
                    in_flight[index] = trajectory
                yield Delegation(
                    pool,
                    JUDGE_TRAJECTORY,
                    f"judge trajectory {trajectory.id}",
                    params=JudgeRequest(scenario=scenario, trajectory=trajectory),
                    phase="judge",
                )

        def judged(outcome: Outcome) -> None:
            with lock:
                trajectory = in_flight.pop(outcome.index)
            if outcome.ok:
                judgment = outcome.done(JUDGE_TRAJECTORY).result.judgment
            else:
                failure = outcome.failure
                cause = f"{failure.kind}: {failure.error}" if failure is not None else "no answer"
                judgment = unjudged(trajectory, f"the judge failed: {cause}")
            self._record_judgment(judgment)

        self.delegate_all(
            delegations(), limit=workers, timeout=_JUDGE_TIMEOUT_S, on_outcome=judged, collect=False
        )

    def _record_judgment(self, judgment: Judgment) -> None:
        try:
            self.files.write_judgment(judgment)
        except OrchestrateError as exc:
            log.error("a judgment could not be written", trajectory=judgment.trajectory_id, error=str(exc))
            raise
        for key, value in judgment.usage.items():
            self.usage[key] = self.usage.get(key, 0) + int(value)
        tally = self.tally
        scenario_id = judgment.scenario_id
        tally.add(tally.judged, scenario_id)
        counter = {
            "satisfactory": tally.satisfied,
            "unsatisfactory": tally.unsatisfied,
            "unjudged": tally.unjudged,
        }[judgment.verdict]
        tally.add(counter, scenario_id)
        if self.on_progress is not None:
            self.on_progress("judged", scenario_id, tally)
