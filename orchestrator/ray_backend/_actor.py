"""The slot actor: one :class:`~orchestrator.agents.runner.Slot` living in a Ray worker process.

:class:`SlotActor` is a plain class; :func:`start_slot_actor` starts it as a Ray actor when
Ray is there (this module imports Ray only inside functions, so it loads without the extra).
The actor builds its slot from the run's :class:`~orchestrator.agents.runner.SlotSettings`, so
the slot starts its own twins and, when configured, its own system under test on the node the
actor lands on. What crosses Ray is JSON (a spec in, a whole trajectory out, its events inside
it): nothing per event, and no pickled objects of ours whose classes might differ on a node.

The actor runs two threads (``max_concurrency=2``): one runs trajectories, the other answers
:meth:`SlotActor.cancel` and :meth:`SlotActor.node` while a trajectory runs.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from orchestrator.agents.runner import Slot, SlotSettings
from orchestrator.ray_backend._remote import start_actor
from orchestrator.scenarios import TrajectorySpec

__all__ = ["SlotActor", "start_slot_actor"]


class SlotActor:
    """A slot in a Ray worker process, named ``<slot>@ray-<node ip>-<node id>`` in its trajectories."""

    def __init__(self, settings_json: dict[str, Any], slot: str) -> None:
        self.settings = SlotSettings.model_validate(settings_json)
        self.name = f"{slot}@{self._node_label()}"
        self.slot = Slot(self.settings, name=self.name)
        self._cancelled = threading.Event()

    @staticmethod
    def _node_label() -> str:
        where = _node()
        # A slot's name ends up in file names (its system under test's log): no slashes, no colons.
        return f"ray-{where['node_ip']}-{where['node_id'][:8]}"

    def node(self) -> dict[str, Any]:
        """Where this actor runs: its node's id and IP, its process id and its slot name."""
        return {**_node(), "pid": os.getpid(), "slot": self.name}

    def run(self, spec_json: dict[str, Any]) -> dict[str, Any]:
        """Run one trajectory (a spec as JSON) and return it as JSON (see ``Slot.run``)."""
        self._cancelled = threading.Event()
        spec = TrajectorySpec.model_validate(spec_json)
        trajectory = self.slot.run(spec, cancelled=self._cancelled)
        return trajectory.model_dump(mode="json")

    def cancel(self) -> None:
        """Ask the trajectory in progress to end early (it ends ``errored`` as cancelled)."""
        self._cancelled.set()

    def stop(self) -> None:
        """Stop the slot (its browser, system under test and twins) before the actor goes."""
        self._cancelled.set()
        self.slot.stop()


def _node() -> dict[str, str]:
    import ray

    ip: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    return {"node_id": ray.get_runtime_context().get_node_id(), "node_ip": ip}


def start_slot_actor(settings: SlotSettings, slot: str, *, name: str, num_cpus: float) -> Any:
    """Start a :class:`SlotActor` on the cluster and return its handle (it starts asynchronously).

    Slot actors are spread over the nodes and never restarted by Ray: a lost actor is the
    runner's to replace, because only the runner knows which trajectory it was running.
    """
    return start_actor(SlotActor, settings.model_dump(mode="json"), slot, name=name, num_cpus=num_cpus)
