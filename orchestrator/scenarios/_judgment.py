"""A judgment: whether one trajectory would satisfy its scenario's user, and why.

Written to ``judgments/<trajectory id>.json``. Keys scripts rely on: ``trajectory_id``,
``verdict``, ``reasoning``, ``criteria_matched``, ``criteria_unmet``, ``anti_patterns_matched``,
``confidence``, ``judge`` and ``chaos_injected``. Criteria are named by their labels (the text of
a text criterion, the ``label`` of a check, or a short rendering of the check).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JUDGMENT_SCHEMA_VERSION", "JudgeKind", "Judgment", "Verdict"]

JUDGMENT_SCHEMA_VERSION = 1
Verdict = Literal["satisfactory", "unsatisfactory", "unjudged"]
JudgeKind = Literal["rule", "llm", "both"]


class Judgment(BaseModel):
    """The judgment file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = JUDGMENT_SCHEMA_VERSION
    trajectory_id: str
    scenario_id: str
    run_id: str
    verdict: Verdict
    reasoning: str
    criteria_matched: list[str] = Field(default_factory=list)
    criteria_unmet: list[str] = Field(default_factory=list)
    criteria_unjudged: list[str] = Field(
        default_factory=list, description="Text criteria left open (no model, or no valid answer)."
    )
    anti_patterns_matched: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    judge: JudgeKind
    model: str | None = None
    prompt_version: str | None = None
    chaos_injected: bool
    trajectory_status: str
    usage: dict[str, int] = Field(default_factory=dict, description="Tokens the LLM judge used.")
    judged_at: str
