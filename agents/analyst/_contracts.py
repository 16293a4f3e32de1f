"""The analyst's capability contract: what the improvement loop hands the analyst, and what it gets back.

``analyse_iteration`` (:data:`ANALYSE_ITERATION`): an :class:`AnalysisRequest` (one iteration's
step outcomes, the earlier iterations, the settings and each scenario's brief) in, an
:class:`AnalysisDone` (the analysis, who made it and, for a model, its usage) out. The request is
self-contained, so the same request gives the same rule analysis wherever it is answered.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from orchestrator.actors import Capability, ContractModel
from orchestrator.agents.analyst._model import Analysis, AnalystSettings, IterationHistory, StepOutcome

__all__ = ["ANALYSE_ITERATION", "AnalysisDone", "AnalysisRequest"]


class AnalysisRequest(ContractModel):
    """One iteration of the improvement loop, to be analysed."""

    pack_id: str
    iteration: int = Field(ge=1)
    outcomes: list[StepOutcome]
    history: list[IterationHistory] = []
    """The earlier iterations, with the coder run that followed each."""
    settings: AnalystSettings = AnalystSettings()
    briefs: dict[str, str] = {}
    """Scenario id to its brief: what the scenario is about, context for a model."""


class AnalysisDone(ContractModel):
    """The analysis, and how it was made: by the rules, or by a model (and which one)."""

    analysis: Analysis
    analyst: Literal["rule", "llm"]
    model: str | None = None
    """The model that judged the score; None for a rule analysis."""
    fallback: str | None = None
    """Why a model's analysis was replaced by the rule analysis, when it was."""
    usage: dict[str, int] = {}
    """The model's token usage (input, output, cached input and total tokens); empty for rules."""


ANALYSE_ITERATION = Capability("analyse_iteration", AnalysisRequest, AnalysisDone)
