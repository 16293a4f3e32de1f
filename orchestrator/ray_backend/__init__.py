"""The Ray backend: scenario slots as Ray actors on a cluster (``--backend ray``).

:class:`RayTrajectoryRunner` offers the scenario job's ``run_trajectory`` contract like the local
runner, so a run on Ray differs from a local one only in the runner class of its pool: the run
dir, the event bus and the judge stay in the driver process, and each slot (its twins and its
system under test) runs in a Ray actor on whichever node it lands on. :class:`RayDomainRunner`
does the same for a pack's ``run_domain_scenario`` requests (``pack --backend ray``).
:func:`ensure_ray` connects the process to Ray once; Ray is an optional extra, and without it
``ensure_ray`` raises a :class:`~orchestrator.errors.UsageError` that says
``pip install 'orchestrate[ray]'``.
"""

from __future__ import annotations

from orchestrator.ray_backend._actor import SlotActor, start_slot_actor
from orchestrator.ray_backend._domain import (
    DomainActor,
    RayDomainRunner,
    start_domain_actor,
)
from orchestrator.ray_backend._init import INSTALL_HINT, check_capacity, ensure_ray, import_ray
from orchestrator.ray_backend._worker import RayTrajectoryRunner

__all__ = [
    "INSTALL_HINT",
    "DomainActor",
    "RayDomainRunner",
    "RayTrajectoryRunner",
    "SlotActor",
    "check_capacity",
    "ensure_ray",
    "import_ray",
    "start_domain_actor",
    "start_slot_actor",
]
