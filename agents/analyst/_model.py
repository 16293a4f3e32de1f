"""What the rule-based analyst reads (step outcomes, earlier iterations, settings) and writes (an analysis).

Every model is frozen and refuses unknown fields, so an ``analysis.json`` read back is exactly the
document that was written, and a typo in a caller's field name fails loudly instead of being dropped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.packs import ExpectCategory, StepStatus

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "AnalystSettings",
    "BacklogItem",
    "ExpectationResult",
    "IterationHistory",
    "StatusCounts",
    "StepOutcome",
]

SCHEMA_VERSION: Literal[1] = 1
"""The version of the ``analysis.json`` document; raised when a field changes meaning."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpectationResult(_Frozen):
    """One expect item of a step, checked against the answer: whether it held, and what was seen."""

    kind: str
    """The expect item's kind (``contains``, ``route``, ``evidence``, ...)."""
    category: ExpectCategory
    """What a failure counts against (the item's effective category)."""
    met: bool
    detail: str
    """What was expected and what was found, for people and for the backlog."""


class StepOutcome(_Frozen):
    """One step of one scenario as it ran: its status, its checked expectations and its artifacts."""

    scenario: str
    step: str
    status: StepStatus
    decision: bool
    """Whether the step's answer is a decision for the user (``decision: true`` in the scenario)."""
    expectations: list[ExpectationResult]
    evidence_paths: list[str] = []
    """Files that show what happened (the answer, the request log), relative to the run folder."""
    error: str | None = None
    """Why the step was blocked or what capability it needs, when it says."""


class IterationHistory(_Frozen):
    """An earlier iteration of the improvement loop: its score and the coder run that followed it."""

    n: int = Field(ge=1)
    score: int = Field(ge=0, le=100)
    coder_exit_code: int | None
    """The coder's exit code after this iteration was scored; None when the coder did not run."""
    coder_changed_paths: list[str] = []
    """Files the coder changed, relative to the repository."""


class AnalystSettings(_Frozen):
    """The limits the analyst holds the loop to."""

    stall_limit: int = Field(default=2, ge=0)
    """Coder runs in a row that may leave the score where it was; 0 never stops for a stall."""
    allowed_paths: list[str] = []
    """Glob patterns, relative to the repository, of files the coder may change (``**`` spans
    folders, ``*`` stays in one, a trailing ``/`` means everything below); empty allows all."""


class StatusCounts(_Frozen):
    """How many steps ended with each status."""

    accepted: int = 0
    partial: int = 0
    needs_exact_capability: int = 0
    blocked: int = 0


class BacklogItem(_Frozen):
    """One thing to fix: where it showed, what is wrong, the files that show it and what to change."""

    scenario: str
    step: str
    category: ExpectCategory
    problem: str
    evidence: list[str]
    suggested_change: str


class Analysis(_Frozen):
    """The ``analysis.json`` document: the score, the backlog and whether the user must decide."""

    schema_version: Literal[1] = SCHEMA_VERSION
    score: int = Field(ge=0, le=100)
    counts: StatusCounts
    backlog: list[BacklogItem]
    requires_user_decision: bool
    decision_reason: str | None
    formula: str
