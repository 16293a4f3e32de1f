"""The UI gate's shared contracts: its capabilities, what drivers leave in a run dir, what a finding is.

The gate's conductor delegates three capabilities, each a typed request and result
(:data:`CAPTURE`, :data:`EVALUATE`, :data:`RECONCILE`). Drivers (``orchestrator.drivers``, or a
plugin) offer ``capture`` and write :class:`CaptureManifest` files; the UX evaluator
(``orchestrator.agents``) offers ``evaluate``, reads the manifests and writes :class:`Finding`
lines; the issue reconciler offers ``reconcile`` and reads those. They share these models, never
each other's code.
"""

from __future__ import annotations

from orchestrator.gate._capture import (
    CAPTURES_DIR,
    Capture,
    CaptureManifest,
    ConsoleEntry,
    JourneyRecord,
    JourneyStep,
    NetworkFailure,
    capture_result,
    finish_capture,
    manifest_path,
    safe_name,
)
from orchestrator.gate._contracts import (
    CAPTURE,
    EVALUATE,
    RECONCILE,
    AbsolutePath,
    CaptureRequest,
    CaptureResult,
    CaptureTarget,
    DriverExit,
    EvaluateRequest,
    EvaluateResult,
    FilingFailure,
    IssueAction,
    IssueActionName,
    ReconcileRequest,
    ReconcileResult,
)
from orchestrator.gate._finding import (
    CHECKS,
    RUBRIC_VERSION,
    SEVERITIES,
    Finding,
    Severity,
    findings_lines,
    fingerprint,
    sort_findings,
)

__all__ = [
    "CAPTURE",
    "CAPTURES_DIR",
    "CHECKS",
    "EVALUATE",
    "RECONCILE",
    "RUBRIC_VERSION",
    "SEVERITIES",
    "AbsolutePath",
    "Capture",
    "CaptureManifest",
    "CaptureRequest",
    "CaptureResult",
    "CaptureTarget",
    "ConsoleEntry",
    "DriverExit",
    "EvaluateRequest",
    "EvaluateResult",
    "FilingFailure",
    "Finding",
    "IssueAction",
    "IssueActionName",
    "JourneyRecord",
    "JourneyStep",
    "NetworkFailure",
    "ReconcileRequest",
    "ReconcileResult",
    "Severity",
    "capture_result",
    "findings_lines",
    "fingerprint",
    "finish_capture",
    "manifest_path",
    "safe_name",
    "sort_findings",
]
