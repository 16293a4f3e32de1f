"""Where satisfaction reports live, and the project's thresholds.

A report is written three times, each file atomically (:mod:`orchestrator.artifacts`):
``<reports_dir>/history/<run_id>.json`` (kept, so the next run can compare with it), the run's
``report.md``, and last ``<reports_dir>/latest.json``, so a reader of ``latest.json`` never sees a
report whose history copy is missing. :func:`find_previous_report` reads the history back.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.policy.satisfaction import POLICY_NAME, SatisfactionPolicy
from orchestrator.policyfiles import load_policy_model
from orchestrator.satisfaction._markdown import report_markdown
from orchestrator.satisfaction._report import REPORT_SCHEMA_VERSION

__all__ = ["ReportPaths", "find_previous_report", "load_satisfaction_policy", "write_report_files"]

log = structlog.get_logger(__name__)

HISTORY_DIR = "history"
LATEST_NAME = "latest.json"
MARKDOWN_NAME = "report.md"

_EXAMPLES = {
    "global": "use a share from 0 to 1, for example `global: 0.8`",
    "domains": "map each domain to a share from 0 to 1, for example `domains: {billing: 0.9}`",
    "scenarios": "map each scenario id to a share from 0 to 1, for example `scenarios: {refund: 0.7}`",
}
# A run id becomes a file name: one path part, not hidden.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """The files :func:`write_report_files` wrote."""

    latest: Path
    history: Path
    markdown: Path


def load_satisfaction_policy(project_root: str | os.PathLike[str] | None) -> SatisfactionPolicy:
    """The thresholds: the shipped defaults overridden by ``.orchestrator/policy/satisfaction.yaml``.

    A bad file raises :class:`~orchestrator.errors.ConfigError` naming the file and the field.
    """
    return load_policy_model(POLICY_NAME, SatisfactionPolicy, project_root, examples=_EXAMPLES)


def write_report_files(report: dict[str, Any], *, reports_dir: Path, run_dir: Path) -> ReportPaths:
    """Write ``report`` as history and latest JSON under ``reports_dir``, and ``report.md`` in ``run_dir``.

    Each file is replaced atomically; an unwritable one raises
    :class:`~orchestrator.errors.ArtifactError`.
    """
    run_id = report.get("run_id")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"the report's run_id must be usable as a file name, got {run_id!r}")
    paths = ReportPaths(
        latest=reports_dir / LATEST_NAME,
        history=reports_dir / HISTORY_DIR / f"{run_id}.json",
        markdown=run_dir / MARKDOWN_NAME,
    )
    markdown = report_markdown(report)  # before any write: a report it cannot render changes nothing
    atomic_write_json(paths.history, report)
    atomic_write_text(paths.markdown, markdown)
    atomic_write_json(paths.latest, report)
    return paths


def find_previous_report(reports_dir: Path, run_id: str) -> dict[str, Any] | None:
    """The history report of the latest run before ``run_id``, or ``None`` when there is none.

    Run ids are ordered as text with their numbers compared as numbers (``2026-11-29-1000`` comes
    after ``2026-11-29-999``). A history file that cannot be read, is not JSON or is not a
    satisfaction report is skipped with a warning, and the one before it is tried.
    """
    directory = reports_dir / HISTORY_DIR
    try:
        candidates = [path for path in directory.glob("*.json") if path.is_file()]
    except OSError as exc:
        log.warning("satisfaction history could not be listed", path=str(directory), error=str(exc))
        return None
    current = _run_order(run_id)
    earlier = sorted(
        (path for path in candidates if _run_order(path.stem) < current),
        key=lambda path: _run_order(path.stem),
    )
    for path in reversed(earlier):
        document = _read_report(path)
        if document is not None:
            return document
    return None


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("unreadable satisfaction report skipped", path=str(path), error=str(exc))
        return None
    if not isinstance(document, dict) or document.get("schema_version") != REPORT_SCHEMA_VERSION:
        log.warning(
            "satisfaction report skipped: not a report of this schema",
            path=str(path),
            expected_schema_version=REPORT_SCHEMA_VERSION,
        )
        return None
    return document


def _run_order(run_id: str) -> tuple[tuple[int, int | str], ...]:
    # Each part is (0, number) or (1, text), so numbers and text never meet in one comparison.
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(run_id) if part)
