"""The catalog: every scenario file of a project, read and checked as a whole.

Files live at ``.scenarios/catalog/<domain>/<id>.scenario.yaml``. Reading the catalog never
stops at the first bad file or the first mistake in a file: every file is checked and every
problem is reported with its file, line, field and fix (:class:`CatalogProblem`), so
``orchestrate catalog`` shows them all at once.

Beyond each file's own schema, the catalog checks what would make a run refuse the scenario or
judge it wrongly: the folder is the scenario's domain and the file name its id; ids are unique;
every service is a twin that exists; seed data is for a service and fits that twin's seed
format; criteria, anti-patterns and twin steps name services of the scenario; step checks name
steps that exist; and every placeholder resolves the way the runner resolves it (an earlier
step's ``json.PATH``, ``text`` or ``status``, a ``context.state`` value that is there, a
service's ``twins.NAME.url`` or ``token``; a JSONPath that compiles; no ``{{`` left unclosed).
The caller may add its own checks (``check_scenario``: the planner resolves each scenario's
chaos).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonpath
import yaml
from pydantic import ValidationError

from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.scenarios._checks import ApiCallCriterion, StepCriterion, TwinStateCriterion
from orchestrator.scenarios._model import Scenario
from orchestrator.scenarios._steps import STEP_ID_REUSED, TwinStep, WaitForStep
from orchestrator.userfiles import load_structured_file
from orchestrator.validation import explain_validation_errors, format_loc

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
_ProblemAt = Callable[[str, str, str], "CatalogProblem"]
"""Makes the problem at a field of the file being checked: ``(field, problem, fix)``."""


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
    check_scenario: Callable[[Scenario, Path], Iterable[CatalogProblem]] | None = None,
) -> Catalog:
    """Read every scenario file under ``root`` (see the module docstring).

    ``twins`` maps the names of the twins that exist to anything (only the names are used);
    ``check_data(twin, data, path)`` validates seed data and raises :class:`ConfigError`;
    ``check_scenario(scenario, path)`` yields more problems of a valid file. All are optional
    so the catalog can be read without the twins machinery.
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
        if check_scenario is not None:
            problems.extend(check_scenario(scenario, path))
        catalog.problems.extend(problems)
        if not problems:
            seen[scenario.id] = path
            catalog.entries[scenario.id] = CatalogEntry(path, scenario)
    return catalog


def _read(path: Path, problems: list[CatalogProblem]) -> Scenario | None:
    try:
        return Scenario.model_validate(load_structured_file(path))
    except ConfigError as exc:
        problems.append(_problem(path, exc))
    except ValidationError as exc:
        problems.extend(_invalid(path, exc))
    return None


def _invalid(path: Path, exc: ValidationError) -> Iterator[CatalogProblem]:
    """Every error of a file that is no valid scenario, each at its own field and line."""
    first = exc.errors(include_url=False)[0]
    if first["type"] == STEP_ID_REUSED:  # the model sees it as a whole; the user fixes one step
        context = first.get("ctx", {})
        at = f"steps[{context['index']}].id"
        yield CatalogProblem(
            path,
            yaml_line(path, at),
            at,
            f"is {context['step_id']!r}, the id of steps[{context['first']}] too (a step without "
            "an id is step_NN, its position)",
            "give each step its own id",
        )
        return
    for problem in explain_validation_errors(exc, model=Scenario, syntax="yaml"):
        yield CatalogProblem(
            path, yaml_line(path, problem.field), problem.field, problem.problem, problem.fix
        )


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
    services = scenario.context.services
    if twins is not None:
        for index, service in enumerate(services):
            if service not in twins:
                yield problem(
                    f"context.services[{index}]",
                    f"names {service!r}, which is not a twin",
                    f"use one of: {', '.join(sorted(twins))}, or add .scenarios/twins/{service}/twin.json",
                )
    for twin in scenario.context.data:
        if twin not in services:
            yield problem(
                f"context.data.{twin}",
                f"is seed data for {twin!r}, which is not in context.services",
                f"add {twin} to context.services, or remove its data",
            )
    if check_data is not None:
        for twin, data in scenario.context.data.items():
            if twin not in services or (twins is not None and twin not in twins):
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
    yield from _check_services(scenario, problem)
    yield from _check_steps(scenario, problem)


def _check_services(scenario: Scenario, problem: _ProblemAt) -> Iterator[CatalogProblem]:
    """Criteria, anti-patterns and twin steps may only name the twins the scenario is served."""
    services = scenario.context.services
    for field_name, service in _service_uses(scenario):
        if service not in services:
            yield problem(
                field_name,
                f"names twin {service!r}, which is not in context.services (a check of it would "
                "never find anything)",
                f"use one of: {', '.join(services) or 'none'}, or add {service} to context.services",
            )


def _service_uses(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Every ``(field, service)`` a check or twin step names."""
    for name in ("satisfaction_criteria", "anti_patterns"):
        for index, criterion in enumerate(getattr(scenario, name)):
            if isinstance(criterion, TwinStateCriterion):
                yield f"{name}[{index}].twin_state.service", criterion.twin_state.service
            elif isinstance(criterion, ApiCallCriterion):
                yield f"{name}[{index}].api_call.service", criterion.api_call.service
    for index, step in enumerate(scenario.steps):
        if isinstance(step, TwinStep):
            yield f"steps[{index}].twin.service", step.twin.service
        elif isinstance(step, WaitForStep):
            check = step.wait_for.api_call or step.wait_for.twin_state
            kind = "api_call" if step.wait_for.api_call is not None else "twin_state"
            if check is not None:
                yield f"steps[{index}].wait_for.{kind}.service", check.service


def _check_steps(scenario: Scenario, problem: _ProblemAt) -> Iterator[CatalogProblem]:
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
        document = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
        for where, text in _strings(document, ("steps", index)):
            field_name = format_loc(where)
            for found in PLACEHOLDER.finditer(text):
                wrong = _unresolvable(found.group(1), scenario, ids[:index], ids)
                if wrong is not None:
                    yield problem(field_name, f"uses the placeholder {found.group(0)}, {wrong[0]}", wrong[1])
            remains = PLACEHOLDER.sub("", text)
            if "{{" in remains:
                rest = remains[remains.index("{{") :]
                shown = rest if len(rest) <= 40 else rest[:37] + "..."
                yield problem(
                    field_name,
                    f"opens a placeholder that is never closed: {shown!r} (it would be sent as it is)",
                    "close it with }}, e.g. {{ask.text}}",
                )


def _strings(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside ``value`` with its location (the runner fills placeholders in each)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*where, str(key)))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _strings(item, (*where, position))


def _unresolvable(
    reference: str, scenario: Scenario, earlier: Sequence[str], ids: Sequence[str]
) -> tuple[str, str] | None:
    """Why the runner could never resolve ``reference``, and the fix; ``None`` when it may.

    The split into root and rest is the runner's: ``ask[0]`` is step ``ask`` with ``[0]`` after it.
    """
    root, dot, rest = reference.partition(".")
    if "[" in root:
        root, bracket, tail = root.partition("[")
        rest = bracket + tail + dot + rest
    services = scenario.context.services
    if root == "twins":
        name, _, what = rest.rpartition(".")
        if name in services and what in ("url", "token"):
            return None
        return (
            "which names no URL or token of a twin this scenario uses",
            f"write {{{{twins.NAME.url}}}} or {{{{twins.NAME.token}}}} with NAME one of: "
            f"{', '.join(services) or 'none (add the twin to context.services)'}",
        )
    if root == "context":
        if rest != "state" and not rest.startswith(("state.", "state[")):
            return "but context only holds state", "write {{context.state.KEY}}"
        keys = ", ".join(scenario.context.state) or "none"
        return _path_problem(
            "$" + rest[len("state") :], dict(scenario.context.state), f"context.state (its keys: {keys})"
        )
    if root not in earlier:
        later = " (it runs later: a placeholder can only use earlier steps)" if root in ids else ""
        return (
            f"but {root!r} is no earlier step{later}",
            f"name an earlier step ({', '.join(earlier) or 'none yet'}), context.state.KEY or twins.NAME.url",
        )
    part, _, tail = rest.partition(".")
    if part.startswith("json"):
        return _path_problem("$" + rest[len("json") :], None, "")
    if part in ("text", "status") and not tail:
        return None
    return (
        f"which reads {rest or 'nothing'} of step {root}",
        f"use {root}.json.PATH, {root}.text or {root}.status",
    )


def _path_problem(path: str, document: Any, what: str) -> tuple[str, str] | None:
    """A JSONPath that does not compile, or that finds nothing in a ``document`` known now."""
    if path == "$":
        return None
    try:
        compiled = jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"whose path {path} is not JSONPath ({first})",
            "write a JSONPath after the dot, e.g. .items[0].id",
        )
    if document is not None and not compiled.findall(document):
        return f"whose path {path} finds nothing in {what}", "add the value to context.state, or fix the path"
    return None


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
