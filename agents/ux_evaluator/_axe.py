"""Check ``axe_violations``: axe-core results of every capture, one finding per flagged element.

Identity of a finding: ``scope`` is the page's scope (its URL path, see
:func:`~._locators.page_scope`), ``checkId`` the axe rule id (``image-alt``), ``locator`` the
node's ``target`` joined (``#gallery > img``; frames joined by `` >>> ``, shadow-DOM parts by
`` >> ``), which for an element in the top document is its one, first target. So the same element
failing the same rule on one page is one finding however many captures (routes, journey steps)
saw it, while the same selector on another page, which is another element, is another finding.

Severity follows the node's impact (the rule's when the node has none) through
``rubric_v1.AXE_IMPACT_SEVERITY``; impacts the profile does not list in ``axe_impacts`` are not
findings. Evidence is the screenshot of the first capture that saw it, else its axe file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.agents.ux_evaluator._findings import (
    CheckOutcome,
    labels_text,
    new_finding,
    one_line,
    sentence,
)
from orchestrator.agents.ux_evaluator._inputs import CaptureRef, RunInputs
from orchestrator.gate import Finding
from orchestrator.policy.rubric_v1 import SEVERITY_RANK, Severity, axe_severity
from orchestrator.policy.test_profiles import CheckName, Profile
from orchestrator.validation import explain_validation_error

__all__ = ["check_axe", "target_locator"]

CHECK: CheckName = "axe_violations"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _AxeNode(_Lenient):
    target: list[str | list[str]] = []
    html: str = ""
    failureSummary: str = ""  # noqa: N815 - axe-core's field name
    impact: str | None = None


class _AxeViolation(_Lenient):
    id: str
    impact: str | None = None
    description: str = ""
    help: str = ""
    helpUrl: str = ""  # noqa: N815 - axe-core's field name
    nodes: list[_AxeNode] = []


class _AxeResults(_Lenient):
    violations: list[_AxeViolation]


def target_locator(target: list[str | list[str]]) -> str:
    """An axe node target as one string: frames joined by `` >>> ``, shadow-DOM parts by `` >> ``."""
    parts = [" >> ".join(part) if isinstance(part, list) else part for part in target]
    return " >>> ".join(part.strip() for part in parts if part.strip())


@dataclass
class _Group:
    severity: Severity
    violation: _AxeViolation
    node: _AxeNode
    axe_file: str
    refs: list[CaptureRef] = field(default_factory=list)


def check_axe(inputs: RunInputs, profile: Profile, run_id: str) -> CheckOutcome:
    reason = inputs.no_input_reason()
    if reason is not None:
        return CheckOutcome.skip(CHECK, reason)
    refs = [ref for ref in inputs.captures() if ref.capture.axe]
    if not refs:
        return CheckOutcome.skip(CHECK, "no capture has axe results" + inputs.not_captured())

    problems: list[str] = []
    groups: dict[tuple[str, str, str], _Group] = {}
    read = 0
    for ref in refs:
        results = _read_results(inputs, ref, problems)
        if results is None:
            continue
        read += 1
        for violation in results.violations:
            for node in violation.nodes:
                _add(groups, ref, violation, node, profile, problems)
    if read == 0:
        return CheckOutcome.skip(CHECK, "no readable axe results: " + "; ".join(problems), problems)

    findings = [_finding(inputs, run_id, key, group) for key, group in sorted(groups.items())]
    return CheckOutcome(CHECK, findings=findings, problems=problems)


def _read_results(inputs: RunInputs, ref: CaptureRef, problems: list[str]) -> _AxeResults | None:
    relative = ref.capture.axe or ""
    document, problem = inputs.read_json(relative)
    if problem is not None:
        problems.append(problem)
        return None
    try:
        return _AxeResults.model_validate(document)
    except ValidationError as exc:
        invalid = explain_validation_error(exc, model=_AxeResults, syntax="json")
        problems.append(f"{relative}: not axe-core results ({invalid})")
        return None


def _add(
    groups: dict[tuple[str, str, str], _Group],
    ref: CaptureRef,
    violation: _AxeViolation,
    node: _AxeNode,
    profile: Profile,
    problems: list[str],
) -> None:
    impact = node.impact or violation.impact
    if impact not in profile.axe_impacts:
        if axe_severity(impact) is None:
            problems.append(f"{ref.capture.axe}: rule {violation.id} reports impact {impact!r}; ignored")
        return
    severity = axe_severity(impact)
    if severity is None:
        return
    locator = target_locator(node.target) or "(document)"
    key = (ref.scope, violation.id, locator)
    group = groups.get(key)
    if group is None:
        group = groups[key] = _Group(severity, violation, node, ref.capture.axe or "")
    elif SEVERITY_RANK[severity] < SEVERITY_RANK[group.severity]:
        group.severity = severity
    group.refs.append(ref)


def _finding(inputs: RunInputs, run_id: str, key: tuple[str, str, str], group: _Group) -> Finding:
    scope, rule, locator = key
    violation, node = group.violation, group.node
    rule_help = one_line(violation.help or violation.description or rule)
    html = one_line(node.html, 300)
    summary = one_line(node.failureSummary)
    seen = labels_text(ref.label for ref in group.refs)
    description = (
        f"{sentence(violation.description or rule_help)} Element {locator}"
        + (f" ({html})" if html else "")
        + f" on {scope}, impact {node.impact or violation.impact}; seen in {seen}."
    )
    recommendation = sentence(summary or f"Change the element so that it satisfies: {rule_help}") + (
        f" Rule reference: {violation.helpUrl}" if violation.helpUrl else ""
    )
    return new_finding(
        run_id=run_id,
        check=CHECK,
        severity=group.severity,
        scope=scope,
        check_id=rule,
        locator=locator,
        evidence_path=inputs.evidence_for(group.refs, group.axe_file),
        title=f"{rule_help} ({rule}) on {scope}: {locator}",
        description=description,
        recommendation=recommendation,
    )
