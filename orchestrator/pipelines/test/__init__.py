"""The UI gate's pipeline (``orchestrate test``): its conductor and the helpers only it uses.

The conductor and :func:`run_gate` live in ``_gate``; resolving the target and profile
(``_resolve``), ``--since`` (``_since``), the report and
metrics (``_report``, ``_report_html``) and what the report reads from the run dir
(``_run_files``) sit beside it, because no plugin needs them. What plugins share with the
gate (capture manifests, findings, capability contracts) is in :mod:`orchestrator.gate`;
starting the target is :mod:`orchestrator.services`, which the scenario job shares.
"""

from __future__ import annotations

from orchestrator.pipelines.test._gate import (
    GateOptions,
    GateResult,
    TestGate,
    is_interactive,
    run_gate,
    summary_json,
)
from orchestrator.pipelines.test._report import (
    METRICS_SCHEMA_VERSION,
    GateSummary,
    append_metrics,
    render_report,
)
from orchestrator.pipelines.test._resolve import GatePlan, plan_gate
from orchestrator.pipelines.test._run_files import IssueAction, RunFiles, read_run_files
from orchestrator.pipelines.test._since import changed_files_since
from orchestrator.services import (
    RunningTarget,
    TargetStartError,
    looks_secret,
    running_target,
    target_environment,
)

__all__ = [
    "METRICS_SCHEMA_VERSION",
    "GateOptions",
    "GatePlan",
    "GateResult",
    "GateSummary",
    "IssueAction",
    "RunFiles",
    "RunningTarget",
    "TargetStartError",
    "TestGate",
    "append_metrics",
    "changed_files_since",
    "is_interactive",
    "looks_secret",
    "plan_gate",
    "read_run_files",
    "render_report",
    "run_gate",
    "running_target",
    "summary_json",
    "target_environment",
]
