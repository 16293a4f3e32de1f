"""The analyst as a worker actor: capability ``analyse_iteration`` over the rule or the LLM analyst.

It declares :data:`~orchestrator.agents.analyst.ANALYSE_ITERATION`: an
:class:`~orchestrator.agents.analyst.AnalysisRequest` in, an
:class:`~orchestrator.agents.analyst.AnalysisDone` out. Which analyst answers is the ``mode``:

- ``auto`` (default): the LLM analyst when ``[llm]`` names a model, else the rules. When the
  model call fails (refused, out of retries, an answer invalid twice), the rule analysis
  answers instead, with ``fallback`` saying why, and a warning is logged: the loop goes on.
- ``rules``: always the rule analyst; no model is asked.
- ``llm``: always the LLM analyst; a model must be configured (checked when the actor is made),
  and a failed model call fails the delegation, which the conductor reports as data.

The model client is made once, with the actor, and closed when the actor stops; each model call
is recorded through the worker's ``emit``, so its ``llm.call.*`` events carry the run's correlation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import structlog

from orchestrator.actors import Done, Worker
from orchestrator.agents.analyst._contracts import ANALYSE_ITERATION, AnalysisDone, AnalysisRequest
from orchestrator.agents.analyst._llm import llm_analyse
from orchestrator.agents.analyst._model import Analysis
from orchestrator.agents.analyst._rules import analyse
from orchestrator.llm import LlmClient, LlmError, LlmNotConfiguredError, LlmSection
from orchestrator.messages import WorkRequest

__all__ = ["Analyst", "AnalystMode"]

AnalystMode = Literal["auto", "rules", "llm"]
"""Which analyst answers: ``auto`` (the model when configured), ``rules`` or ``llm``."""

_log = structlog.get_logger(__name__)

_NO_MODEL = (
    "the analyst mode is llm, but no language model is configured. Fix: set `model` in "
    'orchestrate.toml\'s [llm] section (for example model = "gpt-4o-mini"), or use the analyst '
    "mode auto (the model when one is configured, else the rules) or rules"
)


class Analyst(Worker):
    """Analyses iterations of the improvement loop: a score, a backlog and whether the user must decide.

    ``llm_settings`` is the project's ``[llm]`` section; ``mode`` picks the analyst (see the
    module docstring); ``env`` is where the API key variable is read (default: the process
    environment). ``mode="llm"`` without a model raises
    :class:`~orchestrator.llm.LlmNotConfiguredError` here, before any work is taken.
    """

    worker_type = "analyst"
    capabilities = ANALYSE_ITERATION.declare()

    def __init__(
        self,
        *,
        llm_settings: LlmSection,
        mode: AnalystMode = "auto",
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in ("auto", "rules", "llm"):
            raise ValueError(f"analyst mode must be auto, rules or llm, not {mode!r}")
        if mode == "llm" and llm_settings.model is None:
            raise LlmNotConfiguredError(_NO_MODEL)
        super().__init__(**kwargs)
        self.mode: AnalystMode = mode
        use_model = mode == "llm" or (mode == "auto" and llm_settings.model is not None)
        self._llm = LlmClient(llm_settings, env=env) if use_model else None

    def started_details(self, request: WorkRequest) -> dict[str, Any]:
        return {"model_used": self._llm.model} if self._llm is not None else {}

    def handle(self, request: WorkRequest, params: AnalysisRequest) -> Done[AnalysisDone]:
        done = self._analyse(params)
        analysis = done.analysis
        decision = ", the user must decide" if analysis.requires_user_decision else ""
        if done.model:
            by = f"llm, {done.model}"
        else:
            by = "rule, after the model failed" if done.fallback else "rule"
        summary = (
            f"iteration {params.iteration} of {params.pack_id}: score {analysis.score}, "
            f"{len(analysis.backlog)} backlog items{decision} ({by})"
        )
        return Done(done, summary=summary)

    def _analyse(self, params: AnalysisRequest) -> AnalysisDone:
        if self._llm is not None:
            try:
                analysis, usage = llm_analyse(params, self._llm, emit=self.emit)
            except LlmError as exc:
                if self.mode == "llm":
                    raise
                reason = f"the LLM analysis by {self._llm.model} failed, so the rules answered: {exc}"
                _log.warning(
                    "analyst.llm.fallback",
                    model=self._llm.model,
                    error_code=exc.error_code,
                    pack_id=params.pack_id,
                    iteration=params.iteration,
                )
                return AnalysisDone(analysis=self._rules(params), analyst="rule", fallback=reason)
            return AnalysisDone(analysis=analysis, analyst="llm", model=self._llm.model, usage=usage)
        return AnalysisDone(analysis=self._rules(params), analyst="rule")

    @staticmethod
    def _rules(params: AnalysisRequest) -> Analysis:
        return analyse(params.outcomes, history=params.history, settings=params.settings)

    def _close(self) -> None:
        if self._llm is not None:
            self._llm.close()

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, *exc_info: Any) -> None:
        self._close()
