"""The catalog: every scenario file of a project, read and checked as a whole.

Files live at ``.scenarios/catalog/<domain>/<id>.scenario.yaml``. Reading the catalog never
stops at the first bad file: every file is checked and every problem is reported with its file,
line, field and fix (:class:`CatalogProblem`), so ``orchestrate catalog`` shows them all at once.

Beyond each file's own schema, the catalog checks what needs the whole project: the folder is
the scenario's domain and the file name its id; ids are unique; every service is a twin that
exists; seed data fits each twin's seed format; step checks and placeholders name steps that
exist (and come earlier, for placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.scenarios._model import Scenario, StepCriterion
from orchestrator.userfiles import load_structured_file, validate_document

__all__ = [
    "CATALOG_SUFFIX",
    "PLACEHOLDER",
    "Catalog",
    "CatalogEntry",
    "CatalogProblem",
    "load_catalog",
    "yaml_line",
]

CATALOG_SUFFIX = ".scenario.yaml"
_SUFFIXES = (CATALOG_SUFFIX, ".scenario.yml")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
"""``{{ name.path }}`` in any string of a step."""
_PLACEHOLDER_ROOTS = ("context", "twins")


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong with one file: where (file, line, field), what, and how to fix it."""

    file: Path
    line: int | None
    field: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.field}: {self.problem}. Fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "line": self.line,
            "field": self.field,
            "problem": self.problem,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    scenario: Scenario


@dataclass
class Catalog:
    """The valid scenarios (by id) and the problems found; ``root`` is the catalog folder."""

    root: Path
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    problems: list[CatalogProblem] = field(default_factory=list)

    @property
    def scenarios(self) -> list[Scenario]:
        return [entry.scenario for entry in self.entries.values()]

    def domains(self) -> dict[str, list[Scenario]]:
        found: dict[str, list[Scenario]] = {}
        for scenario in self.scenarios:
            found.setdefault(scenario.domain, []).append(scenario)
        return dict(sorted(found.items()))

    def select(self, ids: Sequence[str] = (), domains: Sequence[str] = ()) -> list[Scenario]:
        """The scenarios named (all when none is named), in the domain(s) given; unknown names raise."""
        unknown = [name for name in ids if name not in self.entries]
        if unknown:
            known = ", ".join(sorted(self.entries)) or "none"
            raise OrchestrateError(f"no scenario {unknown[0]!r} in {self.root} (known: {known})")
        known_domains = {scenario.domain for scenario in self.scenarios}
        missing = [name for name in domains if name not in known_domains]
        if missing:
            known = ", ".join(sorted(known_domains)) or "none"
            raise OrchestrateError(f"no domain {missing[0]!r} in {self.root} (known: {known})")
        chosen = [self.entries[name].scenario for name in ids] if ids else self.scenarios
        if domains:
            chosen = [scenario for scenario in chosen if scenario.domain in domains]
        return sorted(chosen, key=lambda scenario: (scenario.domain, scenario.id))


def load_catalog(
    root: Path,
    *,
    twins: Mapping[str, Any] | None = None,
    check_data: Any = None,
) -> Catalog:
    """Read every scenario file under ``root`` (see the module docstring).

    ``twins`` maps the names of the twins that exist to anything (only the names are used);
    ``check_data(twin, data, path)`` validates seed data and raises :class:`ConfigError`. Both
    are optional so the catalog can be read without the twins machinery.
    """
    catalog = Catalog(root)
    if not root.is_dir():
        return catalog
    files = sorted(path for path in root.rglob("*") if path.is_file() and path.name.endswith(_SUFFIXES))
    seen: dict[str, Path] = {}
    for path in files:
        scenario = _read(path, catalog.problems)
        if scenario is None:
            continue
        problems = list(_check(path, root, scenario, seen, twins, check_data))
        catalog.problems.extend(problems)
        if not problems:
            seen[scenario.id] = path
            catalog.entries[scenario.id] = CatalogEntry(path, scenario)
    return catalog


def _read(path: Path, problems: list[CatalogProblem]) -> Scenario | None:
    try:
        document = load_structured_file(path)
        return validate_document(Scenario, document, path=path, syntax="yaml")
    except ConfigError as exc:
        problems.append(_problem(path, exc))
        return None


def _problem(path: Path, exc: ConfigError) -> CatalogProblem:
    line = _line_in_message(exc.problem) or yaml_line(path, exc.field)
    return CatalogProblem(path, line, exc.field, exc.problem, exc.fix)


def _check(
    path: Path,
    root: Path,
    scenario: Scenario,
    seen: Mapping[str, Path],
    twins: Mapping[str, Any] | None,
    check_data: Any,
) -> Iterable[CatalogProblem]:
    def problem(field_name: str, text: str, fix: str) -> CatalogProblem:
        return CatalogProblem(path, yaml_line(path, field_name), field_name, text, fix)

    relative = path.relative_to(root)
    stem = path.name.removesuffix(".yml").removesuffix(".yaml").removesuffix(".scenario")
    if len(relative.parts) != 2 or relative.parts[0] != scenario.domain:
        yield problem(
            "domain",
            f"is {scenario.domain!r}, but the file is not in the catalog folder of that domain",
            f"move the file to {root / scenario.domain / path.name}, or change domain",
        )
    if stem != scenario.id:
        yield problem(
            "id",
            f"is {scenario.id!r}, but the file is named {path.name}",
            f"rename the file to {scenario.id}{CATALOG_SUFFIX}, or change id",
        )
    if scenario.id in seen:
        yield problem(
            "id", f"{scenario.id!r} is already used by {seen[scenario.id]}", "give each scenario its own id"
        )
    if twins is not None:
        for index, service in enumerate(scenario.context.services):
            if service not in twins:
                yield problem(
                    f"context.services[{index}]",
                    f"names {service!r}, which is not a twin",
                    f"use one of: {', '.join(sorted(twins))}, or add .scenarios/twins/{service}/twin.json",
                )
    if check_data is not None:
        for twin, data in scenario.context.data.items():
            if twins is not None and twin not in twins:
                continue
            try:
                check_data(twin, data, path)
            except ConfigError as exc:
                field_name = (
                    f"context.data.{twin}.{exc.field}"
                    if not exc.field.startswith("(")
                    else f"context.data.{twin}"
                )
                yield problem(field_name, exc.problem, exc.fix)
    yield from _check_steps(scenario, problem)


def _check_steps(scenario: Scenario, problem: Any) -> Iterable[CatalogProblem]:
    ids = scenario.step_ids()
    for name in ("satisfaction_criteria", "anti_patterns"):
        for index, criterion in enumerate(getattr(scenario, name)):
            if isinstance(criterion, StepCriterion) and criterion.step.id not in ids:
                yield problem(
                    f"{name}[{index}].step.id",
                    f"names step {criterion.step.id!r}, which does not exist",
                    f"use one of: {', '.join(ids)}",
                )
    for index, step in enumerate(scenario.steps):
        earlier = set(ids[:index])
        for reference in _placeholders(step.model_dump(mode="json", by_alias=True)):
            root_name = reference.split(".", 1)[0].split("[", 1)[0]
            if root_name in _PLACEHOLDER_ROOTS or root_name in earlier:
                continue
            later = " (it runs later: a placeholder can only use earlier steps)" if root_name in ids else ""
            yield problem(
                f"steps[{index}]",
                f"uses the placeholder {{{{{reference}}}}}, but {root_name!r} is no earlier step{later}",
                f"name an earlier step ({', '.join(ids[:index]) or 'none yet'}), context.state.KEY "
                "or twins.NAME.url",
            )


def _placeholders(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from (found.group(1) for found in PLACEHOLDER.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from _placeholders(item)


# --------------------------------------------------------------------------------- lines


_LINE_IN_TEXT = re.compile(r"\bat line (\d+)")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _line_in_message(text: str) -> int | None:
    found = _LINE_IN_TEXT.search(text)
    return int(found.group(1)) if found else None


def yaml_line(path: Path, field_name: str) -> int | None:
    """The 1-based line of ``field_name`` (``steps[2].http.path``) in the YAML file ``path``.

    The deepest part of the location that exists in the file is used (an unknown key's line is
    its own; a missing key's is its parent's). ``None`` when the file does not parse.
    """
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key, index in _PART.findall(field_name.replace('"', "")):
        child: yaml.Node | None = None
        if key and isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    line = key_node.start_mark.line + 1
                    child = value_node
                    break
        elif index and isinstance(node, yaml.SequenceNode):
            position = int(index)
            if position < len(node.value):
                child = node.value[position]
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
