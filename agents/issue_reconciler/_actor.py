"""The issue-reconciler worker: capability ``reconcile``, a thin actor over :func:`reconcile`.

It declares the gate's :data:`~orchestrator.gate.RECONCILE` contract. The request, a
:class:`~orchestrator.gate.ReconcileRequest` checked by the worker base: ``run_id``, ``run_dir``
(absolute), ``project_root`` (absolute), ``findings_path`` (relative to the run dir), ``issues``
(the ``[issues]`` section: backend, repository, api_url, token_env, as values, never a token),
``triage`` (``prompt``, ``create``, ``skip`` or null for the policy's default), ``interactive``
(stdin and stdout are a terminal) and ``dry_run``.

The result, a :class:`~orchestrator.gate.ReconcileResult`, also written to
``<run_dir>/issues.json``: ``created``, ``commented`` and
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

from orchestrator.actors import Done, Worker
from orchestrator.agents.issue_reconciler._instrumented import InstrumentedTracker
from orchestrator.agents.issue_reconciler._prompt import Prompter, RichPrompter
from orchestrator.agents.issue_reconciler._reconcile import load_findings, reconcile, unfiled
from orchestrator.artifacts import atomic_write_json
from orchestrator.errors import UsageError
from orchestrator.gate import RECONCILE, ReconcileRequest, ReconcileResult
from orchestrator.messages import WorkRequest
from orchestrator.policy.triage import POLICY_NAME, TriagePolicy, resolve_triage
from orchestrator.policyfiles import load_policy_model
from orchestrator.trackers import TrackerError, open_tracker

__all__ = ["ISSUES_FILE", "IssueReconciler"]

ISSUES_FILE = "issues.json"


def _findings_file(params: ReconcileRequest) -> Path:
    """The findings file, which must lie inside the run dir (also after following links)."""
    run_dir = params.run_dir.resolve()
    path = (run_dir / params.findings_path).resolve()
    if not path.is_relative_to(run_dir):
        raise UsageError(f"findings_path {params.findings_path!r} points outside the run dir {run_dir}")
    return path


class IssueReconciler(Worker):
    """Files a run's findings in the project's tracker (see the module docstring)."""

    worker_type: ClassVar[str] = "issue-reconciler"
    capabilities = RECONCILE.declare()

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

    def handle(self, request: WorkRequest, params: ReconcileRequest) -> Done[ReconcileResult]:
        findings_file = _findings_file(params)
        policy = load_policy_model(POLICY_NAME, TriagePolicy, params.project_root)
        resolution = resolve_triage(params.triage, interactive=params.interactive, policy=policy)
        section = params.issues
        if not findings_file.is_file():
            nothing = ReconcileResult(
                backend=section.backend,
                dry_run=params.dry_run,
                triage=resolution.mode,
                triage_reason=resolution.reason,
            )
            return Done(
                nothing,
                summary="no findings to reconcile",
                success=False,
                blocked_reason=f"{findings_file} does not exist (the evaluation wrote no findings)",
            )
        findings = load_findings(findings_file)
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
        result = ReconcileResult.model_validate(outcome.as_data())
        atomic_write_json(params.run_dir / ISSUES_FILE, result.model_dump(mode="json"))
        summary = outcome.summary()
        failure = outcome.failure_message()
        return Done(
            result,
            summary=summary if failure is None else f"{summary}: {outcome.error_code()}: {failure}",
            success=outcome.succeeded,
        )
