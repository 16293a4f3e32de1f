"""The UX evaluator as a worker actor: capability ``evaluate`` over :func:`evaluate_run`.

It declares the gate's :data:`~orchestrator.gate.EVALUATE` contract: the request is an
:class:`~orchestrator.gate.EvaluateRequest` (``run_dir``, ``project_root``, ``profile_name`` and
``profile``), checked by the worker base, and the answer an
:class:`~orchestrator.gate.EvaluateResult`. The worker reports each check as progress and each
finding as a ``worker.task.finding`` event. A verdict other than PROCEED is still a successful
evaluation: the verdict is data, not a failure.
"""

from __future__ import annotations

from orchestrator.actors import Done, Worker
from orchestrator.agents.ux_evaluator._evaluate import evaluate_run
from orchestrator.gate import EVALUATE, EvaluateRequest, EvaluateResult
from orchestrator.messages import WorkRequest

__all__ = ["UxEvaluator"]


class UxEvaluator(Worker):
    """Applies rubric v1 to a run dir and writes ``findings.jsonl``."""

    worker_type = "ux-evaluator"
    capabilities = EVALUATE.declare()

    def handle(self, request: WorkRequest, params: EvaluateRequest) -> Done[EvaluateResult]:
        evaluation = evaluate_run(
            params.run_dir,
            run_id=request.run_id,
            profile=params.profile,
            project_root=params.project_root,
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
        return Done(evaluation.result(), summary=summary)
