"""The runner actor: a pool of slots behind RUN_TRAJECTORY; every trajectory is an answer; nothing is left."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from orchestrator.actors import Conductor, Delegation, Outcome, run_conductor
from orchestrator.agents.runner import SlotSettings, TrajectoryRunner
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.scenarios import RUN_TRAJECTORY, Trajectory, TrajectorySpec
from orchestrator.testing import capture_events
from tests.scenarios.runner_support import scenario, slot_settings, spec


class RunnerConductor(Conductor):
    """Runs the given specs on a pool of two runners and keeps the outcomes."""

    def __init__(
        self, *, settings: SlotSettings, specs: list[TrajectorySpec], kept: list[Outcome], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.specs = specs
        self.kept = kept

    def conduct(self, start: StartRun) -> RunOutcome:
        pool = self.start_pool(TrajectoryRunner, size=2, settings=self.settings)
        work = [
            Delegation(pool, RUN_TRAJECTORY, f"run trajectory {item.trajectory_id}", params=item)
            for item in self.specs
        ]
        self.kept.extend(self.delegate_all(work, timeout=60))
        return RunOutcome(run_id=start.run_id, status="completed", summary=f"{len(self.kept)} trajectories")


def test_a_pool_of_runners_runs_every_spec_and_leaves_nothing_running(tmp_path: Path) -> None:
    steps = [
        {"id": "make", "user": "create Pooled"},
        {"id": "one", "twin": {"service": "jira", "assert": {"path": "$.issues[*]", "count": 1}}},
    ]
    broken = [{"id": "bad", "user": "{{nothing.json.here}}"}]
    specs = [spec(scenario(steps), index=index) for index in range(1, 6)]
    specs.append(spec(scenario(broken, id="runner-broken"), index=1))
    kept: list[Outcome] = []
    threads_before = set(threading.enumerate())

    with capture_events() as captured:
        outcome = run_conductor(
            RunnerConductor,
            events=captured,
            run_id="run-1",
            events_path=tmp_path / "events.jsonl",
            objective="run trajectories",
            settings=slot_settings(tmp_path),
            specs=specs,
            kept=kept,
        )

    assert outcome.status == "completed"
    assert [item.ok for item in kept] == [True] * 6  # an errored trajectory is an answer, not a failure
    trajectories: list[Trajectory] = [item.done(RUN_TRAJECTORY).result.trajectory for item in kept]
    assert [t.id for t in trajectories] == [s.trajectory_id for s in specs]
    assert [t.status for t in trajectories] == ["completed"] * 5 + ["errored"]
    # Each slot resets its twins: every trajectory created its own OPS-1, whichever slot ran it.
    assert all(t.steps[0].text == "Created OPS-1" and t.steps[1].status == "passed" for t in trajectories[:5])
    slots = {t.slot for t in trajectories}
    assert len(slots) == 2 and all(name.startswith("trajectory-runner-") for name in slots)
    # Progress once per trajectory, not per step.
    progress = captured.payloads("worker.task.progress")
    assert len(progress) == 6 and {p["trajectory_id"] for p in progress} == {s.trajectory_id for s in specs}
    assert captured.types()[-1] == "conductor.task.completed"

    leftover = set(threading.enumerate()) - threads_before
    for thread in leftover:
        thread.join(10)
    assert [thread.name for thread in leftover if thread.is_alive()] == []
