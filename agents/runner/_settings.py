"""What every slot of a run is built from: one frozen settings object, the same for every runner.

A pool of runners is started with one :class:`SlotSettings` (``start_pool(TrajectoryRunner,
size=N, settings=...)``); each runner builds its own slot from it, so slots differ only in what
the OS gives them (ports, processes), never in configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.config import SutSection
from orchestrator.policy.chaos import ChaosConfig

__all__ = ["SUT_LOG_SUFFIX", "SlotSettings"]

SUT_LOG_SUFFIX = "-sut.log"
"""A started system under test writes its output to ``<log_dir>/<slot name>-sut.log``."""


class SlotSettings(BaseModel):
    """How to build a slot: the project, its ``[sut]``, the twins to serve, where SUT output goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_root: Path = Field(description="The project: its twins, chaos profiles and the SUT's cwd.")
    sut: SutSection = Field(default_factory=SutSection, description="The project's [sut] section.")
    twins: tuple[str, ...] = Field(
        default=(), description="Every twin a slot serves: the union of the scenarios' services."
    )
    twins_dir: Path | None = Field(
        default=None, description="Where project twins live (default: .scenarios/twins of the project)."
    )
    chaos_profiles: dict[str, ChaosConfig] | None = Field(
        default=None, description="Profiles the twins know by name (default: the project's policy)."
    )
    log_dir: Path = Field(description="Where a started system under test writes its output.")
    trajectory_timeout_s: float | None = Field(
        default=None, gt=0, description="An upper bound on every spec's own deadline_s."
    )
    config_file: Path | None = Field(default=None, description="Named in configuration errors.")
    twin_start_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait for the twins.")
    browser_action_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait of one browser action (a click, a fill, a wait)."
    )
    otlp_intake: bool = Field(
        default=False, description="Take the SUT's own OTLP spans into its trajectories ([telemetry] intake)."
    )
