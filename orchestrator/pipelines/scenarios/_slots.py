"""What every runner slot of a run is built from, taken from the project's settings and the plan.

:func:`runner_class` picks the runner of the pool: the local :class:`TrajectoryRunner`, or on
``--backend ray`` the Ray backend's runner (the same contract, its slot a Ray actor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.actors import Worker
from orchestrator.agents.runner import SlotSettings, TrajectoryRunner
from orchestrator.config import ProjectConfig
from orchestrator.pipelines.scenarios._files import RunFiles
from orchestrator.pipelines.scenarios._plan import RunOptions, RunPlan
from orchestrator.twins import load_chaos_profiles

__all__ = ["SLOTS_DIR", "runner_class", "runner_kwargs", "slot_nodes"]

SLOTS_DIR = "slots"
"""Under the run dir: each started system under test's output, ``<slot>-sut.log``."""


def runner_kwargs(config: ProjectConfig, plan: RunPlan, run_dir: Path) -> dict[str, Any]:
    """The keyword arguments every runner of the pool gets (one :class:`SlotSettings`)."""
    settings = SlotSettings(
        project_root=config.root,
        sut=config.sut,
        twins=tuple(plan.twins),
        twins_dir=config.scenarios_dir / "twins",
        chaos_profiles=load_chaos_profiles(config.root),
        log_dir=run_dir / SLOTS_DIR,
        trajectory_timeout_s=plan.deadline_s,
        config_file=config.config_file,
        otlp_intake=config.telemetry.intake,
    )
    return {"settings": settings}


def runner_class(config: ProjectConfig, options: RunOptions) -> tuple[type[Worker], dict[str, Any]]:
    """The runner of the pool and its keyword arguments beyond :func:`runner_kwargs`.

    On the Ray backend this connects to Ray first, so a missing extra or an unreachable cluster
    is a :class:`~orchestrator.errors.UsageError` before a run dir exists.
    """
    if options.backend != "ray":
        return TrajectoryRunner, {}
    from orchestrator.ray_backend import RayTrajectoryRunner, check_capacity, ensure_ray

    section = config.ray
    if options.ray_address is not None:
        section = section.model_copy(update={"address": options.ray_address})
    ensure_ray(section.address)
    check_capacity(options.parallel or config.scenarios.parallel, section)
    return RayTrajectoryRunner, {"ray": section}


def slot_nodes(files: RunFiles) -> dict[str, list[str]]:
    """Which node ran which trajectories: a Ray slot's name ends with ``@<node>``."""
    nodes: dict[str, list[str]] = {}
    for trajectory_id in files.trajectory_ids():
        slot = files.read_trajectory(trajectory_id).slot
        nodes.setdefault(slot.rpartition("@")[2] if "@" in slot else "local", []).append(trajectory_id)
    return nodes
