"""The UX evaluator: rubric v1 applied to what UI-gate drivers captured.

It reads the capture manifests of a run dir (``captures/*.json``), runs the checks the profile
selects (onboarding step count, axe violations, console errors, Liquid Glass conformance), and
writes ``findings.jsonl``: a ``_meta`` line, then fingerprinted findings sorted by severity, check
and fingerprint, byte-identical for the same run dir. The rules themselves are
``orchestrator.policy.rubric_v1``.

Use :func:`evaluate_run` directly, or the :class:`UxEvaluator` worker actor, which offers the
gate's ``evaluate`` capability (:data:`orchestrator.gate.EVALUATE`).
"""

from __future__ import annotations

from orchestrator.agents.ux_evaluator._console import normalise_message
from orchestrator.agents.ux_evaluator._evaluate import (
    FINDINGS_FILE,
    POLICY_NAME,
    Evaluation,
    evaluate_run,
    load_rubric,
)
from orchestrator.agents.ux_evaluator._liquid_glass import EVIDENCE_PATH as LIQUID_GLASS_EVIDENCE
from orchestrator.agents.ux_evaluator._locators import page_scope, resource_locator
from orchestrator.agents.ux_evaluator._worker import UxEvaluator

__all__ = [
    "FINDINGS_FILE",
    "LIQUID_GLASS_EVIDENCE",
    "POLICY_NAME",
    "Evaluation",
    "UxEvaluator",
    "evaluate_run",
    "load_rubric",
    "normalise_message",
    "page_scope",
    "resource_locator",
]
