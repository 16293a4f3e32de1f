"""The UX evaluator as a worker actor: capability ``evaluate`` over :func:`evaluate_run`.

The conductor sends a :class:`~orchestrator.messages.WorkRequest` whose ``params`` carry
``run_dir``, ``project_root``, ``profile_name`` and ``profile`` (a ``Profile`` dump). The worker
reports each check as progress and each finding as a ``worker.task.finding`` event, and answers
with the evaluation summary as ``data``. A verdict other than PROCEED is still a successful
evaluation: the verdict is data, not a failure.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.actors import Worker
from orchestrator.agents.ux_evaluator._evaluate import evaluate_run
from orchestrator.errors import UsageError
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile
from orchestrator.validation import explain_validation_error

__all__ = ["CAPABILITY", "EvaluateParams", "UxEvaluator"]

CAPABILITY = "evaluate"


class EvaluateParams(BaseModel):
    """What an ``evaluate`` request carries (other keys, such as ``run_id``, are allowed and unused)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_dir: str = Field(min_length=1)
    project_root: str = Field(min_length=1)
    profile_name: str = ""
    profile: Profile


class UxEvaluator(Worker):
    """Applies rubric v1 to a run dir and writes ``findings.jsonl``."""

    worker_type = "ux-evaluator"

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability != CAPABILITY:
            raise UsageError(f"the ux-evaluator performs {CAPABILITY!r}, not {request.capability!r}")
        try:
            params = EvaluateParams.model_validate(request.params)
        except ValidationError as exc:
            problem = explain_validation_error(exc, model=EvaluateParams, syntax="json")
            raise UsageError(f"bad evaluate request: {problem}") from None
        evaluation = evaluate_run(
            Path(params.run_dir),
            run_id=request.run_id,
            profile=params.profile,
            project_root=Path(params.project_root),
            progress=self.progress,
            cancelled=self.cancelled,
        )
        for finding in evaluation.findings:
            self.finding(
                finding.title,
                confidence=1.0,
                evidence_refs=[finding.evidence_path],
                fingerprint=finding.fingerprint,
                severity=finding.severity,
                check=finding.check,
            )
        counts = ", ".join(f"{n} {severity}" for severity, n in evaluation.by_severity.items() if n)
        profile = f" ({params.profile_name})" if params.profile_name else ""
        summary = (
            f"rubric v1{profile}: {len(evaluation.findings)} findings"
            + (f" ({counts})" if counts else "")
            + f"; verdict {evaluation.verdict}"
        )
        return self.result(request, success=True, summary=summary, data=evaluation.data())
