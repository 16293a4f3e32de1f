"""The scenario job's capability contracts: what crosses between its conductor and its workers.

- ``run_trajectory`` (:data:`RUN_TRAJECTORY`): a :class:`TrajectorySpec` in, a
  :class:`TrajectoryDone` out; offered by the trajectory runner, which owns one slot (its own
  twins and, when configured, its own system under test). A spec is self-contained (the
  scenario, the seed, the resolved chaos), so a slot can run anywhere.
- ``judge_trajectory`` (:data:`JUDGE_TRAJECTORY`): a :class:`JudgeRequest` in, a
  :class:`JudgeDone` out; offered by the judge.
"""

from __future__ import annotations

from pydantic import Field

from orchestrator.actors import Capability, ContractModel
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.scenarios._judgment import Judgment
from orchestrator.scenarios._model import Scenario
from orchestrator.scenarios._trajectory import Trajectory

__all__ = [
    "JUDGE_TRAJECTORY",
    "RUN_TRAJECTORY",
    "JudgeDone",
    "JudgeRequest",
    "TrajectoryDone",
    "TrajectorySpec",
]


class TrajectorySpec(ContractModel):
    """One trajectory to run: which scenario, which index and seed, under which chaos."""

    run_id: str
    trajectory_id: str
    index: int = Field(ge=1)
    seed: int
    scenario: Scenario
    chaos: ChaosConfig | None = None
    chaos_profile: str | None = Field(default=None, description="How the chaos was named, for the record.")
    deadline_s: float = Field(default=120.0, gt=0)


class TrajectoryDone(ContractModel):
    """The trajectory as it ran (errored and timed-out ones too: a failure is a result)."""

    trajectory: Trajectory


class JudgeRequest(ContractModel):
    """A trajectory and its scenario, to be judged."""

    scenario: Scenario
    trajectory: Trajectory


class JudgeDone(ContractModel):
    judgment: Judgment


RUN_TRAJECTORY = Capability("run_trajectory", TrajectorySpec, TrajectoryDone)
JUDGE_TRAJECTORY = Capability("judge_trajectory", JudgeRequest, JudgeDone)
