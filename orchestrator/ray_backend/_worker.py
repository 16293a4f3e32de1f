"""The trajectory runner on Ray: the same ``run_trajectory`` contract, its slot a Ray actor.

:class:`RayTrajectoryRunner` stands in for :class:`~orchestrator.agents.runner.TrajectoryRunner`
in a scenario run's pool, so the conductor, the run dir, the event bus and the judge stay in the
driver process and do not know where a trajectory ran. On its first request a runner starts its
slot actor (:mod:`._actor`; ``[ray] num_cpus_per_slot`` CPUs, spread over the cluster's nodes),
then forwards each spec as JSON and gets the whole trajectory back, its events inside it. The
trajectory's ``slot`` names the node that ran it (``<runner>@ray-<node ip>-<node id>``).

Faults: when the actor dies mid-trajectory (killed, its process crashed, its node removed), the
runner starts a new actor and runs the same spec once more (the same seed, so the same chaos).
When that is lost too, the trajectory is recorded ``errored`` with both causes. Cancellation:
while waiting, the runner looks at its cancel event; when set it asks the actor to end the
trajectory, and kills the actor if it does not answer within a grace period. Stopping the runner
stops the slot and kills the actor, so no slot outlives the run.
"""

from __future__ import annotations

from typing import Any

import structlog

from orchestrator.actors import Done, Worker
from orchestrator.agents.runner import SlotSettings, slot_failure
from orchestrator.config import RaySection
from orchestrator.messages import WorkRequest
from orchestrator.ray_backend._actor import start_slot_actor
from orchestrator.ray_backend._remote import ActorLostError, CallCancelledError, RemoteActor
from orchestrator.scenarios import RUN_TRAJECTORY, Trajectory, TrajectoryDone, TrajectorySpec

__all__ = ["RayTrajectoryRunner"]

log = structlog.get_logger(__name__)


class RayTrajectoryRunner(Worker):
    """Runs trajectories on a Ray slot actor of its own (see the module docstring)."""

    worker_type = "trajectory-runner"
    capabilities = RUN_TRAJECTORY.declare()

    def __init__(self, *, settings: SlotSettings, ray: RaySection | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.ray_settings = ray or RaySection()
        self._remote = RemoteActor(
            lambda n: start_slot_actor(
                settings, self.name, name=f"{self.name}-{n}", num_cpus=self.ray_settings.num_cpus_per_slot
            ),
            what="slot actor",
            owner=self.name,
        )

    def handle(self, request: WorkRequest, params: TrajectorySpec) -> Done[TrajectoryDone]:
        trajectory = self._run(params)
        summary = f"{trajectory.id}: {trajectory.outcome.get('summary', trajectory.status)}"
        self.progress(summary, trajectory_id=trajectory.id, status=trajectory.status, slot=trajectory.slot)
        return Done(TrajectoryDone(trajectory=trajectory), summary=summary)

    def on_stop(self) -> None:
        self._remote.drop(graceful=True)

    def on_failure(self, *exc_info: Any) -> None:
        self._remote.drop(graceful=False)

    # --- running -------------------------------------------------------------------------------

    def _run(self, spec: TrajectorySpec) -> Trajectory:
        spec_json = spec.model_dump(mode="json")
        try:
            try:
                return self._attempt(spec_json)
            except ActorLostError as first:
                log.warning("slot actor lost; rerunning", trajectory=spec.trajectory_id, cause=str(first))
                self.progress(
                    f"the slot actor of {self.name} was lost ({first}); running {spec.trajectory_id} again",
                    trajectory_id=spec.trajectory_id,
                    rerun=True,
                )
                try:
                    return self._attempt(spec_json)
                except ActorLostError as second:
                    return slot_failure(
                        f"{self.name}@ray-unknown",
                        spec,
                        f"the slot actor was lost twice: first {first}; then, on a new actor, {second}",
                    )
        except CallCancelledError:
            return slot_failure(
                f"{self.name}@ray-unknown",
                spec,
                "cancelled before the slot actor answered",
                slot_failed=False,
            )

    def _attempt(self, spec_json: dict[str, Any]) -> Trajectory:
        """Run the spec on the current actor (started if needed); :class:`ActorLostError` if it dies."""
        return Trajectory.model_validate(self._remote.call(spec_json, self.cancelled))
