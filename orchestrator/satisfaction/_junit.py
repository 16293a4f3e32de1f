"""The satisfaction report as JUnit XML, so any CI shows each scenario as a passed or failed test.

One ``<testsuite name="orchestrate.satisfaction">`` (inside a ``<testsuites>`` root, the form CI
tools read most widely) with one ``<testcase classname="<domain>" name="<scenario id>">`` per
scenario. A scenario under its threshold gets a ``<failure>`` whose message says by how much and
why (``satisfaction 0.60 < threshold 0.80 (95% CI 0.31-0.83); top unmet: ...``) and whose text
holds the details. Built with :mod:`xml.etree.ElementTree`, which escapes user text; characters
XML 1.0 cannot hold at all (most control characters) are dropped first, so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from orchestrator.satisfaction._format import (
    comparison_text,
    interval_text,
    largest_pass_hat_k,
    reasons_text,
    share_text,
    unjudged_hint,
)

__all__ = ["SUITE_NAME", "junit_xml"]

SUITE_NAME = "orchestrate.satisfaction"

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(report: Mapping[str, Any]) -> str:
    """The JUnit XML document (with its XML declaration) of a ``latest.json`` document."""
    scenarios = report.get("scenarios") or []
    failures = sum(1 for scenario in scenarios if not scenario.get("passed"))
    totals = {"tests": str(len(scenarios)), "failures": str(failures), "errors": "0", "skipped": "0"}
    root = ET.Element("testsuites", {"name": "orchestrate", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **totals})
    properties = ET.SubElement(suite, "properties")
    overall = report.get("overall") or {}
    for name, value in (
        ("run_id", report.get("run_id")),
        ("satisfaction", share_text(overall.get("satisfaction"))),
        ("threshold", share_text(overall.get("threshold"))),
        ("passed", str(bool(overall.get("passed"))).lower()),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for scenario in scenarios:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _xml_text(scenario.get("domain")), "name": _xml_text(scenario.get("id"))},
        )
        if not scenario.get("passed"):
            failure = ET.SubElement(
                case, "failure", {"type": "satisfaction", "message": _one_line(_failure_message(scenario))}
            )
            failure.text = _xml_text(_details(scenario))
        else:
            ET.SubElement(case, "system-out").text = _xml_text(_details(scenario))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _failure_message(scenario: Mapping[str, Any]) -> str:
    if not scenario.get("trajectories"):
        return f"no trajectories ran; threshold {share_text(scenario.get('threshold'))}"
    message = (
        f"satisfaction {share_text(scenario.get('satisfaction'))} < threshold "
        f"{share_text(scenario.get('threshold'))} (95% CI {interval_text(scenario.get('ci95'))})"
    )
    unmet = reasons_text(scenario.get("top_unmet"))
    if unmet:
        message += f"; top unmet: {unmet}"
    anti = reasons_text(scenario.get("anti_patterns"))
    if anti:
        message += f"; anti-patterns: {anti}"
    return message


def _details(scenario: Mapping[str, Any]) -> str:
    largest = largest_pass_hat_k(scenario.get("pass_hat_k"))
    lines = [
        f"scenario {scenario.get('id')} (domain {scenario.get('domain')}, version {scenario.get('version')})",
        f"trajectories {scenario.get('trajectories', 0)}, satisfied {scenario.get('satisfied', 0)}, "
        f"unjudged {scenario.get('unjudged', 0)}, errored {scenario.get('errored', 0)}",
        f"satisfaction {share_text(scenario.get('satisfaction'))} "
        f"(95% CI {interval_text(scenario.get('ci95'))}), threshold {share_text(scenario.get('threshold'))}",
    ]
    if largest is not None:
        lines.append(f"pass^{largest[0]} {largest[1]:.2f}")
    for label in ("with_chaos", "without_chaos"):
        split = scenario.get(label) or {}
        lines.append(
            f"{label.replace('_', ' ')}: {share_text(split.get('satisfaction'))} "
            f"(n={split.get('trajectories', 0)})"
        )
    lines.append(f"vs previous run: {comparison_text(scenario.get('comparison'), long=True)}")
    for title, key in (("unmet criteria", "top_unmet"), ("anti-patterns", "anti_patterns")):
        entries = scenario.get(key) or []
        if entries:
            lines.append(f"{title}:")
            lines += [f"  {entry.get('count')} x {entry.get('criterion')}" for entry in entries]
    hint = unjudged_hint(int(scenario.get("unjudged") or 0))
    if hint:
        lines.append(hint)
    return "\n".join(lines)


def _one_line(text: str) -> str:
    """A message attribute on one line (CI tools show it as a title)."""
    return " ".join(_xml_text(text).split())


def _xml_text(value: object) -> str:
    return _NOT_XML.sub("", "" if value is None else str(value))
