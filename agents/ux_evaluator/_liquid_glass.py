"""Check ``liquid_glass``: SwiftUI views of an OS 26+ target should use Liquid Glass, not old materials.

A static scan of the project's ``.swift`` files (comments and strings ignored). A usage is a
material (``.ultraThinMaterial`` ... ``.ultraThickMaterial``, ``Material.thin`` ...,
``NSVisualEffectView``/``UIVisualEffectView``/``UIBlurEffect``) or a ``.blur(``, inside a view
(a type conforming to ``View`` or ``ViewModifier``) that has no ``.glassEffect(``,
``GlassEffectContainer`` or ``.buttonStyle(.glass…)``; outside any view, the whole file is the
view. A ``// orchestrate: allow-material <reason>`` comment on the usage's line or the line before
documents an exception: the finding stays, at low severity, with the reason in its description.

Identity: ``scope`` ``swift:<file relative to the project root>``, ``checkId``
``liquid-glass-material`` or ``liquid-glass-blur``, ``locator`` ``<view>: <usage>`` (for example
``SettingsView: .ultraThinMaterial``), with no line numbers so edits above a view do not change
it; repeated usages in one view are one finding listing every line. The scan is written to
``ux-evaluator/liquid-glass.json`` in the run dir (project-relative paths only), which is every
finding's evidence.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.agents.ux_evaluator._findings import CheckOutcome, new_finding
from orchestrator.agents.ux_evaluator._swift_project import SwiftProject, find_swift_project, walk_files
from orchestrator.agents.ux_evaluator._swift_source import innermost, mask, type_spans
from orchestrator.gate import RUBRIC_VERSION, Finding, fingerprint
from orchestrator.policy.rubric_v1 import (
    ALLOW_MATERIAL_MARKER,
    LIQUID_GLASS_MIN_OS,
    SEVERITY_RANK,
    GlassKind,
    Severity,
    liquid_glass_severity,
)
from orchestrator.policy.test_profiles import CheckName

__all__ = ["EVIDENCE_PATH", "GlassScan", "check_liquid_glass"]

CHECK: CheckName = "liquid_glass"
EVIDENCE_PATH = "ux-evaluator/liquid-glass.json"
_MAX_FILE_BYTES = 2 * 1024 * 1024

_MATERIAL = re.compile(
    r"(?<![\w)\].])\.(?:ultraThin|thin|regular|thick|ultraThick)Material\b"
    r"|\bMaterial\s*\.\s*(?:ultraThin|thin|regular|thick|ultraThick|bar)\b"
    r"|\b(?:NSVisualEffectView|UIVisualEffectView|UIBlurEffect)\b"
)
_BLUR = re.compile(r"\.blur\s*\(")
_GLASS = re.compile(r"\.glassEffect\s*\(|\bGlassEffectContainer\b|\.buttonStyle\s*\(\s*\.glass")
_SWIFTUI_IMPORT = re.compile(r"^\s*(?:@\w+\s+)*import\s+SwiftUI\b", re.MULTILINE)
_CHECK_IDS: dict[GlassKind, str] = {"material": "liquid-glass-material", "blur": "liquid-glass-blur"}


@dataclass
class _Usage:
    line: int
    exception: str | None
    bare_marker: bool


@dataclass
class _Group:
    kind: GlassKind
    usages: list[_Usage] = field(default_factory=list)


@dataclass
class GlassScan:
    """The check's outcome and the evidence document to write (``None`` when it was skipped)."""

    outcome: CheckOutcome
    evidence: dict[str, Any] | None = None


def check_liquid_glass(project_root: Path, swift_project: str | None, run_id: str) -> GlassScan:
    found = find_swift_project(project_root, swift_project)
    if isinstance(found, str):
        return GlassScan(CheckOutcome.skip(CHECK, found))
    project = found
    if not project.targets_liquid_glass():
        why = f"the Swift project at {project.label} does not target OS {LIQUID_GLASS_MIN_OS} or later"
        return GlassScan(CheckOutcome.skip(CHECK, f"{why} ({project.describe_targets()})"))

    problems: list[str] = []
    groups: dict[tuple[str, str, str], _Group] = {}
    scanned = 0
    swiftui = False
    for path in walk_files(project.root, ".swift"):
        shown = _shown_path(path, project_root, project)
        if path.stat().st_size > _MAX_FILE_BYTES:
            problems.append(f"{shown}: larger than {_MAX_FILE_BYTES // (1024 * 1024)} MiB; not scanned")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        scanned += 1
        swiftui = swiftui or bool(_SWIFTUI_IMPORT.search(text))
        _scan_file(f"swift:{shown}", text, groups)
    if not swiftui:
        why = f"the Swift project at {project.label} has no Swift file that imports SwiftUI"
        return GlassScan(CheckOutcome.skip(CHECK, why, problems))

    findings = [_finding(run_id, key, group) for key, group in sorted(groups.items())]
    evidence = _evidence(project, scanned, groups, findings)
    return GlassScan(CheckOutcome(CHECK, findings=findings, problems=problems), evidence)


def _shown_path(path: Path, project_root: Path, project: SwiftProject) -> str:
    try:
        return path.relative_to(project_root).as_posix()
    except ValueError:
        return f"{project.label}/{path.relative_to(project.root).as_posix()}"


def _scan_file(scope: str, text: str, groups: dict[tuple[str, str, str], _Group]) -> None:
    code = mask(text)
    spans = type_spans(code)
    line_starts = [0, *(index + 1 for index, char in enumerate(text) if char == "\n")]
    lines = text.split("\n")
    file_has_glass = bool(_GLASS.search(code))
    hits: list[tuple[int, GlassKind, str]] = [
        (m.start(), "material", re.sub(r"\s+", "", m.group(0))) for m in _MATERIAL.finditer(code)
    ]
    hits += [(m.start(), "blur", ".blur") for m in _BLUR.finditer(code)]
    for offset, kind, token in sorted(hits):
        view = innermost(spans, offset, views_only=True)
        has_glass = bool(_GLASS.search(code, view.start, view.end)) if view else file_has_glass
        if has_glass:
            continue
        owner = view or innermost(spans, offset, views_only=False)
        line = bisect.bisect_right(line_starts, offset)
        exception, bare = _exception(lines, line)
        key = (scope, _CHECK_IDS[kind], f"{owner.name if owner else '(file)'}: {token}")
        groups.setdefault(key, _Group(kind)).usages.append(_Usage(line, exception, bare))


def _exception(lines: list[str], line: int) -> tuple[str | None, bool]:
    """The documented reason on the line or the line before, and whether a marker lacked one."""
    bare = False
    for number in (line, line - 1):
        if 1 <= number <= len(lines):
            match = ALLOW_MATERIAL_MARKER.search(lines[number - 1])
            if match and match.group("reason"):
                return match.group("reason").strip(), False
            bare = bare or bool(match)
    return None, bare


def _severity(group: _Group) -> Severity:
    severities = [
        liquid_glass_severity(group.kind, documented_exception=u.exception is not None) for u in group.usages
    ]
    return min(severities, key=lambda s: SEVERITY_RANK[s])


def _finding(run_id: str, key: tuple[str, str, str], group: _Group) -> Finding:
    scope, check_id, locator = key
    file = scope.removeprefix("swift:")
    view, token = locator.split(": ", 1)
    lines = ", ".join(str(u.line) for u in group.usages)
    where = f"{file} line{'s' if len(group.usages) > 1 else ''} {lines}"
    what = "a blur" if group.kind == "blur" else f"the material {token}"
    reasons = sorted({u.exception for u in group.usages if u.exception})
    notes = ""
    if reasons and all(u.exception for u in group.usages):
        notes = f" Documented exception: {'; '.join(reasons)}."
    elif reasons:
        notes = (
            f" Only some usages carry a documented exception ({'; '.join(reasons)}), so it is not lowered."
        )
    if any(u.bare_marker for u in group.usages):
        notes += " An allow-material comment gives no reason, so it does not count as an exception."
    recommendation = (
        "Use Liquid Glass: replace the background with .glassEffect() (grouping nearby glass in a "
        "GlassEffectContainer), or the .glass button styles for controls. If the material is intended, say "
        "why with `// orchestrate: allow-material <reason>` on the line before."
    )
    return new_finding(
        run_id=run_id,
        check=CHECK,
        severity=_severity(group),
        scope=scope,
        check_id=check_id,
        locator=locator,
        evidence_path=EVIDENCE_PATH,
        title=f"{view} in {file} uses {what} instead of Liquid Glass",
        description=(
            f"{view} uses {what} ({where}) and no .glassEffect(), although the app targets "
            f"OS {LIQUID_GLASS_MIN_OS} or later, where system surfaces are Liquid Glass.{notes}"
        ),
        recommendation=recommendation,
    )


def _evidence(
    project: SwiftProject, scanned: int, groups: dict[tuple[str, str, str], _Group], findings: list[Finding]
) -> dict[str, Any]:
    severities = {f.fingerprint: f.severity for f in findings}
    usages = []
    for (scope, check_id, locator), group in sorted(groups.items()):
        finding_id = fingerprint(scope, check_id, locator)
        for usage in group.usages:
            usages.append(
                {
                    "file": scope.removeprefix("swift:"),
                    "line": usage.line,
                    "locator": locator,
                    "check_id": check_id,
                    "kind": group.kind,
                    "exception": usage.exception,
                    "fingerprint": finding_id,
                    "severity": severities.get(finding_id),
                }
            )
    return {
        "rubric_version": RUBRIC_VERSION,
        "project": project.label,
        "os_targets": dict(sorted(project.os_targets.items())),
        "files_scanned": scanned,
        "usages": usages,
    }
