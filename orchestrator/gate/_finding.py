"""A UX finding as rubric v1 defines it, its fingerprint, and the ``findings.jsonl`` format.

A finding has exactly these 13 fields, none null. Its fingerprint is the first 16 hex digits of
sha256 over ``scope``, ``checkId`` and ``locator`` joined by newlines, with the locator cut to
256 characters first, so the same defect on the same element gets the same fingerprint in every
run, whatever its title or evidence. ``findings.jsonl`` starts with a ``_meta`` line and lists
findings sorted by severity (critical first), then check, then fingerprint; the same run dir
always gives byte-identical bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.policy.test_profiles import CHECK_NAMES, CheckName

__all__ = [
    "CHECKS",
    "RUBRIC_VERSION",
    "SEVERITIES",
    "Finding",
    "Severity",
    "findings_lines",
    "fingerprint",
    "sort_findings",
]

RUBRIC_VERSION = "v1"
Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
Check = CheckName
CHECKS: tuple[Check, ...] = CHECK_NAMES
LOCATOR_LIMIT = 256


def fingerprint(scope: str, check_id: str, locator: str) -> str:
    """The stable identity of a finding (16 hex)."""
    material = f"{scope}\n{check_id}\n{locator[:LOCATOR_LIMIT]}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


class Finding(BaseModel):
    """One UX finding; every field is required and non-null."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    run_id: str = Field(min_length=1)
    rubric_version: str = Field(min_length=1)
    severity: Severity
    check: Check
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16}$")
    evidence_path: str = Field(min_length=1)
    suggested_priority: str = Field(min_length=1)
    scope: str = Field(min_length=1)
    checkId: str = Field(min_length=1)  # noqa: N815 - the rubric's field name
    locator: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    recommendation: str = Field(min_length=1)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Severity (critical first), then check, then fingerprint."""
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (rank[f.severity], f.check, f.fingerprint))


def findings_lines(run_id: str, findings: Iterable[Finding], meta: dict[str, Any]) -> str:
    """The whole ``findings.jsonl``: a ``_meta`` line, then the sorted findings, one a line."""
    ordered = sort_findings(findings)
    head = {"_meta": {"run_id": run_id, "rubric_version": RUBRIC_VERSION, "count": len(ordered), **meta}}
    lines = [json.dumps(head, sort_keys=True, ensure_ascii=False)]
    lines += [json.dumps(f.model_dump(), sort_keys=True, ensure_ascii=False) for f in ordered]
    return "\n".join(lines) + "\n"
