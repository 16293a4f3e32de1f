"""The UI gate's shared contracts: what drivers leave in a run dir and what a finding is.

Drivers (``orchestrator.drivers``) write :class:`CaptureManifest` files; the UX evaluator
(``orchestrator.agents``) reads them and writes :class:`Finding` lines; the issue reconciler reads
those. They share these models, never each other's code.
"""

from __future__ import annotations

from orchestrator.gate._capture import (
    CAPTURES_DIR,
    Capture,
    CaptureManifest,
    ConsoleEntry,
    DriverExit,
    JourneyRecord,
    JourneyStep,
    NetworkFailure,
    finish_capture,
    manifest_path,
    request_path,
    safe_name,
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
    "CAPTURES_DIR",
    "CHECKS",
    "RUBRIC_VERSION",
    "SEVERITIES",
    "Capture",
    "CaptureManifest",
    "ConsoleEntry",
    "DriverExit",
    "Finding",
    "JourneyRecord",
    "JourneyStep",
    "NetworkFailure",
    "Severity",
    "findings_lines",
    "fingerprint",
    "finish_capture",
    "manifest_path",
    "request_path",
    "safe_name",
    "sort_findings",
]
