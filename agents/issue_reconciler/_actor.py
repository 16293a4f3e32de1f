"""The issue-reconciler worker: capability ``reconcile``, a thin actor over :func:`reconcile`.

Request ``params``: ``run_id``, ``run_dir`` (absolute), ``project_root`` (absolute),
``findings_path`` (relative to the run dir), ``issues`` (the ``[issues]`` section: backend,
repository, api_url, token_env, as values, never a token), ``triage`` (``prompt``, ``create``,
``skip`` or null for the policy's default), ``interactive`` (stdin and stdout are a terminal)
and ``dry_run``.

The result's data, also written to ``<run_dir>/issues.json``: ``created``, ``commented`` and
``noop`` (issue numbers), ``skipped`` (fingerprints), ``requests`` (dry-run descriptions),
``failed`` (per finding that should have been filed and was not: fingerprint, severity, title,
error code, reason, tracker, status and fix), ``actions`` (one entry per finding), ``error`` and
``error_code`` (one line saying what was not filed and why, and its code; null when nothing
failed), plus ``backend``, ``dry_run``, ``triage`` and ``triage_reason``. Any failure (a write
refused, the tracker unreachable, its CLI missing) makes the result unsuccessful, so the gate
fails rather than pass over an unfiled finding; a configuration mistake (unknown backend,
missing token or repository) raises its ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.actors import Worker
from orchestrator.agents.issue_reconciler._instrumented import InstrumentedTracker
from orchestrator.agents.issue_reconciler._prompt import Prompter, RichPrompter
from orchestrator.agents.issue_reconciler._reconcile import load_findings, reconcile, unfiled
from orchestrator.artifacts import atomic_write_json
from orchestrator.config import IssuesSection
from orchestrator.errors import UsageError
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.triage import POLICY_NAME, TriageMode, TriagePolicy, resolve_triage
from orchestrator.policyfiles import load_policy_model
from orchestrator.trackers import TrackerError, open_tracker
from orchestrator.validation import explain_validation_error

__all__ = ["ISSUES_FILE", "IssueReconciler", "ReconcileParams"]

ISSUES_FILE = "issues.json"


class ReconcileParams(BaseModel):
    """The ``params`` of a ``reconcile`` request."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_id: str = Field(min_length=1)
    run_dir: Path
    project_root: Path
    findings_path: str = "findings.jsonl"
    issues: dict[str, Any] = Field(default_factory=dict)
    triage: TriageMode | None = None
    interactive: bool = False
    dry_run: bool = False

    def findings_file(self) -> Path:
        """The findings file, which must lie inside the run dir."""
        run_dir = self.run_dir.resolve()
        path = (run_dir / self.findings_path).resolve()
        if not path.is_relative_to(run_dir):
            raise UsageError(f"findings_path {self.findings_path!r} points outside the run dir {run_dir}")
        return path

    def issues_section(self) -> IssuesSection:
        known = set(IssuesSection.model_fields)
        return IssuesSection.model_validate({k: v for k, v in self.issues.items() if k in known})


class IssueReconciler(Worker):
    """Files a run's findings in the project's tracker (see the module docstring)."""

    worker_type: ClassVar[str] = "issue-reconciler"

    def __init__(
        self,
        *,
        prompter: Prompter | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._prompter = prompter
        self._env = env

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability != "reconcile":
            raise UsageError(f"{self.worker_type} performs 'reconcile', not {request.capability!r}")
        try:
            params = ReconcileParams.model_validate(request.params)
        except ValidationError as exc:
            problem = explain_validation_error(exc, model=ReconcileParams, syntax="json")
            raise UsageError(f"reconcile request: params.{problem}") from None
        findings_file = params.findings_file()
        if not findings_file.is_file():
            return self.result(
                request,
                success=False,
                summary="no findings to reconcile",
                blocked_reason=f"{findings_file} does not exist (the evaluation wrote no findings)",
            )
        findings = load_findings(findings_file)
        policy = load_policy_model(POLICY_NAME, TriagePolicy, params.project_root)
        resolution = resolve_triage(params.triage, interactive=params.interactive, policy=policy)
        section = params.issues_section()
        self.progress(
            f"reconciling {len(findings)} findings with the {section.backend} tracker",
            backend=section.backend,
            triage=resolution.mode,
            dry_run=params.dry_run,
        )
        try:
            tracker = open_tracker(
                section, project_root=params.project_root, label=policy.label, env=self._env
            )
        except TrackerError as exc:  # it cannot be reached at all: every finding it needed is unfiled
            outcome = unfiled(
                findings, exc, backend=section.backend, triage=resolution.mode, dry_run=params.dry_run,
                policy=policy, triage_reason=resolution.reason,
            )  # fmt: skip
        else:
            try:
                outcome = reconcile(
                    findings,
                    InstrumentedTracker(tracker, self.emit),
                    triage=resolution.mode,
                    prompter=self._prompter or RichPrompter(),
                    dry_run=params.dry_run,
                    policy=policy,
                    triage_reason=resolution.reason,
                )
            finally:
                tracker.close()
        data = outcome.as_data()
        atomic_write_json(params.run_dir / ISSUES_FILE, data)
        summary = outcome.summary()
        failure = outcome.failure_message()
        return self.result(
            request,
            success=outcome.succeeded,
            summary=summary if failure is None else f"{summary}: {outcome.error_code()}: {failure}",
            data=data,
        )
