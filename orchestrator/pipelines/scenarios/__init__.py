"""The scenario job's pipeline (``orchestrate run | satisfy | validate``): plan, conduct, report.

``_plan`` checks the catalog and settings and plans the trajectories (seeds, chaos); ``_slots``
turns the settings into what each runner slot needs; ``_conductor`` puts trajectories through
the runner pool and judgments through the judge pool; ``_files`` is the run dir's layout;
``_publish`` puts a trajectory's events on the bus; ``_reporting`` writes the satisfaction
report; ``_job`` ties them to the one job runner.
"""

from __future__ import annotations

from orchestrator.pipelines.scenarios._conductor import (
    JudgePhase,
    RunPhase,
    ScenarioConductor,
    Tally,
    errored_trajectory,
    unjudged,
)
from orchestrator.pipelines.scenarios._files import MANIFEST_NAME, RunFiles
from orchestrator.pipelines.scenarios._job import (
    ScenarioRunResult,
    latest_scenario_run,
    run_scenarios,
    satisfy_run,
)
from orchestrator.pipelines.scenarios._plan import (
    CatalogError,
    PlannedScenario,
    RunOptions,
    RunPlan,
    open_catalog,
    plan_run,
)
from orchestrator.pipelines.scenarios._reporting import ScenarioReport, report_run

__all__ = [
    "MANIFEST_NAME",
    "CatalogError",
    "JudgePhase",
    "PlannedScenario",
    "RunFiles",
    "RunOptions",
    "RunPhase",
    "RunPlan",
    "ScenarioConductor",
    "ScenarioReport",
    "ScenarioRunResult",
    "Tally",
    "errored_trajectory",
    "latest_scenario_run",
    "open_catalog",
    "plan_run",
    "report_run",
    "run_scenarios",
    "satisfy_run",
    "unjudged",
]
