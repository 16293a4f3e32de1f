"""The trajectory runner: runs scenario trajectories on self-contained slots and records them.

A slot (:class:`Slot`) owns one twin server serving every twin of the run, its own system under
test when ``[sut]`` starts one (a process, or an app served in process), and its own Chromium
for ``browser:`` steps. :func:`run_trajectory` runs one
:class:`~orchestrator.scenarios.TrajectorySpec` on a slot and returns its
:class:`~orchestrator.scenarios.Trajectory`: the twins reset, the steps run, every request the
twins served, the state they ended in. :class:`TrajectoryRunner` is the worker actor offering
:data:`~orchestrator.scenarios.RUN_TRAJECTORY`, one slot per worker::

    pool = conductor.start_pool(TrajectoryRunner, size=4, settings=SlotSettings(...))
"""

from __future__ import annotations

from orchestrator.agents.runner._placeholders import Answer, PlaceholderScope, resolve_step
from orchestrator.agents.runner._settings import SUT_LOG_SUFFIX, SlotSettings
from orchestrator.agents.runner._slot import MAX_START_FAILURES, Slot
from orchestrator.agents.runner._sut import SystemUnderTest, sut_environment
from orchestrator.agents.runner._trajectory import run_trajectory, slot_failure
from orchestrator.agents.runner._worker import TrajectoryRunner

__all__ = [
    "MAX_START_FAILURES",
    "SUT_LOG_SUFFIX",
    "Answer",
    "PlaceholderScope",
    "Slot",
    "SlotSettings",
    "SystemUnderTest",
    "TrajectoryRunner",
    "resolve_step",
    "run_trajectory",
    "slot_failure",
    "sut_environment",
]
