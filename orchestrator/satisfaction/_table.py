"""The satisfaction report as a rich table, for the terminal.

One row per scenario: n, satisfied, satisfaction, interval, the pass^k with the largest k, the
threshold, PASS/FAIL and the comparison with the previous run; the caption is the overall line.
User text (scenario ids) is escaped for rich's markup, so a ``[`` in an id never restyles the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.satisfaction._format import (
    comparison_text,
    interval_text,
    largest_pass_hat_k,
    result_text,
    share_text,
)

__all__ = ["rich_table"]


def rich_table(report: Mapping[str, Any]) -> Table:
    """A rich table of a ``latest.json`` document's scenarios, with the overall result as its caption."""
    overall = report.get("overall") or {}
    table = Table(
        title=escape(f"Satisfaction: run {report.get('run_id', '?')}"),
        caption=escape(_overall_line(overall)),
    )
    table.add_column("scenario")
    for name in ("n", "satisfied", "satisfaction", "95% CI", "pass^k max", "threshold"):
        table.add_column(name, justify="right")
    table.add_column("result")
    table.add_column("vs previous")
    for scenario in report.get("scenarios") or []:
        largest = largest_pass_hat_k(scenario.get("pass_hat_k"))
        passed = bool(scenario.get("passed"))
        table.add_row(
            Text(f"{scenario.get('domain')}/{scenario.get('id')}"),
            str(scenario.get("trajectories", 0)),
            str(scenario.get("satisfied", 0)),
            share_text(scenario.get("satisfaction")),
            interval_text(scenario.get("ci95")),
            f"{largest[1]:.2f} (k={largest[0]})" if largest else "n/a",
            share_text(scenario.get("threshold")),
            Text(result_text(passed), style="green" if passed else "bold red"),
            Text(
                comparison_text(scenario.get("comparison")), style=_verdict_style(scenario.get("comparison"))
            ),
        )
    return table


def _overall_line(overall: Mapping[str, Any]) -> str:
    line = (
        f"overall {share_text(overall.get('satisfaction'))} "
        f"(95% CI {interval_text(overall.get('ci95'))}), threshold {share_text(overall.get('threshold'))}: "
        f"{result_text(bool(overall.get('passed')))}; {overall.get('satisfied', 0)} of "
        f"{overall.get('trajectories', 0)} satisfied, {overall.get('unjudged', 0)} unjudged"
    )
    if overall.get("comparison"):
        line += f"; {comparison_text(overall.get('comparison'), long=True)}"
    return line


def _verdict_style(comparison: Mapping[str, Any] | None) -> str:
    verdict = (comparison or {}).get("verdict")
    return {"improved": "green", "regressed": "red"}.get(str(verdict), "")
