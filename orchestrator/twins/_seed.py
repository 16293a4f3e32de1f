"""Seed data: the records a twin starts from after a reset, checked against its entities.

Seed data is a mapping of entity name to a list of records (what a scenario's ``context.data``
passes for one twin). It is checked before anything is loaded: unknown entities, records that are
not objects, missing required fields, wrong field types and repeated ids are each a
:class:`~orchestrator.errors.ConfigError` naming the source, the field (``issues[2].title``) and an
example of right. Fields an entity declares ``defaults`` for are filled in first. A twin module
may add its own checks (``@routes.seed_check``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.twins._manifest import EntitySpec, FieldType
from orchestrator.twins._python_routes import SeedCheck
from orchestrator.userfiles import load_structured_file

__all__ = [
    "SeedData",
    "SeedDataError",
    "check_seed_data",
    "load_data_file",
    "merge_seed",
    "split_by_twin",
    "type_matches",
]

SeedData = dict[str, list[dict[str, Any]]]

_TYPE_EXAMPLES: dict[FieldType, str] = {
    "string": '"text"',
    "integer": "1",
    "number": "1.5",
    "boolean": "true",
    "array": '["a", "b"]',
    "object": '{"key": "value"}',
    "any": '"any value"',
}


class SeedDataError(OrchestrateError):
    """Raised by a twin module's seed check: which field is wrong, how, and what would be right."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}")


def type_matches(value: Any, expected: FieldType) -> bool:
    """Whether a JSON value has the declared field type (``null`` never matches but ``any``)."""
    if expected == "any":
        return True
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def check_seed_data(
    data: Any,
    entities: Mapping[str, EntitySpec],
    *,
    twin: str,
    source: Path | str | None,
    checks: Sequence[SeedCheck] = (),
) -> SeedData:
    """Validate ``data`` as seed data of ``twin`` and return it as plain lists of dicts."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            source,
            "(document)",
            f"must be a mapping of entity name to a list of records (got {_kind(data)})",
            f"write it like {_example(entities)}",
        )
    result: SeedData = {}
    for entity, records in data.items():
        spec = entities.get(entity)
        if spec is None:
            known = ", ".join(entities) or "none"
            raise ConfigError(
                source,
                str(entity),
                f"is not an entity of the {twin} twin (its entities: {known})",
                f"use one of its entities, for example {_example(entities)}",
            )
        if not isinstance(records, list):
            raise ConfigError(
                source,
                entity,
                f"must be a list of records (got {_kind(records)})",
                f"write it like {_example({entity: spec})}",
            )
        result[entity] = [
            _check_record(record, entity, index, spec, source) for index, record in enumerate(records)
        ]
        _check_unique_ids(result[entity], entity, spec, source)
    for check in checks:
        try:
            check(result)
        except SeedDataError as exc:
            raise ConfigError(source, exc.field, exc.problem, exc.fix) from exc
        except ValueError as exc:
            raise ConfigError(source, "(document)", str(exc), "correct the seed data") from exc
    return result


def merge_seed(
    default: Mapping[str, list[dict[str, Any]]], given: Mapping[str, list[dict[str, Any]]]
) -> SeedData:
    """The data a reset loads: ``given`` replaces ``default`` entity by entity."""
    return {**default, **given}


def load_data_file(path: Path) -> Any:
    """Read a JSON or YAML data document (syntax errors are :class:`ConfigError`)."""
    return load_structured_file(path)


def split_by_twin(document: Any, names: Iterable[str], *, source: Path | str | None) -> dict[str, Any]:
    """Split a data document keyed by twin name (``{github: {issues: [...]}}``) per twin."""
    wanted = list(names)
    if document is None:
        return {}
    example = json.dumps({wanted[0] if wanted else "github": {"issues": [{"title": "First issue"}]}})
    if not isinstance(document, Mapping):
        raise ConfigError(
            source,
            "(document)",
            f"must be a mapping of twin name to that twin's data (got {_kind(document)})",
            f"write it like {example}",
        )
    for key in document:
        if key not in wanted:
            raise ConfigError(
                source,
                str(key),
                f"is not one of the twins being served ({', '.join(wanted)})",
                f"key the data by twin name, for example {example}",
            )
    return dict(document)


def _check_record(
    record: Any, entity: str, index: int, spec: EntitySpec, source: Path | str | None
) -> dict[str, Any]:
    where = f"{entity}[{index}]"
    if not isinstance(record, Mapping):
        raise ConfigError(
            source,
            where,
            f"must be an object of fields (got {_kind(record)})",
            f"write it like {_record_example(spec)}",
        )
    missing = {name: copy.deepcopy(value) for name, value in spec.defaults.items() if name not in record}
    record = {**record, **missing}
    for name in spec.required:
        if name not in record:
            raise ConfigError(
                source,
                f"{where}.{name}",
                "is required but missing",
                f"add it, for example {json.dumps(name)}: {_TYPE_EXAMPLES[spec.fields.get(name, 'any')]}",
            )
    for name, expected in spec.fields.items():
        if name in record and record[name] is not None and not type_matches(record[name], expected):
            raise ConfigError(
                source,
                f"{where}.{name}",
                f"must be of type {expected} (got {_kind(record[name])})",
                f"write it like {json.dumps(name)}: {_TYPE_EXAMPLES[expected]}",
            )
    return dict(record)


def _check_unique_ids(
    records: list[dict[str, Any]], entity: str, spec: EntitySpec, source: Path | str | None
) -> None:
    seen: set[str] = set()
    for index, record in enumerate(records):
        value = record.get(spec.id_field)
        if value is None:
            continue
        if str(value) in seen:
            raise ConfigError(
                source,
                f"{entity}[{index}].{spec.id_field}",
                f"repeats the id {value!r} of an earlier record",
                f"give every {entity} record its own {spec.id_field}, or leave it out to have one assigned",
            )
        seen.add(str(value))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _record_example(spec: EntitySpec) -> str:
    names = spec.required or list(spec.fields)[:2]
    fields = ", ".join(
        f"{json.dumps(name)}: {_TYPE_EXAMPLES[spec.fields.get(name, 'any')]}" for name in names
    )
    return "{" + fields + "}"


def _example(entities: Mapping[str, EntitySpec]) -> str:
    if not entities:
        return "{}"
    name, spec = next(iter(entities.items()))
    return "{" + json.dumps(name) + ": [" + _record_example(spec) + "]}"
