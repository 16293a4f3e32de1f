"""Planning a scenario run: which scenarios, how many trajectories each, their seeds and chaos.

Everything a user can get wrong is checked here, before a run dir exists: the catalog (every
file, with its line, field and fix), the scenarios and domains named, the chaos profile and each
scenario's chaos rules, and the ``[sut]`` section when a step needs the system under test.

A plan is resumable: ``--resume RUN`` rebuilds the plan the run recorded in its manifest (same
seed, counts, chaos and scenarios as they ran) and skips the trajectories whose file exists.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

from orchestrator.config import ProjectConfig
from orchestrator.errors import ConfigError, OrchestrateError, UsageError
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.scenarios import (
    NO_CHAOS,
    Catalog,
    CatalogProblem,
    ResolvedChaos,
    Scenario,
    TrajectorySpec,
    load_catalog,
    new_run_seed,
    resolve_chaos,
    step_kind,
    trajectory_id,
    trajectory_seed,
    yaml_line,
)
from orchestrator.twins import TwinDefinition, check_seed_data, discover_twins, load_chaos_profiles, load_twin

__all__ = ["CatalogError", "PlannedScenario", "RunOptions", "RunPlan", "open_catalog", "plan_run"]

_SUT_STEPS = frozenset({"user", "http", "browser"})


class CatalogError(OrchestrateError):
    """The catalog has invalid files; every problem is listed (file, line, field, fix)."""

    error_code = "catalog_invalid"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        lines = [str(problem) for problem in catalog.problems]
        super().__init__(
            f"{len(lines)} problem(s) in the scenario catalog {catalog.root}:\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for (``orchestrate run`` options); ``None`` means the configured default."""

    scenario_ids: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    count: int | None = None
    chaos_profile: str | None = None
    parallel: int | None = None
    seed: int | None = None
    resume: str | None = None
    backend: Literal["local", "ray"] = "local"
    """Where slots run: this process, or Ray actors (``ray_address``, else ``[ray] address``)."""
    ray_address: str | None = None


@dataclass(frozen=True)
class PlannedScenario:
    scenario: Scenario
    count: int
    chaos: ResolvedChaos


@dataclass(frozen=True)
class RunPlan:
    """A run's scenarios, counts, seed and chaos; :meth:`specs` yields its trajectories lazily."""

    seed: int
    parallel: int
    chaos_profile: str
    deadline_s: float
    scenarios: list[PlannedScenario]
    twins: list[str]
    """Every twin a slot serves: the union of the scenarios' services."""
    twin_definitions: dict[str, TwinDefinition] = field(repr=False)

    @property
    def total(self) -> int:
        return sum(planned.count for planned in self.scenarios)

    def specs(self, run_id: str, *, skip: frozenset[str] = frozenset()) -> Iterator[TrajectorySpec]:
        """The trajectories to run, scenario by scenario, without those in ``skip`` (already done)."""
        for planned in self.scenarios:
            for index in range(1, planned.count + 1):
                identifier = trajectory_id(planned.scenario.id, index)
                if identifier in skip:
                    continue
                yield TrajectorySpec(
                    run_id=run_id,
                    trajectory_id=identifier,
                    index=index,
                    seed=trajectory_seed(self.seed, planned.scenario.id, index),
                    scenario=planned.scenario,
                    chaos=planned.chaos.config,
                    chaos_profile=planned.chaos.label,
                    deadline_s=self.deadline_s,
                )

    def manifest_config(self) -> dict[str, Any]:
        """The ``config`` of ``run-manifest.json``: enough to resume the run exactly."""
        return {
            "count": {planned.scenario.id: planned.count for planned in self.scenarios},
            "chaos_profile": self.chaos_profile,
            "seed": self.seed,
            "parallel": self.parallel,
            "trajectory_timeout_s": self.deadline_s,
            "twins": self.twins,
            "domains": sorted({planned.scenario.domain for planned in self.scenarios}),
            "scenarios": [
                {
                    "id": planned.scenario.id,
                    "domain": planned.scenario.domain,
                    "version": planned.scenario.version,
                    "count": planned.count,
                    "chaos": planned.chaos.label,
                    "criteria_mode": planned.scenario.criteria_mode,
                    "threshold": planned.scenario.threshold,
                }
                for planned in self.scenarios
            ],
        }


def open_catalog(config: ProjectConfig) -> Catalog:
    """The project's catalog, checked against the twins that exist (problems are collected).

    Beyond the catalog's own checks, each scenario's chaos is resolved as a run resolves it (its
    profile exists, its rules target its twins and their routes, and fit together), so that a
    scenario ``catalog`` passes is one ``run`` accepts.
    """
    twins = discover_twins(config.root)
    definitions: dict[str, TwinDefinition] = {}
    profiles: dict[str, ChaosConfig] = load_chaos_profiles(config.root)

    def definition(twin: str) -> TwinDefinition:
        if twin not in definitions:
            definitions[twin] = load_twin(twin, config.root)
        return definitions[twin]

    def check_data(twin: str, data: Any, path: Path) -> None:
        found = definition(twin)
        check_seed_data(data, found.manifest.entities, twin=twin, source=path, checks=found.seed_checks)

    def check_chaos(scenario: Scenario, path: Path) -> Iterable[CatalogProblem]:
        services = scenario.context.services
        if scenario.chaos is None or any(name not in twins for name in services):
            return []  # no chaos, or a service that is no twin (reported on its own)
        route_ids = {name: sorted(definition(name).route_ids()) for name in services}
        try:
            resolve_chaos(
                scenario, run_profile=None, profiles=profiles, route_ids=route_ids, source=str(path)
            )
        except ConfigError as exc:
            return [CatalogProblem(path, yaml_line(path, exc.field), exc.field, exc.problem, exc.fix)]
        return []

    return load_catalog(
        config.resolve(config.scenarios.catalog_dir),
        twins=twins,
        check_data=check_data,
        check_scenario=check_chaos,
    )


def plan_run(
    config: ProjectConfig,
    options: RunOptions,
    *,
    catalog: Catalog | None = None,
    recorded: Mapping[str, Any] | None = None,
    scenarios_as_ran: Mapping[str, Scenario] | None = None,
) -> RunPlan:
    """Check everything and plan the run (see the module docstring).

    ``recorded`` is a resumed run's manifest ``config`` and ``scenarios_as_ran`` its scenarios;
    with them the plan is the recorded one, whatever the catalog says now.
    """
    settings = config.scenarios
    if recorded is not None and scenarios_as_ran is not None:
        counts: Mapping[str, int] = recorded.get("count", {})
        chosen = [scenarios_as_ran[entry["id"]] for entry in recorded.get("scenarios", [])]
        seed = int(recorded["seed"])
        chaos_profile = str(recorded.get("chaos_profile") or NO_CHAOS)
        parallel = options.parallel or int(recorded.get("parallel", settings.parallel))
        deadline = float(recorded.get("trajectory_timeout_s", settings.trajectory_timeout_s))
    else:
        catalog = catalog if catalog is not None else open_catalog(config)
        if catalog.problems:
            raise CatalogError(catalog)
        if not catalog.entries:
            raise UsageError(
                f"no scenarios in {catalog.root}: add files named <domain>/<id>.scenario.yaml "
                "(`orchestrate init` writes a commented example)"
            )
        chosen = catalog.select(options.scenario_ids, options.domains)
        count = options.count or settings.count
        counts = {scenario.id: (options.count or scenario.count or count) for scenario in chosen}
        seed = options.seed if options.seed is not None else new_run_seed()
        chaos_profile = options.chaos_profile or settings.chaos_profile
        parallel = options.parallel or settings.parallel
        deadline = settings.trajectory_timeout_s
    # A slot serves the scenarios' twins and those the system under test is configured with.
    twins = sorted(
        {service for scenario in chosen for service in scenario.context.services} | set(_sut_twins(config))
    )
    definitions = {name: load_twin(name, config.root) for name in twins}
    profiles: dict[str, ChaosConfig] = load_chaos_profiles(config.root)
    if chaos_profile != NO_CHAOS and chaos_profile not in profiles:
        known = ", ".join([NO_CHAOS, *sorted(profiles)])
        raise UsageError(f"unknown chaos profile {chaos_profile!r} (known: {known})")
    planned = [
        PlannedScenario(
            scenario,
            counts[scenario.id],
            resolve_chaos(
                scenario,
                run_profile=chaos_profile,
                profiles=profiles,
                route_ids={name: sorted(definitions[name].route_ids()) for name in scenario.context.services},
                source=f"scenario {scenario.id}",
            ),
        )
        for scenario in chosen
    ]
    _check_sut(config, chosen)
    return RunPlan(
        seed=seed,
        parallel=parallel,
        chaos_profile=chaos_profile,
        deadline_s=deadline,
        scenarios=planned,
        twins=twins,
        twin_definitions=definitions,
    )


_TWIN_REFERENCE = re.compile(r"\{twins\.([^{}]*?)\.(url|token)\}")
_BRACED = re.compile(r"\{[^{}]*\}")


def _sut_twins(config: ProjectConfig) -> dict[str, str]:
    """The twins ``[sut].env`` names (twin to the variable naming it); a reference that cannot
    work (an unknown twin, another placeholder) is a :class:`ConfigError` before the run starts."""
    known = discover_twins(config.root)
    named: dict[str, str] = {}
    for variable, value in config.sut.env.items():
        for found in _BRACED.finditer(value):
            reference = _TWIN_REFERENCE.fullmatch(found.group())
            if reference is None:
                raise ConfigError(
                    config.config_file,
                    f"sut.env.{variable}",
                    f"holds {found.group()!r}, which is not a placeholder orchestrate fills",
                    'use {twins.NAME.url} or {twins.NAME.token}, e.g. JIRA_URL = "{twins.jira.url}"',
                )
            twin = reference.group(1)
            if twin not in known:
                close = get_close_matches(twin, list(known), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    config.config_file,
                    f"sut.env.{variable}",
                    f"names twin {twin!r}, which does not exist",
                    f"{hint}use one of: {', '.join(sorted(known))}",
                )
            named.setdefault(twin, variable)
    return named


def _check_sut(config: ProjectConfig, scenarios: Sequence[Scenario]) -> None:
    """A step that talks to the system under test needs ``[sut]`` to say where it is; a start
    command must name a program that exists."""
    sut = config.sut
    if sut.start_command:
        program = sut.start_command[0]
        cwd = config.resolve(sut.cwd) if sut.cwd else config.root
        if (
            program not in ("python", "python3")
            and shutil.which(program) is None
            and not (cwd / program).exists()
        ):
            raise ConfigError(
                config.config_file,
                "sut.start_command",
                f"starts {program!r}, which is not a program on PATH",
                'give a program that exists, e.g. start_command = ["python", "app.py", "--port", "{port}"]',
            )
    if sut.base_url or sut.app:
        if sut.start_command and not sut.base_url:
            raise ConfigError(
                config.config_file,
                "sut.base_url",
                "is missing, but start_command is set: the runner cannot tell where the started "
                "system answers",
                'set base_url = "http://127.0.0.1:{port}" and pass {port} to start_command',
            )
        return
    for scenario in scenarios:
        for step in scenario.steps:
            if step_kind(step) in _SUT_STEPS:
                raise ConfigError(
                    config.config_file,
                    "sut",
                    f"is not configured, but scenario {scenario.id} has a {step_kind(step)} step that "
                    "talks to the system under test",
                    'add [sut] to orchestrate.toml with base_url = "http://127.0.0.1:{port}" and '
                    'start_command = ["python", "app.py", "--port", "{port}"], or app = "module:app"',
                )
