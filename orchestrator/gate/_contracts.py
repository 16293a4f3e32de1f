"""The UI gate's capability contracts: what crosses each join between the gate and its workers.

The gate's conductor hands each worker a request model and gets a result model back (see
:class:`~orchestrator.actors.Capability`); the worker base validates both, so a misspelt key in
a request is refused with its field and a fix, and a result that lacks a key is an
``invalid_result`` failure (a framework error, exit 2), never a silent zero.

- ``capture`` (:data:`CAPTURE`): :class:`CaptureRequest` to :class:`CaptureResult`, offered by
  every driver (web, mac, command, a plugin);
- ``evaluate`` (:data:`EVALUATE`): :class:`EvaluateRequest` to :class:`EvaluateResult`, offered
  by the UX evaluator;
- ``reconcile`` (:data:`RECONCILE`): :class:`ReconcileRequest` to :class:`ReconcileResult`,
  offered by the issue reconciler.

Every model is frozen and refuses unknown keys. Paths in requests are absolute; paths in results
are relative to the run dir. A driver plugin declares ``capabilities = CAPTURE.declare()`` and
implements ``handle(request, params: CaptureRequest) -> Done[CaptureResult]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, JsonValue

from orchestrator.actors import Capability, ContractModel
from orchestrator.config import IssuesSection
from orchestrator.gate._finding import Check, Severity
from orchestrator.policy.rubric_v1 import Verdict
from orchestrator.policy.test_profiles import Profile
from orchestrator.policy.triage import TriageMode

__all__ = [
    "CAPTURE",
    "EVALUATE",
    "RECONCILE",
    "AbsolutePath",
    "CaptureRequest",
    "CaptureResult",
    "CaptureTarget",
    "DriverExit",
    "EvaluateRequest",
    "EvaluateResult",
    "FilingFailure",
    "IssueAction",
    "IssueActionName",
    "ReconcileRequest",
    "ReconcileResult",
]


def _absolute(path: Path) -> Path:
    if not path.is_absolute():
        raise ValueError(f"must be an absolute path, not {str(path)!r}")
    return path


AbsolutePath = Annotated[Path, AfterValidator(_absolute)]
"""A path the gate resolved for its workers; a worker never guesses what it is relative to."""


def _inside(path: str) -> str:
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts:
        raise ValueError(f"must be relative to the run dir and stay inside it, not {path!r}")
    return path


RunDirPath = Annotated[str, Field(min_length=1), AfterValidator(_inside)]


# --- capture --------------------------------------------------------------------------------

DriverExit = Literal[0, 1, 2]
"""0: everything captured; 1: capture or test failures (they become findings); 2: framework error."""


class CaptureTarget(ContractModel):
    """The target a driver exercises: its name and the settings a driver reads.

    How the target is started (command, environment, health path) stays with the gate: a driver
    gets the running target's address, never its start command or environment.
    """

    name: str = Field(min_length=1)
    base_url: str | None = None
    """Where the running target answers (with the port the gate picked); a plugin may read it as
    its own kind of address (the example static-html driver: a folder)."""
    app_name: str | None = None
    """The macOS app's name (mac driver)."""


class CaptureRequest(ContractModel):
    """What a driver needs to capture one run."""

    run_id: str = Field(min_length=1)
    run_dir: AbsolutePath
    """Where everything the driver writes goes (nothing is written outside it)."""
    project_root: AbsolutePath
    config_file: Path | None = None
    """The project's config file, named in errors about the target's settings."""
    target: CaptureTarget
    profile_name: str = Field(min_length=1)
    profile: Profile
    changed_files: list[str] | None = None
    """With ``--since``: the files changed since the reference (``None``: every route)."""
    parallel: int | None = Field(default=None, ge=1)
    """How many captures may run at once (``None``: the driver's default)."""
    dry_run: bool = False
    """``--dry-run``: nothing is filed in a tracker; a driver with side effects may hold them back."""


class CaptureResult(ContractModel):
    """How a capture ended; the evidence itself is described by the manifest in the run dir.

    :func:`~orchestrator.gate.finish_capture` writes the manifest and returns this.
    """

    exit_code: DriverExit
    manifest: str | None
    """The manifest's path relative to the run dir; ``None`` when none could be written."""
    captured: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(default=0, ge=0)
    """Captures the driver did not make and did not fail (e.g. tests the suite skipped)."""
    command_exit_status: int | None = None
    """The exit status of the command the driver ran (a test command), when it ran to the end."""
    error: str | None = None
    """The framework error behind exit code 2, when there is one."""


CAPTURE: Capability[CaptureRequest, CaptureResult] = Capability("capture", CaptureRequest, CaptureResult)


# --- evaluate -------------------------------------------------------------------------------


class EvaluateRequest(ContractModel):
    """What the UX evaluator needs to apply the rubric to a run dir."""

    run_dir: AbsolutePath
    project_root: AbsolutePath
    profile_name: str = ""
    profile: Profile
    """Its ``checks`` select the checks; its ``axe_impacts`` and ``swift_project`` tune them."""


class EvaluateResult(ContractModel):
    """The evaluation's summary; the findings themselves are in ``findings_path``."""

    findings: int = Field(ge=0)
    by_severity: dict[Severity, int]
    by_check: dict[Check, int]
    checks_run: list[Check]
    skipped_checks: dict[Check, str]
    """A check that did not run, with why (not selected, its input missing)."""
    problems: list[str]
    """Inputs that could not be read; the checks went on with the rest."""
    blocked_by: list[str]
    """Driver framework errors that left nothing to evaluate."""
    verdict: Verdict
    findings_path: RunDirPath


EVALUATE: Capability[EvaluateRequest, EvaluateResult] = Capability(
    "evaluate", EvaluateRequest, EvaluateResult
)


# --- reconcile ------------------------------------------------------------------------------


class ReconcileRequest(ContractModel):
    """What the issue reconciler needs to file a run's findings."""

    run_id: str = Field(min_length=1)
    run_dir: AbsolutePath
    project_root: AbsolutePath
    findings_path: RunDirPath = "findings.jsonl"
    issues: IssuesSection = Field(default_factory=IssuesSection)
    """The ``[issues]`` section: backend and where, as values (a token's variable name, never a token)."""
    triage: TriageMode | None = None
    """How medium and low findings are triaged; ``None``: the triage policy's default."""
    interactive: bool = False
    """Stdin and stdout are a terminal, so a person can be asked."""
    dry_run: bool = False


IssueActionName = Literal[
    "created", "commented", "noop", "skipped", "failed", "would_create", "would_comment"
]
"""``noop``: an issue is already open for the finding; ``would_*``: what a dry run would do."""


class IssueAction(ContractModel):
    """What was done (or, in a dry run, would be done) with one finding."""

    fingerprint: str
    severity: Severity
    check: Check
    action: IssueActionName
    issue: int | None = None


class FilingFailure(ContractModel):
    """A finding that should have been filed (or commented on) and was not, and why."""

    fingerprint: str
    error: str
    """The tracker's error, with its fix."""
    error_code: str
    severity: Severity | None = None
    title: str | None = None
    reason: str | None = None
    """The error without the fix."""
    tracker: str | None = None
    status: int | None = None
    """What the tracker answered (an HTTP status, a command's exit status), when it answered."""
    fix: str | None = None


class ReconcileResult(ContractModel):
    """What one reconciliation did; also the content of ``issues.json``.

    ``error`` and ``error_code`` say why the tracker could not be used at all (nothing was
    filed); ``failed`` lists findings that could not be filed one by one.
    """

    backend: str
    dry_run: bool
    triage: TriageMode
    triage_reason: str = ""
    created: list[int] = Field(default_factory=list)
    commented: list[int] = Field(default_factory=list)
    noop: list[int] = Field(default_factory=list)
    """Issues already open for a finding: left as they are."""
    skipped: list[str] = Field(default_factory=list)
    """Fingerprints of findings triaged away."""
    requests: list[dict[str, JsonValue]] = Field(default_factory=list)
    """Dry run: the tracker's description of each request it would send (no secret in it)."""
    failed: list[FilingFailure] = Field(default_factory=list)
    actions: list[IssueAction] = Field(default_factory=list)
    error: str | None = None
    error_code: str | None = None


RECONCILE: Capability[ReconcileRequest, ReconcileResult] = Capability(
    "reconcile", ReconcileRequest, ReconcileResult
)
