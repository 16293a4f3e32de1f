"""The rule-based analyst of the improvement loop: a score, a backlog and when to stop for the user.

It reads the outcome of every step of one iteration (:class:`StepOutcome`, with each expectation
checked as an :class:`ExpectationResult`), the earlier iterations (:class:`IterationHistory`) and
its settings, and gives an :class:`Analysis`, the ``analysis.json`` document::

    from orchestrator.agents.analyst import analyse, write_analysis

    analysis = analyse(outcomes, history=history, settings=AnalystSettings(allowed_paths=["src/**"]))
    write_analysis(analysis, iteration_dir)      # analysis.json and backlog.md

**Score** (0-100): each step earns a credit: ``accepted`` 1, ``partial`` the fraction of its
expectations met, ``needs_exact_capability`` 0.25 times that fraction, ``blocked`` 0 (the
fraction is 0 for a step without expectations). The score is 100 times the mean credit, rounded
half up; a run without steps scores 0. The formula is written into every analysis (:data:`FORMULA`).

**Backlog**: one item per unmet expectation (its category; the suggested change by category:
route "add or fix the capability/route named ...", evidence "cite the sources the answer used",
presentation "present the answer as ..."), one route item per blocked step (its error), and one
route item per ``needs_exact_capability`` step without an unmet route expectation (naming the
capability from its error or details). Route items come first, then evidence, then presentation;
within a category by scenario, then step.

**User decision**: the first that applies: a ``decision: true`` step that is not accepted; the
last ``stall_limit`` coder runs did not raise the score; the score fell after the last coder run;
the last coder run changed files outside ``allowed_paths``.

**As a worker and with a model**: the :class:`Analyst` actor offers the ``analyse_iteration``
capability (:data:`ANALYSE_ITERATION`: an :class:`AnalysisRequest` in, an :class:`AnalysisDone`
out). With a model configured in ``[llm]`` it asks the LLM analyst (:func:`llm_analyse`), which
judges the score and the backlog while the facts stay the rules': counts from the outcomes, no
item for a step that did not run, and every decision the rules require kept (see
:func:`settle_answer`). In ``auto`` mode a failed model call falls back to the rules, saying why.
"""

from __future__ import annotations

from orchestrator.agents.analyst._contracts import ANALYSE_ITERATION, AnalysisDone, AnalysisRequest
from orchestrator.agents.analyst._llm import (
    PROMPT_VERSION,
    AnalystAnswer,
    analysis_prompt,
    analyst_system_prompt,
    llm_analyse,
    settle_answer,
)
from orchestrator.agents.analyst._model import (
    SCHEMA_VERSION,
    Analysis,
    AnalystSettings,
    BacklogItem,
    ExpectationResult,
    IterationHistory,
    StatusCounts,
    StepOutcome,
)
from orchestrator.agents.analyst._rules import (
    FORMULA,
    analyse,
    build_backlog,
    count_statuses,
    decision_reason,
    outside_allowed,
    score,
    step_credit,
)
from orchestrator.agents.analyst._worker import Analyst, AnalystMode
from orchestrator.agents.analyst._write import ANALYSIS_FILE, BACKLOG_FILE, backlog_markdown, write_analysis

__all__ = [
    "ANALYSE_ITERATION",
    "ANALYSIS_FILE",
    "BACKLOG_FILE",
    "FORMULA",
    "PROMPT_VERSION",
    "SCHEMA_VERSION",
    "Analysis",
    "AnalysisDone",
    "AnalysisRequest",
    "Analyst",
    "AnalystAnswer",
    "AnalystMode",
    "AnalystSettings",
    "BacklogItem",
    "ExpectationResult",
    "IterationHistory",
    "StatusCounts",
    "StepOutcome",
    "analyse",
    "analysis_prompt",
    "analyst_system_prompt",
    "backlog_markdown",
    "build_backlog",
    "count_statuses",
    "decision_reason",
    "llm_analyse",
    "outside_allowed",
    "score",
    "settle_answer",
    "step_credit",
    "write_analysis",
]
