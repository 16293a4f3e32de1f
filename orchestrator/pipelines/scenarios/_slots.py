"""What every runner slot of a run is built from, taken from the project's settings and the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.agents.runner import SlotSettings
from orchestrator.config import ProjectConfig
from orchestrator.pipelines.scenarios._plan import RunPlan
from orchestrator.twins import load_chaos_profiles

__all__ = ["SLOTS_DIR", "runner_kwargs"]

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
    )
    return {"settings": settings}
