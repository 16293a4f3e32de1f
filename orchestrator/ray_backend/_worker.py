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
from orchestrator.ray_backend._init import import_ray
from orchestrator.scenarios import RUN_TRAJECTORY, Trajectory, TrajectoryDone, TrajectorySpec

__all__ = ["RayTrajectoryRunner"]

log = structlog.get_logger(__name__)

_POLL_S = 0.2
"""How often a runner waiting on its actor looks at its cancel event."""
_CANCEL_GRACE_S = 10.0
"""How long a cancelled trajectory may take to end before its actor is killed."""
_STOP_GRACE_S = 15.0
"""How long a slot may take to stop its system under test and twins before its actor is killed."""


class _ActorLostError(Exception):
    """The slot actor died before answering (private: caught in this module)."""


class _CancelledError(Exception):
    """The runner was cancelled and its actor did not end the trajectory in time (private)."""


class RayTrajectoryRunner(Worker):
    """Runs trajectories on a Ray slot actor of its own (see the module docstring)."""

    worker_type = "trajectory-runner"
    capabilities = RUN_TRAJECTORY.declare()

    def __init__(self, *, settings: SlotSettings, ray: RaySection | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.ray_settings = ray or RaySection()
        self._actor: Any = None
        self._actors_started = 0

    def handle(self, request: WorkRequest, params: TrajectorySpec) -> Done[TrajectoryDone]:
        trajectory = self._run(params)
        summary = f"{trajectory.id}: {trajectory.outcome.get('summary', trajectory.status)}"
        self.progress(summary, trajectory_id=trajectory.id, status=trajectory.status, slot=trajectory.slot)
        return Done(TrajectoryDone(trajectory=trajectory), summary=summary)

    def on_stop(self) -> None:
        self._drop_actor(graceful=True)

    def on_failure(self, *exc_info: Any) -> None:
        self._drop_actor(graceful=False)

    # --- running -------------------------------------------------------------------------------

    def _run(self, spec: TrajectorySpec) -> Trajectory:
        spec_json = spec.model_dump(mode="json")
        try:
            try:
                return self._attempt(spec_json)
            except _ActorLostError as first:
                log.warning("slot actor lost; rerunning", trajectory=spec.trajectory_id, cause=str(first))
                self.progress(
                    f"the slot actor of {self.name} was lost ({first}); running {spec.trajectory_id} again",
                    trajectory_id=spec.trajectory_id,
                    rerun=True,
                )
                try:
                    return self._attempt(spec_json)
                except _ActorLostError as second:
                    return slot_failure(
                        f"{self.name}@ray-unknown",
                        spec,
                        f"the slot actor was lost twice: first {first}; then, on a new actor, {second}",
                    )
        except _CancelledError:
            return slot_failure(
                f"{self.name}@ray-unknown",
                spec,
                "cancelled before the slot actor answered",
                slot_failed=False,
            )

    def _attempt(self, spec_json: dict[str, Any]) -> Trajectory:
        """Run the spec on the current actor (started if needed); :class:`_ActorLostError` if it dies."""
        ray = import_ray()
        actor = self._ensure_actor()
        reference = actor.run.remote(spec_json)
        while not ray.wait([reference], timeout=_POLL_S)[0]:
            if self.cancelled.is_set():
                actor.cancel.remote()
                if not ray.wait([reference], timeout=_CANCEL_GRACE_S)[0]:
                    self._drop_actor(graceful=False)
                    raise _CancelledError
                break
        try:
            answer = ray.get(reference)
        except (
            ray.exceptions.RayActorError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            self._drop_actor(graceful=False)
            raise _ActorLostError(f"{type(exc).__name__}: {_first_line(exc)}") from None
        return Trajectory.model_validate(answer)

    def _ensure_actor(self) -> Any:
        if self._actor is None:
            self._actors_started += 1
            self._actor = start_slot_actor(
                self.settings,
                self.name,
                name=f"{self.name}-{self._actors_started}",
                num_cpus=self.ray_settings.num_cpus_per_slot,
            )
        return self._actor

    def _drop_actor(self, *, graceful: bool) -> None:
        """Stop the slot (when ``graceful`` and the actor still answers), then kill the actor."""
        actor, self._actor = self._actor, None
        if actor is None:
            return
        ray = import_ray()
        if graceful:
            try:
                ray.wait([actor.stop.remote()], timeout=_STOP_GRACE_S)
            except ray.exceptions.RayError as exc:
                log.debug("slot actor did not stop cleanly", worker=self.name, error=str(exc))
        try:
            ray.kill(actor, no_restart=True)
        except ray.exceptions.RayError as exc:
            log.debug("slot actor could not be killed (gone already)", worker=self.name, error=str(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"
