"""Satisfaction: how often a scenario's user would be satisfied, with the evidence to trust the number.

The pipeline turns each judged trajectory into a :class:`TrajectoryOutcome` and each scenario file
into a :class:`ScenarioInfo`; :func:`build_report` computes the run's report (per scenario, per
domain and overall: satisfaction, a 95% Wilson interval, pass^k, the split with and without
chaos, thresholds from the ``satisfaction`` policy, and the comparison with the previous run), and
:func:`write_report_files` stores it as ``latest.json``, a history copy and the run's
``report.md``. :func:`junit_xml` and :func:`rich_table` render the same document for CI and for
the terminal. The statistics are scipy's (:func:`wilson_interval`, :func:`compare`); nothing here
does I/O except the file functions.
"""

from __future__ import annotations

from orchestrator.satisfaction._files import (
    ReportPaths,
    find_previous_report,
    load_satisfaction_policy,
    write_report_files,
)
from orchestrator.satisfaction._format import UNJUDGED_HINT
from orchestrator.satisfaction._junit import SUITE_NAME, junit_xml
from orchestrator.satisfaction._markdown import escape_markdown, report_markdown
from orchestrator.satisfaction._report import (
    REPORT_SCHEMA_VERSION,
    ScenarioInfo,
    TrajectoryOutcome,
    build_report,
)
from orchestrator.satisfaction._stats import (
    CONFIDENCE,
    MAX_PASS_HAT_K,
    Comparison,
    compare,
    pass_hat_k,
    pass_hat_k_curve,
    satisfaction_of,
    wilson_interval,
)
from orchestrator.satisfaction._table import rich_table

__all__ = [
    "CONFIDENCE",
    "MAX_PASS_HAT_K",
    "REPORT_SCHEMA_VERSION",
    "SUITE_NAME",
    "UNJUDGED_HINT",
    "Comparison",
    "ReportPaths",
    "ScenarioInfo",
    "TrajectoryOutcome",
    "build_report",
    "compare",
    "escape_markdown",
    "find_previous_report",
    "junit_xml",
    "load_satisfaction_policy",
    "pass_hat_k",
    "pass_hat_k_curve",
    "report_markdown",
    "rich_table",
    "satisfaction_of",
    "wilson_interval",
    "write_report_files",
]
