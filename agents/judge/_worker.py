"""The judge as a worker actor: capability ``judge_trajectory`` over :func:`judge_trajectory`.

It declares the scenario job's :data:`~orchestrator.scenarios.JUDGE_TRAJECTORY` contract: a
:class:`~orchestrator.scenarios.JudgeRequest` (the scenario and one trajectory) in, a
:class:`~orchestrator.scenarios.JudgeDone` (the judgment) out. Any verdict, ``unjudged`` included,
is a successful judgment: the verdict is data, not a failure. Model clients (one per model a
scenario asks for) are made on first need and closed when the actor stops; each model call is
recorded through the worker's ``emit``, so its ``llm.call.*`` events carry the run's correlation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.actors import Done, Worker
from orchestrator.agents.judge._judge import judge_trajectory
from orchestrator.agents.judge._llm_judge import JudgeClients
from orchestrator.llm import LlmSection
from orchestrator.messages import WorkRequest
from orchestrator.scenarios import JUDGE_TRAJECTORY, JudgeDone, JudgeRequest

__all__ = ["TrajectoryJudge"]


class TrajectoryJudge(Worker):
    """Judges trajectories against their scenarios: rules first, the ``[llm]`` model for text criteria.

    ``llm_settings`` is the project's ``[llm]`` section; ``env`` is where the API key variable is
    read (default: the process environment).
    """

    worker_type = "trajectory-judge"
    capabilities = JUDGE_TRAJECTORY.declare()

    def __init__(
        self, *, llm_settings: LlmSection, env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._clients = JudgeClients(llm_settings, env=env)

    def handle(self, request: WorkRequest, params: JudgeRequest) -> Done[JudgeDone]:
        judgment = judge_trajectory(
            params.scenario,
            params.trajectory,
            llm=self._clients.for_scenario(params.scenario),
            emit=self.emit,
        )
        model = f", {judgment.model}" if judgment.model else ""
        summary = f"{judgment.trajectory_id}: {judgment.verdict} ({judgment.judge}{model})"
        return Done(JudgeDone(judgment=judgment), summary=summary)

    def on_stop(self) -> None:
        self._clients.close()

    def on_failure(self, *exc_info: Any) -> None:
        self._clients.close()
