"""The end of a gate run: the report in the run dir and one line in the metrics roll-up.

The report is what a person reads after a run, locally or from CI artifacts: ``report.md`` and,
beside it, ``report.html``, the same report as one self-contained page (:mod:`._report_html`).
Both are written from the run's :class:`GateSummary` and from the run dir's own files
(:func:`~._run_files.read_run_files`): every finding with its route, evidence and issue, the
routes visited, the traces, and in a dry run the requests the tracker would have been sent. Text
that came from the target (titles, page text, errors) is escaped for each format, so no page
can inject markup into the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.artifacts import append_jsonl_locked, atomic_write_text
from orchestrator.gate import CHECKS, SEVERITIES
from orchestrator.pipelines.test._report_html import render_html
from orchestrator.pipelines.test._run_files import FINDINGS_FILE, RunFiles, read_run_files, run_dir_link

__all__ = ["METRICS_SCHEMA_VERSION", "REPORT_HTML", "GateSummary", "append_metrics", "render_report"]

METRICS_SCHEMA_VERSION = 1
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class GateSummary:
    """Everything the report, the metrics line and ``--json`` say about one gate run."""

    run_id: str
    target: str
    profile: str
    timestamp: str
    duration_ms: int
    exit_code: int
    verdict: str
    finding_counts: Mapping[str, int]
    check_counts: Mapping[str, int]
    skipped_checks: Mapping[str, str]
    driver_exit_codes: Mapping[str, int]
    issues: Mapping[str, Sequence[Any]]
    dry_run: bool = False
    errors: Sequence[str] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return sum(self.finding_counts.values())

    @property
    def issues_created(self) -> int:
        return len(self.issues.get("created", []))

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "target": self.target,
            "profile": self.profile,
            "timestamp": self.timestamp,
            "duration_ms": self.duration_ms,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "findings": self.findings,
            "finding_counts": dict(self.finding_counts),
            "check_counts": dict(self.check_counts),
            "skipped_checks": dict(self.skipped_checks),
            "driver_exit_codes": dict(self.driver_exit_codes),
            "issues": {key: list(value) for key, value in self.issues.items()},
            "dry_run": self.dry_run,
            "errors": list(self.errors),
        }


def _ids(values: Sequence[Any]) -> str:
    return ", ".join(f"#{v}" if isinstance(v, int) else str(v) for v in values) or "none"


def _failed_lines(failed: Sequence[Any]) -> list[str]:
    """Each finding that should have been filed and was not, with why and the fix."""
    if not failed:
        return ["- **Failed (not filed):** none"]
    lines = [f"- **Failed (not filed):** {len(failed)}"]
    for record in failed:
        item = record if isinstance(record, Mapping) else {"fingerprint": str(record)}
        # Titles come from the page and reasons from the tracker: both are inert text here.
        reason = _md(item.get("reason") or item.get("error") or "unknown error")
        fingerprint = re.sub(r"[^0-9a-f]", "", str(item.get("fingerprint") or ""))
        where = f"`{fingerprint}` {_md(item.get('severity') or '')} {_md(item.get('title') or '')}".rstrip()
        line = f"  - {where}: {reason}"
        code = re.sub(r"[^a-z0-9_]", "", str(item.get("error_code") or ""))
        if code:
            line += f" [{code}]"
        if item.get("fix"):
            line += f". Fix: {_md(item['fix'])}"
        lines.append(line)
    return lines


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: object) -> str:
    """Text from a run (a title, a route, an error) as inert Markdown on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_link(label: str, run_dir: Path, path: str | None) -> str:
    link = run_dir_link(run_dir, path)
    return f"[{_md(label)}]({link})" if link else (_md(path) if path else "")


def _findings_lines(files: RunFiles) -> list[str]:
    lines = ["## Findings", ""]
    if not files.findings:
        return [*lines, "None." if files.evaluated else f"Not evaluated: no readable {FINDINGS_FILE}.", ""]
    lines += [
        "| # | Severity | Check | Route | Title | Evidence | Issue |",
        "|---|----------|-------|-------|-------|----------|-------|",
    ]
    for number, finding in enumerate(files.findings, 1):
        action = files.actions.get(finding.fingerprint)
        lines.append(
            f"| {number} | {finding.severity} | {finding.check} | {_md(finding.scope)} "
            f"| {_md(finding.title)} | {_md_link('evidence', files.run_dir, finding.evidence_path)} "
            f"| {_md(action.describe()) if action else 'not reconciled'} |"
        )
    return [*lines, ""]


def _requests_lines(files: RunFiles) -> list[str]:
    if not files.requests:
        return []
    head = f"## Tracker Requests (dry run on {_md(files.tracker or 'the tracker')}: nothing was sent)"
    return [head, "", *(f"- {_md(request)}" for request in files.requests), ""]


def _routes_lines(files: RunFiles) -> list[str]:
    lines = ["## Routes Visited", ""]
    captures = [(manifest, capture) for manifest in files.manifests for capture in manifest.captures]
    if not captures:
        skipped = [f"{_md(m.driver)}: {_md(m.skipped)}" for m in files.manifests if m.skipped]
        return [*lines, *(f"- skipped by {line}" for line in skipped), "None." if not skipped else "", ""]
    lines += [
        "| Route | Kind | Driver | Result | Screenshot |",
        "|-------|------|--------|--------|------------|",
    ]
    for manifest, capture in captures:
        result = "ok" if capture.ok else f"failed: {_md(capture.error or 'no reason given')}"
        lines.append(
            f"| {_md(capture.name)} | {capture.kind} | {_md(manifest.driver)} | {result} "
            f"| {_md_link('screenshot', files.run_dir, capture.screenshot)} |"
        )
    traces = [trace for manifest in files.manifests for trace in manifest.traces]
    if traces:
        lines += ["", "Playwright traces (open with `npx playwright show-trace FILE`):", ""]
        lines += [f"- {_md_link(trace, files.run_dir, trace)}" for trace in traces]
    return [*lines, ""]


def _problem_lines(files: RunFiles) -> list[str]:
    notes = list(files.problems)
    if files.tracker_error:
        notes.append(f"the tracker could not be used: {files.tracker_error}")
    return ["## Report Notes", "", *(f"- {_md(note)}" for note in notes), ""] if notes else []


def render_report(summary: GateSummary, path: Path) -> None:
    """Write the report: ``report.md`` at ``path`` and ``report.html`` beside it (see the module).

    Run facts, findings by severity and check, every finding with its route, evidence and issue,
    issue actions, the dry run's tracker requests, routes visited, traces, driver exit codes,
    errors, and what could not be read from the run dir.
    """
    files = read_run_files(path.parent)
    lines = [
        "# Test Run Report",
        "",
        f"**Run ID:** {summary.run_id}  ",
        f"**Target:** {summary.target}  ",
        f"**Profile:** {_md(summary.profile)}  ",
        f"**Timestamp:** {summary.timestamp}  ",
        f"**Duration:** {summary.duration_ms}ms  ",
        f"**Verdict:** {summary.verdict}  ",
        f"**Exit code:** {summary.exit_code}",
        "",
        "## Findings Summary",
        "",
        "| Severity | Count |",
        "|----------|-------|",
        *(f"| {severity} | {summary.finding_counts.get(severity, 0)} |" for severity in SEVERITIES),
        "",
        "## Check Breakdown",
        "",
        "| Check | Findings | Note |",
        "|-------|----------|------|",
        *(
            f"| {check} | {summary.check_counts.get(check, 0)} | {summary.skipped_checks.get(check, '')} |"
            for check in CHECKS
        ),
        "",
        *_findings_lines(files),
        "## Issue Actions" + (" (dry run: nothing was sent)" if summary.dry_run else ""),
        "",
        f"- **Created:** {_ids(summary.issues.get('created', []))}",
        f"- **Commented:** {_ids(summary.issues.get('commented', []))}",
        f"- **No-op (dedup):** {_ids(summary.issues.get('noop', []))}",
        f"- **Skipped (triage):** {_ids(summary.issues.get('skipped', []))}",
        *_failed_lines(summary.issues.get("failed", [])),
        "",
        *_requests_lines(files),
        *_routes_lines(files),
        "## Driver Exit Codes",
        "",
        "| Driver | Exit Code |",
        "|--------|-----------|",
        *(f"| {_md(driver)} | {code} |" for driver, code in sorted(summary.driver_exit_codes.items())),
        "",
    ]
    if summary.errors:
        lines += ["## Errors", "", *(f"- {_md(error)}" for error in summary.errors), ""]
    lines += _problem_lines(files)
    atomic_write_text(path, "\n".join(lines))
    atomic_write_text(path.with_name(REPORT_HTML), render_html(summary, files))


def append_metrics(summary: GateSummary, path: Path) -> None:
    """Append the run's schema-v1 line to the metrics roll-up (under a file lock)."""
    record = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "run_id": summary.run_id,
        "timestamp": summary.timestamp,
        "target": summary.target,
        "profile": summary.profile,
        "drivers": sorted(summary.driver_exit_codes),
        "finding_counts": {severity: summary.finding_counts.get(severity, 0) for severity in SEVERITIES},
        "issues": {key: list(summary.issues.get(key, [])) for key in ("created", "commented", "noop")},
        "exit_code": summary.exit_code,
        "duration_ms": summary.duration_ms,
    }
    append_jsonl_locked(path, [record])
