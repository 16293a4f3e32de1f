"""Evaluate one run dir with rubric v1 and write its ``findings.jsonl``.

The profile's ``checks`` select which checks run; a selected check whose input is missing or
unreadable is skipped with its reason, and a problem with one input (a corrupt axe file, a bad
console line) is recorded while the check goes on with the rest. Nothing here reads a clock or
writes an absolute path, and every collection is sorted before it is written, so evaluating the
same run dir twice, or a copy of it somewhere else, gives byte-identical files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.ux_evaluator._axe import check_axe
from orchestrator.agents.ux_evaluator._console import check_console
from orchestrator.agents.ux_evaluator._findings import CheckOutcome, one_line
from orchestrator.agents.ux_evaluator._inputs import RunInputs, load_inputs
from orchestrator.agents.ux_evaluator._liquid_glass import EVIDENCE_PATH, check_liquid_glass
from orchestrator.agents.ux_evaluator._onboarding import check_onboarding
from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.errors import RunInterruptedError, UsageError
from orchestrator.gate import CHECKS, SEVERITIES, EvaluateResult, Finding, findings_lines, sort_findings
from orchestrator.policy.rubric_v1 import AXE_IMPACTS, RubricPolicy, Verdict, verdict
from orchestrator.policy.test_profiles import CheckName, Profile
from orchestrator.policyfiles import load_policy_model

__all__ = ["FINDINGS_FILE", "POLICY_NAME", "Evaluation", "evaluate_run", "load_rubric"]

FINDINGS_FILE = "findings.jsonl"
POLICY_NAME = "rubric-v1"
NOT_SELECTED = "not selected by the profile"

_POLICY_EXAMPLES = {
    "onboarding": "make critical_at greater than high_at, for example `high_at: 8` and `critical_at: 10`",
    "onboarding.high_at": "use a whole number of steps, for example `high_at: 8`",
    "onboarding.critical_at": "use a whole number of steps above high_at, for example `critical_at: 10`",
    "console.extra_noise": (
        'use a list of regular expressions, for example `extra_noise: ["Third-party cookie"]`'
    ),
    "console.extra_noise_resources": (
        'use a list of regular expressions, for example `extra_noise_resources: ["^https://analytics\\\\."]`'
    ),
}


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation found; :meth:`result` is what the evaluator's ``evaluate`` answers."""

    run_id: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    """Sorted as in ``findings.jsonl``: severity, check, fingerprint."""
    by_severity: dict[str, int]
    by_check: dict[str, int]
    checks_run: tuple[str, ...]
    skipped_checks: dict[str, str]
    problems: tuple[str, ...]
    blocked_by: tuple[str, ...]
    findings_path: str = FINDINGS_FILE
    """Relative to the run dir."""

    def result(self) -> EvaluateResult:
        """The evaluation's summary as the gate's ``evaluate`` contract has it."""
        return EvaluateResult.model_validate(
            {
                "findings": len(self.findings),
                "by_severity": self.by_severity,
                "by_check": self.by_check,
                "checks_run": list(self.checks_run),
                "skipped_checks": self.skipped_checks,
                "problems": list(self.problems),
                "blocked_by": list(self.blocked_by),
                "verdict": self.verdict,
                "findings_path": self.findings_path,
            }
        )


def load_rubric(project_root: Path | None) -> RubricPolicy:
    """The ``rubric-v1`` policy: shipped defaults, overridden by the project's file if it has one."""
    return load_policy_model(POLICY_NAME, RubricPolicy, project_root, examples=_POLICY_EXAMPLES)


def evaluate_run(
    run_dir: Path,
    *,
    run_id: str,
    profile: Profile,
    project_root: Path,
    policy: RubricPolicy | None = None,
    progress: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
) -> Evaluation:
    """Apply rubric v1 to ``run_dir``; write ``findings.jsonl`` (and the Liquid Glass scan) there.

    ``policy`` defaults to :func:`load_rubric` of ``project_root`` (a bad project policy file
    raises :class:`~orchestrator.errors.ConfigError`). ``progress`` is told which check starts;
    ``cancelled``, when set, stops the evaluation between checks with
    :class:`~orchestrator.errors.RunInterruptedError`.
    """
    if not run_dir.is_dir():
        raise UsageError(f"cannot evaluate {run_dir}: it is not a run dir (no such folder)")
    rubric = policy if policy is not None else load_rubric(project_root)
    inputs = load_inputs(run_dir)
    selected = [check for check in CHECKS if check in profile.checks]
    outcomes: list[CheckOutcome] = []
    glass_evidence: dict[str, Any] | None = None
    for check in selected:
        if cancelled is not None and cancelled.is_set():
            raise RunInterruptedError(f"the evaluation of {run_id} was stopped before {check}")
        if progress is not None:
            progress(f"checking {check}")
        if check == "onboarding_step_count":
            outcomes.append(check_onboarding(inputs, rubric.onboarding, run_id))
        elif check == "axe_violations":
            outcomes.append(check_axe(inputs, profile, run_id))
        elif check == "console_errors":
            outcomes.append(check_console(inputs, rubric.console, run_id))
        else:
            scan = check_liquid_glass(project_root, profile.swift_project, run_id)
            outcomes.append(scan.outcome)
            glass_evidence = scan.evidence

    evaluation = _summarise(run_id, inputs, selected, outcomes)
    evidence_file = run_dir / EVIDENCE_PATH
    if glass_evidence is not None:
        atomic_write_json(evidence_file, glass_evidence)
    elif evidence_file.is_file():
        evidence_file.unlink()  # a scan from an earlier evaluation with another profile is not this one's
    meta = _meta(evaluation, selected, profile, rubric, inputs)
    atomic_write_text(run_dir / FINDINGS_FILE, findings_lines(run_id, evaluation.findings, meta))
    return evaluation


def _summarise(
    run_id: str, inputs: RunInputs, selected: list[CheckName], outcomes: list[CheckOutcome]
) -> Evaluation:
    # Two findings can share a fingerprint only when their locators differ past the 256-character
    # cut; they are then one finding, the most severe one.
    unique: dict[str, Finding] = {}
    for finding in sort_findings(f for outcome in outcomes for f in outcome.findings):
        unique.setdefault(finding.fingerprint, finding)
    findings = tuple(sort_findings(unique.values()))
    by_severity: dict[str, int] = {
        severity: sum(f.severity == severity for f in findings) for severity in SEVERITIES
    }
    by_check: dict[str, int] = {check: sum(f.check == check for f in findings) for check in CHECKS}
    skipped = {check: NOT_SELECTED for check in CHECKS if check not in selected}
    skipped.update({o.check: o.skipped for o in outcomes if o.skipped is not None})
    problems = sorted({*inputs.manifest_problems, *(p for o in outcomes for p in o.problems)})
    blocked_by = _blocked_by(inputs)
    return Evaluation(
        run_id=run_id,
        verdict=verdict(by_severity, driver_blocked=bool(blocked_by)),
        findings=findings,
        by_severity=by_severity,
        by_check=by_check,
        checks_run=tuple(o.check for o in outcomes if o.skipped is None),
        skipped_checks=dict(sorted(skipped.items())),
        problems=tuple(problems),
        blocked_by=tuple(blocked_by),
    )


def _blocked_by(inputs: RunInputs) -> list[str]:
    """Driver framework errors that left nothing to evaluate (exit 2 with nothing captured)."""
    if not inputs.manifests:
        return [inputs.no_input_reason() or "no capture manifest"]
    reasons = []
    for name, manifest in inputs.manifests:
        if manifest.exit_code == 2 and not manifest.captures and not manifest.journeys:
            error = f": {one_line(manifest.error, 300)}" if manifest.error else ""
            reasons.append(
                f"{name}: the {manifest.driver} driver failed (exit 2) and captured nothing{error}"
            )
    return reasons


def _meta(
    evaluation: Evaluation,
    selected: list[CheckName],
    profile: Profile,
    rubric: RubricPolicy,
    inputs: RunInputs,
) -> dict[str, Any]:
    return {
        "verdict": evaluation.verdict,
        "by_severity": evaluation.by_severity,
        "by_check": evaluation.by_check,
        "checks_selected": list(selected),
        "checks_run": list(evaluation.checks_run),
        "checks_skipped": evaluation.skipped_checks,
        "problems": list(evaluation.problems),
        "blocked_by": list(evaluation.blocked_by),
        "axe_impacts": [impact for impact in AXE_IMPACTS if impact in profile.axe_impacts],
        "onboarding_thresholds": {
            "high_at": rubric.onboarding.high_at,
            "critical_at": rubric.onboarding.critical_at,
        },
        "drivers": {
            name: {
                "driver": manifest.driver,
                "exit_code": manifest.exit_code,
                "captures": len(manifest.captures),
            }
            for name, manifest in inputs.manifests
        },
    }
