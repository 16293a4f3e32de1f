"""The end of a gate run: ``report.md`` in the run dir and one line in the metrics roll-up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.artifacts import append_jsonl_locked, atomic_write_text
from orchestrator.gate import CHECKS, SEVERITIES

__all__ = ["METRICS_SCHEMA_VERSION", "GateSummary", "append_metrics", "render_report"]

METRICS_SCHEMA_VERSION = 1


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
        reason = str(item.get("reason") or item.get("error") or "unknown error").replace("\n", " ")
        where = f"`{item.get('fingerprint')}` {item.get('severity') or ''} {item.get('title') or ''}".rstrip()
        line = f"  - {where}: {reason}"
        if item.get("error_code"):
            line += f" [{item['error_code']}]"
        if item.get("fix"):
            line += f". Fix: {item['fix']}"
        lines.append(line)
    return lines


def render_report(summary: GateSummary, path: Path) -> None:
    """Write ``report.md``: run facts, findings by severity and check, issue actions, driver exits."""
    lines = [
        "# Test Run Report",
        "",
        f"**Run ID:** {summary.run_id}  ",
        f"**Target:** {summary.target}  ",
        f"**Profile:** {summary.profile}  ",
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
        "## Issue Actions" + (" (dry run: nothing was sent)" if summary.dry_run else ""),
        "",
        f"- **Created:** {_ids(summary.issues.get('created', []))}",
        f"- **Commented:** {_ids(summary.issues.get('commented', []))}",
        f"- **No-op (dedup):** {_ids(summary.issues.get('noop', []))}",
        f"- **Skipped (triage):** {_ids(summary.issues.get('skipped', []))}",
        *_failed_lines(summary.issues.get("failed", [])),
        "",
        "## Driver Exit Codes",
        "",
        "| Driver | Exit Code |",
        "|--------|-----------|",
        *(f"| {driver} | {code} |" for driver, code in sorted(summary.driver_exit_codes.items())),
    ]
    if summary.errors:
        lines += ["", "## Errors", "", *(f"- {error}" for error in summary.errors)]
    atomic_write_text(path, "\n".join(lines) + "\n")


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
