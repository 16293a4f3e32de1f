"""Reading pack files and domain scenario files, with every problem at its file, line and field.

Reading never stops at the first mistake: every problem of the pack and of each scenario file it
references is collected (a :class:`~orchestrator.scenarios.CatalogProblem`: file, line, field,
problem, fix) and raised together as one :class:`PackError`. A problem inside a referenced file
names that file and its line, and says which entry of the pack referenced it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.packs._model import DomainScenario, PackFile, scenario_problems
from orchestrator.scenarios import CatalogProblem, yaml_line
from orchestrator.userfiles import load_structured_file
from orchestrator.validation import explain_validation_errors

__all__ = ["PACK_SUFFIX", "SCENARIO_SUFFIX", "Pack", "PackError", "load_domain_scenario", "load_pack"]

PACK_SUFFIX = ".pack.yaml"
SCENARIO_SUFFIX = ".scenario.yaml"
_Model = TypeVar("_Model", bound=BaseModel)
_NO_RULES = {"rules": False}  # rules across steps are reported by scenario_problems, field by field


class PackError(OrchestrateError):
    """A pack or domain scenario file is invalid; every problem is listed (file, line, field, fix)."""

    error_code = "pack_invalid"

    def __init__(self, path: Path, problems: list[CatalogProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        lines = [str(problem) for problem in problems]
        super().__init__(f"{len(lines)} problem(s) in {path}:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Pack:
    """A pack read and checked: its settings and its scenarios, each with the file it came from."""

    path: Path
    id: str
    domain: str
    gate: int
    max_iterations: int
    scenarios: tuple[DomainScenario, ...]
    sources: Mapping[str, Path]
    """The file each scenario was written in, by scenario id (the pack file for inline ones)."""

    def scenario(self, scenario_id: str) -> DomainScenario:
        """The scenario with this id; an unknown id raises :class:`KeyError`."""
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise KeyError(scenario_id)


def load_pack(path: str | Path) -> Pack:
    """Read ``path`` (a ``*.pack.yaml``) and every scenario file it references; raise :class:`PackError`."""
    path = Path(path)
    problems: list[CatalogProblem] = []
    document = _read(path, problems)
    pack = _validate(PackFile, document, path, "", problems) if document is not None else None
    if pack is None:
        raise PackError(path, problems)
    scenarios: list[DomainScenario] = []
    sources: dict[str, Path] = {}
    where: dict[str, str] = {}
    for index, entry in enumerate(pack.scenarios):
        at = f"scenarios[{index}]"
        if isinstance(entry, DomainScenario):
            scenario: DomainScenario | None = entry
            problems.extend(_rules(entry, path, f"{at}."))
            source = path
        else:
            source = (path.parent / entry).resolve()
            scenario = _referenced(source, path, at, problems)
        if scenario is None:
            continue
        if scenario.id in sources:
            field = f"{at}.id" if source == path else at
            problems.append(
                _problem(
                    path,
                    field,
                    f"has scenario id {scenario.id!r}, already used by {where[scenario.id]}",
                    "give each scenario of the pack its own id",
                )
            )
            continue
        scenarios.append(scenario)
        sources[scenario.id] = source
        where[scenario.id] = at if source == path else f"{at} ({source})"
    if problems:
        raise PackError(path, problems)
    return Pack(path, pack.id, pack.domain, pack.gate, pack.max_iterations, tuple(scenarios), sources)


def load_domain_scenario(path: str | Path) -> DomainScenario:
    """Read one ``*.scenario.yaml`` with ``kind: domain``; raise :class:`PackError` listing its problems."""
    path = Path(path)
    problems: list[CatalogProblem] = []
    scenario = _scenario_file(path, problems)
    if scenario is None or problems:
        raise PackError(path, problems)
    return scenario


def _referenced(source: Path, pack: Path, at: str, problems: list[CatalogProblem]) -> DomainScenario | None:
    """The scenario file a pack entry names, its problems marked with the entry that named it."""
    if not source.is_file():
        problems.append(
            _problem(
                pack,
                at,
                f"names {source}, which is not a file",
                "write the path of a .scenario.yaml file relative to the pack file, or the scenario inline",
            )
        )
        return None
    found: list[CatalogProblem] = []
    scenario = _scenario_file(source, found)
    line = yaml_line(pack, at)
    via = f" (referenced by {pack}:{line} {at})" if line else f" (referenced by {pack} {at})"
    problems.extend(
        CatalogProblem(item.file, item.line, item.field, item.problem + via, item.fix) for item in found
    )
    return scenario if not found else None


def _scenario_file(path: Path, problems: list[CatalogProblem]) -> DomainScenario | None:
    document = _read(path, problems)
    if document is None:
        return None
    if isinstance(document, Mapping) and document.get("kind") != "domain":
        kind = document.get("kind")
        problems.append(
            _problem(
                path,
                "kind",
                "is required but missing" if kind is None else f"is {kind!r}, not domain",
                "a domain scenario file starts with `kind: domain`",
            )
        )
        return None
    scenario = _validate(DomainScenario, document, path, "", problems)
    if scenario is not None:
        problems.extend(_rules(scenario, path, ""))
    return scenario


def _read(path: Path, problems: list[CatalogProblem]) -> Any:
    try:
        document = load_structured_file(path)
    except ConfigError as exc:
        problems.append(CatalogProblem(path, yaml_line(path, exc.field), exc.field, exc.problem, exc.fix))
        return None
    if document is None:
        problems.append(_problem(path, "(document)", "is empty", "write the file's fields, e.g. id: ..."))
    return document


def _validate(
    model: type[_Model], document: Any, path: Path, prefix: str, problems: list[CatalogProblem]
) -> _Model | None:
    try:
        return model.model_validate(document, context=_NO_RULES)
    except ValidationError as exc:
        for problem in explain_validation_errors(exc, model=model, syntax="yaml"):
            problems.append(_problem(path, prefix + problem.field, problem.problem, problem.fix))
    return None


def _rules(scenario: DomainScenario, path: Path, prefix: str) -> Iterator[CatalogProblem]:
    for field, problem, fix in scenario_problems(scenario):
        yield _problem(path, prefix + field, problem, fix)


def _problem(path: Path, field: str, problem: str, fix: str) -> CatalogProblem:
    return CatalogProblem(path, yaml_line(path, field), field, problem, fix)
