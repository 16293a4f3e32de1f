"""The satisfaction report of a judged run: ``latest.json``, ``history/<run>.json``, ``report.md``.

Outcomes are read from the run's trajectory and judgment files one at a time (only what the
statistics need is kept), compared with the previous run of the same catalog, and checked
against the thresholds (scenario file over the ``satisfaction`` policy's scenario, domain and
global values).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import ProjectConfig
from orchestrator.pipelines.scenarios._files import RunFiles
from orchestrator.satisfaction import (
    ScenarioInfo,
    TrajectoryOutcome,
    build_report,
    find_previous_report,
    load_satisfaction_policy,
    write_report_files,
)
from orchestrator.scenarios import Scenario

__all__ = ["ScenarioReport", "report_run"]


@dataclass(frozen=True)
class ScenarioReport:
    """A written report: its document (``latest.json``), where it went, and the headline."""

    document: dict[str, Any]
    latest_path: Path
    markdown_path: Path
    usage: dict[str, int]

    @property
    def passed(self) -> bool:
        """Every scenario met its threshold (what ``validate``'s exit code says)."""
        return all(scenario.get("passed", False) for scenario in self.document.get("scenarios", []))

    @property
    def summary(self) -> dict[str, Any]:
        overall = self.document.get("overall", {})
        return {
            "trajectories": overall.get("trajectories"),
            "satisfied": overall.get("satisfied"),
            "satisfaction": overall.get("satisfaction"),
            "ci95": overall.get("ci95"),
            "passed": self.passed,
            "failed_scenarios": [
                scenario["id"]
                for scenario in self.document.get("scenarios", [])
                if not scenario.get("passed")
            ],
        }


def report_run(config: ProjectConfig, files: RunFiles, scenarios: Mapping[str, Scenario]) -> ScenarioReport:
    """Build and write the report of the run in ``files`` (see the module docstring)."""
    manifest = files.read_manifest()
    run_id = str(manifest.get("run_id") or files.path.name)
    policy = load_satisfaction_policy(config.root)
    usage: dict[str, int] = {}
    outcomes = list(_outcomes(files, usage))
    infos = [
        ScenarioInfo(
            id=scenario.id, domain=scenario.domain, version=scenario.version, threshold=scenario.threshold
        )
        for scenario in scenarios.values()
    ]
    reports_dir = config.resolve(config.scenarios.reports_dir)
    previous = find_previous_report(reports_dir, run_id)
    document = build_report(run_id, outcomes, infos, policy, previous, usage=usage)
    paths = write_report_files(document, reports_dir=reports_dir, run_dir=files.path)
    return ScenarioReport(document, paths.latest, paths.markdown, usage)


def _outcomes(files: RunFiles, usage: dict[str, int]) -> Iterator[TrajectoryOutcome]:
    for trajectory_id in files.trajectory_ids():
        trajectory = files.read_trajectory(trajectory_id)
        judgment = files.read_judgment(trajectory_id)
        if judgment is not None:
            for key, value in judgment.usage.items():
                usage[key] = usage.get(key, 0) + int(value)
        yield TrajectoryOutcome(
            trajectory_id=trajectory.id,
            scenario_id=trajectory.scenario_id,
            domain=trajectory.domain,
            status=trajectory.status,
            verdict=judgment.verdict if judgment is not None else "unjudged",
            chaos_injected=bool(trajectory.chaos),
            criteria_unmet=tuple(judgment.criteria_unmet) if judgment is not None else (),
            anti_patterns_matched=tuple(judgment.anti_patterns_matched) if judgment is not None else (),
        )
