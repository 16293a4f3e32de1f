"""The analysis as files: ``analysis.json`` for programs and ``backlog.md`` for people and coders.

Each backlog item is one line ``- [category] scenario/step: problem`` (the shape coders parse),
with the suggested change and the evidence indented below it, never as bullets of their own.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.agents.analyst._model import Analysis
from orchestrator.artifacts import atomic_write_json, atomic_write_text

__all__ = ["ANALYSIS_FILE", "BACKLOG_FILE", "backlog_markdown", "write_analysis"]

ANALYSIS_FILE = "analysis.json"
BACKLOG_FILE = "backlog.md"


def _one_line(text: str) -> str:
    # An error may span lines; a line break would split the item and hide its tail from coders.
    return " ".join(text.split())


def backlog_markdown(analysis: Analysis) -> str:
    """A readable backlog: the score, counts and decision at the top, then one line per item."""
    counts = analysis.counts
    decision = (
        f"the user must decide: {_one_line(analysis.decision_reason or '')}"
        if analysis.requires_user_decision
        else "none needed"
    )
    lines = [
        "# Backlog",
        "",
        f"Score: {analysis.score}/100",
        f"Steps: {counts.accepted} accepted, {counts.partial} partial, "
        f"{counts.needs_exact_capability} needs_exact_capability, {counts.blocked} blocked",
        f"Decision: {decision}",
        f"Formula: {analysis.formula}",
        "",
        "## Items",
        "",
    ]
    if not analysis.backlog:
        lines.append("Nothing to fix: every expectation was met.")
    for item in analysis.backlog:
        lines.append(f"- [{item.category}] {item.scenario}/{item.step}: {_one_line(item.problem)}")
        lines.append(f"  Suggested change: {_one_line(item.suggested_change)}")
        if item.evidence:
            lines.append(f"  Evidence: {', '.join(item.evidence)}")
    return "\n".join(lines) + "\n"


def write_analysis(analysis: Analysis, directory: Path) -> tuple[Path, Path]:
    """Write ``analysis.json`` and ``backlog.md`` into ``directory`` atomically; their paths."""
    json_path, markdown_path = directory / ANALYSIS_FILE, directory / BACKLOG_FILE
    atomic_write_json(json_path, analysis)
    atomic_write_text(markdown_path, backlog_markdown(analysis))
    return json_path, markdown_path
