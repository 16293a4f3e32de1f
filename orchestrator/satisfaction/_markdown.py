"""The run's ``report.md``: the satisfaction report for people, rendered from the JSON document.

The headline says whether the run passed and how it compares with the previous run (with the test
named), then one table row per domain and per scenario, then the most common reasons per scenario.
Scenario ids, domains and criterion labels are user text: :func:`escape_markdown` keeps a pipe or
a newline in them from breaking a table, and markup in them from rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.satisfaction._format import (
    comparison_text,
    interval_text,
    largest_pass_hat_k,
    result_text,
    share_text,
    unjudged_hint,
)

__all__ = ["escape_markdown", "report_markdown"]

# Characters that start inline Markdown or HTML markup (an entity too), or end a table cell. Block
# markup (``#``, ``-``, ``1.``) only counts at the start of a line, where user text never is.
_MARKUP = re.compile(r"([\\`*_\[\]<>&|~#])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")

_SCENARIO_COLUMNS = (
    "Scenario",
    "Domain",
    "Trajectories",
    "Satisfied",
    "Unjudged",
    "Errored",
    "Satisfaction",
    "95% CI",
    "pass^1",
    "pass^k (largest k)",
    "With chaos",
    "Without chaos",
    "Threshold",
    "Result",
    "vs previous",
)


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_markdown(text: object) -> str:
    """``text`` as literal Markdown on one line: markup characters escaped, line breaks as spaces."""
    one_line = _LINE_BREAKS.sub(" ", str(text)).strip()
    # Control characters (an ESC that would colour a terminal showing the file) are shown escaped.
    visible = _CONTROLS.sub(lambda found: repr(found.group())[1:-1], one_line)
    return _MARKUP.sub(r"\\\1", visible)


def report_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown report of a ``latest.json`` document."""
    overall = report.get("overall") or {}
    lines = [f"# Satisfaction report: run {escape_markdown(report.get('run_id', '?'))}", ""]
    lines += _headline(overall)
    hint = unjudged_hint(int(overall.get("unjudged") or 0))
    if hint:
        lines += [f"> {hint}", ""]
    domains = report.get("domains") or {}
    if domains:
        lines += ["## Domains", "", *_domain_table(domains), ""]
    scenarios = report.get("scenarios") or []
    if scenarios:
        lines += ["## Scenarios", "", *_table(_SCENARIO_COLUMNS, [_scenario_row(s) for s in scenarios]), ""]
        lines += _reasons(scenarios)
    else:
        lines += ["No scenario was run.", ""]
    lines.append(f"_Generated at {escape_markdown(report.get('generated_at', '?'))}._")
    return "\n".join(lines) + "\n"


def _headline(overall: Mapping[str, Any]) -> list[str]:
    satisfaction = overall.get("satisfaction")
    threshold = overall.get("threshold")
    result = result_text(bool(overall.get("passed")))
    lines = [
        f"**Overall satisfaction {share_text(satisfaction)} (95% CI {interval_text(overall.get('ci95'))}), "
        f"threshold {share_text(threshold)}: {result}.**",
        "",
        f"{overall.get('satisfied', 0)} of {overall.get('trajectories', 0)} trajectories satisfied; "
        f"{overall.get('unjudged', 0)} unjudged, {overall.get('errored', 0)} errored.",
        "",
    ]
    failed = overall.get("scenarios_failed") or []
    if failed:
        names = ", ".join(escape_markdown(name) for name in failed)
        lines += [f"Scenarios under their threshold: {names}.", ""]
    comparison = overall.get("comparison")
    if comparison:
        text = comparison_text(comparison, long=True, quote=escape_markdown)
        lines += [f"Compared with the previous run: {text}.", ""]
    else:
        lines += ["No previous run to compare with.", ""]
    return lines


def _domain_table(domains: Mapping[str, Any]) -> list[str]:
    rows = [
        [
            escape_markdown(name),
            str(domain.get("scenarios", 0)),
            share_text(domain.get("satisfaction")),
            share_text(domain.get("threshold")),
            result_text(bool(domain.get("passed"))),
        ]
        for name, domain in domains.items()
    ]
    return _table(("Domain", "Scenarios", "Satisfaction (mean)", "Threshold", "Result"), rows)


def _scenario_row(scenario: Mapping[str, Any]) -> list[str]:
    curve = scenario.get("pass_hat_k") or {}
    largest = largest_pass_hat_k(curve)
    return [
        escape_markdown(scenario.get("id", "?")),
        escape_markdown(scenario.get("domain", "?")),
        str(scenario.get("trajectories", 0)),
        str(scenario.get("satisfied", 0)),
        str(scenario.get("unjudged", 0)),
        str(scenario.get("errored", 0)),
        share_text(scenario.get("satisfaction")),
        interval_text(scenario.get("ci95")),
        share_text(curve.get("1")),
        f"{largest[1]:.2f} (k={largest[0]})" if largest else "n/a",
        _split_text(scenario.get("with_chaos")),
        _split_text(scenario.get("without_chaos")),
        share_text(scenario.get("threshold")),
        result_text(bool(scenario.get("passed"))),
        comparison_text(scenario.get("comparison"), quote=escape_markdown),
    ]


def _split_text(split: Mapping[str, Any] | None) -> str:
    if not split or not split.get("trajectories"):
        return "n/a (n=0)"
    return f"{share_text(split.get('satisfaction'))} (n={split['trajectories']})"


def _reasons(scenarios: list[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for scenario in scenarios:
        unmet = scenario.get("top_unmet") or []
        anti = scenario.get("anti_patterns") or []
        if not unmet and not anti:
            continue
        lines += [f"### {escape_markdown(scenario.get('id', '?'))}", ""]
        for title, entries in (("Most common unmet criteria", unmet), ("Anti-patterns matched", anti)):
            if entries:
                lines += [f"{title}:", ""]
                lines += [
                    f"- {entry.get('count', 0)}\u00d7 {escape_markdown(entry.get('criterion', '?'))}"
                    for entry in entries
                ]
                lines.append("")
    if lines:
        lines = ["## Why trajectories were unsatisfactory", "", *lines]
    return lines


def _table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    # Numbers align right; names, results and comparisons read from the left.
    left = {"Scenario", "Domain", "Result", "vs previous"}
    rule = ["---" if name in left else "---:" for name in header]
    return ["| " + " | ".join(cells) + " |" for cells in (list(header), rule, *rows)]
