"""What one check produces, and how a finding is built so every check fills it the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.gate import RUBRIC_VERSION, Finding, fingerprint
from orchestrator.policy.rubric_v1 import Severity, suggested_priority
from orchestrator.policy.test_profiles import CheckName

__all__ = ["CheckOutcome", "labels_text", "new_finding", "one_line", "sentence"]

_SPACE = re.compile(r"\s+")
_TITLE_LIMIT = 200
_TEXT_LIMIT = 4000


@dataclass
class CheckOutcome:
    """A check's findings; or why it was skipped; plus problems with inputs it worked around."""

    check: CheckName
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def skip(cls, check: CheckName, reason: str, problems: Iterable[str] = ()) -> CheckOutcome:
        return cls(check=check, skipped=reason, problems=list(problems))


def sentence(text: str) -> str:
    """``text`` on one line, ending with a full stop unless it already ends a sentence."""
    flat = one_line(text)
    return flat if not flat or flat[-1] in ".!?" else flat + "."


def one_line(text: str, limit: int = _TEXT_LIMIT) -> str:
    """``text`` with runs of whitespace (newlines included) collapsed, cut to ``limit`` characters."""
    collapsed = _SPACE.sub(" ", text).strip()
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1].rstrip() + "…"


def labels_text(labels: Iterable[str], *, limit: int = 5) -> str:
    """``a, b, c and 4 more``: the captures a finding was seen in, for descriptions."""
    unique = list(dict.fromkeys(labels))
    shown = ", ".join(unique[:limit])
    rest = len(unique) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def new_finding(
    *,
    run_id: str,
    check: CheckName,
    severity: Severity,
    scope: str,
    check_id: str,
    locator: str,
    evidence_path: str,
    title: str,
    description: str,
    recommendation: str,
) -> Finding:
    """A rubric-v1 finding with its fingerprint and suggested priority filled in.

    Free text is flattened to one line each, so a finding reads the same in a table, an issue
    title or a terminal; ``locator`` keeps its exact text since it feeds the fingerprint.
    """
    locator = locator.strip() or "(document)"
    return Finding(
        run_id=run_id,
        rubric_version=RUBRIC_VERSION,
        severity=severity,
        check=check,
        fingerprint=fingerprint(scope, check_id, locator),
        evidence_path=evidence_path,
        suggested_priority=suggested_priority(severity),
        scope=scope,
        checkId=check_id,
        locator=locator,
        title=one_line(title, _TITLE_LIMIT),
        description=one_line(description),
        recommendation=one_line(recommendation),
    )
