"""The scenario job's shared contracts: scenario files, the catalog, trajectories, judgments.

Users write scenario files (:class:`Scenario`) in ``.scenarios/catalog/<domain>/``; the catalog
reads and checks them (:func:`load_catalog`). The scenario conductor hands each trajectory
runner a :class:`TrajectorySpec` (capability :data:`RUN_TRAJECTORY`) and gets a
:class:`Trajectory` back; it hands the judge a :class:`JudgeRequest` (:data:`JUDGE_TRAJECTORY`)
and gets a :class:`Judgment`. Runner and judge share these models, never each other's code.
"""

from __future__ import annotations

from orchestrator.scenarios._catalog import (
    CATALOG_SUFFIX,
    PLACEHOLDER,
    Catalog,
    CatalogEntry,
    CatalogProblem,
    load_catalog,
    yaml_line,
)
from orchestrator.scenarios._chaos import NO_CHAOS, ResolvedChaos, resolve_chaos, rules_to_modes
from orchestrator.scenarios._checks import (
    ApiCallCheck,
    ApiCallCriterion,
    Count,
    CountRange,
    Criterion,
    CriterionCheck,
    StateAssertion,
    StepCheck,
    StepCriterion,
    TwinStateCheck,
    TwinStateCriterion,
    count_holds,
    criterion_label,
    json_equal,
)
from orchestrator.scenarios._contracts import (
    JUDGE_TRAJECTORY,
    RUN_TRAJECTORY,
    JudgeDone,
    JudgeRequest,
    TrajectoryDone,
    TrajectorySpec,
)
from orchestrator.scenarios._judgment import JUDGMENT_SCHEMA_VERSION, JudgeKind, Judgment, Verdict
from orchestrator.scenarios._model import (
    SCENARIO_ID,
    ChaosInjection,
    JudgeSettings,
    Persona,
    Scenario,
    ScenarioContext,
)
from orchestrator.scenarios._seeds import new_run_seed, trajectory_id, trajectory_seed, twin_seed
from orchestrator.scenarios._steps import (
    BrowserStep,
    Expectation,
    HttpRequest,
    HttpStep,
    ScenarioStep,
    TwinAction,
    TwinStep,
    UserStep,
    WaitForSpec,
    WaitForStep,
    step_id_of,
    step_kind,
)
from orchestrator.scenarios._trajectory import (
    TRAJECTORY_SCHEMA_VERSION,
    ChaosRecord,
    EventType,
    StepResult,
    StepStatus,
    Trajectory,
    TrajectoryEvent,
    TrajectoryStatus,
)

__all__ = [
    "CATALOG_SUFFIX",
    "JUDGE_TRAJECTORY",
    "JUDGMENT_SCHEMA_VERSION",
    "NO_CHAOS",
    "PLACEHOLDER",
    "RUN_TRAJECTORY",
    "SCENARIO_ID",
    "TRAJECTORY_SCHEMA_VERSION",
    "ApiCallCheck",
    "ApiCallCriterion",
    "BrowserStep",
    "Catalog",
    "CatalogEntry",
    "CatalogProblem",
    "ChaosInjection",
    "ChaosRecord",
    "Count",
    "CountRange",
    "Criterion",
    "CriterionCheck",
    "EventType",
    "Expectation",
    "HttpRequest",
    "HttpStep",
    "JudgeDone",
    "JudgeKind",
    "JudgeRequest",
    "JudgeSettings",
    "Judgment",
    "Persona",
    "ResolvedChaos",
    "Scenario",
    "ScenarioContext",
    "ScenarioStep",
    "StateAssertion",
    "StepCheck",
    "StepCriterion",
    "StepResult",
    "StepStatus",
    "Trajectory",
    "TrajectoryDone",
    "TrajectoryEvent",
    "TrajectorySpec",
    "TrajectoryStatus",
    "TwinAction",
    "TwinStateCheck",
    "TwinStateCriterion",
    "TwinStep",
    "UserStep",
    "Verdict",
    "WaitForSpec",
    "WaitForStep",
    "count_holds",
    "criterion_label",
    "json_equal",
    "load_catalog",
    "new_run_seed",
    "resolve_chaos",
    "rules_to_modes",
    "step_id_of",
    "step_kind",
    "trajectory_id",
    "trajectory_seed",
    "twin_seed",
    "yaml_line",
]
