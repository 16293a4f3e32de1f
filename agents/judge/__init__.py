"""The scenario judge: whether one trajectory would satisfy its scenario's user, and why.

Structured criteria and anti-patterns (``twin_state``, ``api_call``, ``step``) are checked by
rules over the trajectory file alone (:func:`check_criterion`); text ones are decided by the
configured language model, told which failures chaos injected so that graceful handling is
never held against the system. :func:`judge_trajectory` gives the :class:`~orchestrator.scenarios.Judgment`;
the :class:`TrajectoryJudge` worker offers it as the ``judge_trajectory`` capability::

    from orchestrator.agents.judge import JudgeClients, judge_trajectory

    with JudgeClients(config.llm) as clients:
        judgment = judge_trajectory(scenario, trajectory, llm=clients.for_scenario(scenario))
"""

from __future__ import annotations

from orchestrator.agents.judge._judge import MODEL_HINT, judge_trajectory
from orchestrator.agents.judge._llm_judge import (
    PROMPT_LIMIT,
    PROMPT_VERSION,
    AntiPatternDecision,
    CriterionDecision,
    JudgeAnswer,
    JudgeClients,
    answer_model,
    ask_model,
    judge_prompt,
    system_prompt,
)
from orchestrator.agents.judge._rules import (
    RuleResult,
    check_api_calls,
    check_criterion,
    check_step,
    check_twin_state,
)
from orchestrator.agents.judge._worker import TrajectoryJudge

__all__ = [
    "MODEL_HINT",
    "PROMPT_LIMIT",
    "PROMPT_VERSION",
    "AntiPatternDecision",
    "CriterionDecision",
    "JudgeAnswer",
    "JudgeClients",
    "RuleResult",
    "TrajectoryJudge",
    "answer_model",
    "ask_model",
    "check_api_calls",
    "check_criterion",
    "check_step",
    "check_twin_state",
    "judge_prompt",
    "judge_trajectory",
    "system_prompt",
]
