"""The trajectory runner as a worker actor: capability ``run_trajectory`` over :func:`run_trajectory`.

It declares the scenario job's :data:`~orchestrator.scenarios.RUN_TRAJECTORY` contract: a
:class:`~orchestrator.scenarios.TrajectorySpec` in, a :class:`~orchestrator.scenarios.TrajectoryDone`
out. Every runner of a pool is built with the same :class:`SlotSettings` and owns one slot (its
own twins, system under test and browser), started on its first request and stopped with the
actor. Every trajectory, an errored or timed-out one too, is a successful answer: the
trajectory's status is data, not a failure of the runner.
"""

from __future__ import annotations

from typing import Any

from orchestrator.actors import Done, Worker
from orchestrator.agents.runner._settings import SlotSettings
from orchestrator.agents.runner._slot import Slot
from orchestrator.messages import WorkRequest
from orchestrator.scenarios import RUN_TRAJECTORY, TrajectoryDone, TrajectorySpec

__all__ = ["TrajectoryRunner"]


class TrajectoryRunner(Worker):
    """Runs trajectories on a slot of its own; the slot is named after the worker."""

    worker_type = "trajectory-runner"
    capabilities = RUN_TRAJECTORY.declare()

    def __init__(self, *, settings: SlotSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.slot = Slot(settings, name=self.name)

    def handle(self, request: WorkRequest, params: TrajectorySpec) -> Done[TrajectoryDone]:
        trajectory = self.slot.run(params, cancelled=self.cancelled)
        summary = f"{trajectory.id}: {trajectory.outcome.get('summary', trajectory.status)}"
        self.progress(summary, trajectory_id=trajectory.id, status=trajectory.status)
        return Done(TrajectoryDone(trajectory=trajectory), summary=summary)

    def on_stop(self) -> None:
        self.slot.stop()

    def on_failure(self, *exc_info: Any) -> None:
        self.slot.stop()
