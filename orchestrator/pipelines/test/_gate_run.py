"""What one gate run starts from, what it ends with, and the typed request of each of its phases.

The gate's conductor is started with a :class:`GateRun` (the resolved plan and the user's
options, as ``StartRun.params``) and ends with a :class:`GateOutcome` (as ``RunOutcome.data``),
which :func:`~orchestrator.pipelines.test.run_gate` reads back for the report. Both are JSON on
the wire and models at either end. Each phase's request is built from the run here, in the
contracts of :mod:`orchestrator.gate`, so the plan reaches every worker typed and every result
comes back typed: nothing is read with ``.get(...)`` and a default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from orchestrator.actors import ContractModel
from orchestrator.config import IssuesSection, TargetSection
from orchestrator.gate import (
    AbsolutePath,
    CaptureRequest,
    CaptureTarget,
    DriverExit,
    EvaluateRequest,
    EvaluateResult,
    ReconcileRequest,
    ReconcileResult,
)
from orchestrator.policy.test_profiles import Profile
from orchestrator.policy.triage import TriageMode

__all__ = ["GateOutcome", "GateRun"]


class GateRun(ContractModel):
    """One gate run as its conductor is started: the plan (target, profile) and the options."""

    run_id: str = Field(min_length=1)
    run_dir: AbsolutePath
    project_root: AbsolutePath
    config_file: Path | None = None
    target_name: str = Field(min_length=1)
    target: TargetSection
    """The target's settings: how the gate starts it, and what its driver reads."""
    profile_name: str = Field(min_length=1)
    profile: Profile
    changed_files: list[str] | None = None
    parallel: int = Field(ge=1)
    issues: IssuesSection
    triage: TriageMode | None = None
    interactive: bool = False
    dry_run: bool = False

    def capture_request(self, base_url: str | None) -> CaptureRequest:
        """The driver's request, with the address the running target answers on."""
        return CaptureRequest(
            run_id=self.run_id,
            run_dir=self.run_dir,
            project_root=self.project_root,
            config_file=self.config_file,
            target=CaptureTarget(name=self.target_name, base_url=base_url, app_name=self.target.app_name),
            profile_name=self.profile_name,
            profile=self.profile,
            changed_files=self.changed_files,
            parallel=self.parallel,
            dry_run=self.dry_run,
        )

    def evaluate_request(self) -> EvaluateRequest:
        return EvaluateRequest(
            run_dir=self.run_dir,
            project_root=self.project_root,
            profile_name=self.profile_name,
            profile=self.profile,
        )

    def reconcile_request(self, evaluation: EvaluateResult) -> ReconcileRequest:
        """The reconciler's request for the findings ``evaluation`` wrote."""
        return ReconcileRequest(
            run_id=self.run_id,
            run_dir=self.run_dir,
            project_root=self.project_root,
            findings_path=evaluation.findings_path,
            issues=self.issues,
            triage=self.triage,
            interactive=self.interactive,
            dry_run=self.dry_run,
        )


class GateOutcome(ContractModel):
    """What a gate run's phases answered; a phase that failed has no result and an error."""

    driver_exit_codes: dict[str, DriverExit]
    """The driver's exit code by driver name (2 when the capture itself failed)."""
    evaluation: EvaluateResult | None = None
    issues: ReconcileResult | None = None
    errors: list[str] = Field(default_factory=list)
    """Framework errors, one per failed phase: any of them makes the gate exit 2."""
