"""Policy documents: the shipped defaults, overridden by the project's own files.

A policy is a named YAML or JSON document (``retention``, ``test-profiles``, ``chaos-profiles``,
...). Its default ships inside the package as ``orchestrator/policy/defaults/<name>.yaml`` (or
``.json``); a project may override it with exactly one ``.orchestrator/policy/<name>.yaml``,
``.yml`` or ``.json``. The two are deep-merged: mappings merge key by key, and anything else
(lists, scalars) from the project replaces the default, so a project states only what it changes.

A mistake raises :class:`~orchestrator.errors.ConfigError` naming the file the bad field came
from: the project's file when it set the field, else the shipped default.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.config import policy_dir_of
from orchestrator.errors import ConfigError, UsageError
from orchestrator.userfiles import load_structured_file
from orchestrator.validation import config_error_from_validation, explain_validation_error

__all__ = [
    "RetentionPolicy",
    "available_policies",
    "deep_merge",
    "load_policy",
    "load_policy_model",
    "load_retention",
    "project_policy_file",
]

M = TypeVar("M", bound=BaseModel)

DEFAULTS_PACKAGE = "orchestrator.policy"
DEFAULT_SUFFIXES = (".yaml", ".json")
PROJECT_SUFFIXES = (".yaml", ".yml", ".json")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_RETENTION_EXAMPLES = {
    "retention_days": "use a whole number of days, at least 1, for example `retention_days: 30`"
}


class RetentionPolicy(BaseModel):
    """The ``retention`` policy: how many days a run dir is kept before it is pruned.

    The rule that applies it is ``orchestrator.policy.retention.is_expired``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: int = Field(ge=1, examples=[30], description="Days a run dir is kept before pruning.")


@dataclass(frozen=True, slots=True)
class _Layer:
    """One policy document and the file it was read from."""

    path: Path
    document: dict[str, Any]


def available_policies() -> list[str]:
    """Names of the policies shipped with the package, sorted."""
    directory = _defaults_dir()
    if not directory.is_dir():
        return []
    return sorted(
        {
            Path(entry.name).stem
            for entry in directory.iterdir()
            if entry.is_file() and Path(entry.name).suffix in DEFAULT_SUFFIXES
        }
    )


def project_policy_file(name: str, project_root: str | os.PathLike[str]) -> Path | None:
    """The project's override file for policy ``name``, or ``None`` when it has none.

    Two files for one name (say ``retention.yaml`` and ``retention.json``) are a
    :class:`ConfigError`: which one wins would be a guess.
    """
    _check_name(name)
    directory = policy_dir_of(project_root)
    found = [
        directory / f"{name}{suffix}"
        for suffix in PROJECT_SUFFIXES
        if (directory / f"{name}{suffix}").is_file()
    ]
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise ConfigError(
            found[0],
            "(file)",
            f"{names} both override the policy {name!r}, and only one may",
            f"keep one of them and delete the other, for example keep {found[0].name} "
            f"and delete {found[-1].name}",
        )
    return found[0] if found else None


def load_policy(name: str, project_root: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The policy ``name``: the shipped default deep-merged with the project's override, if any.

    ``project_root`` ``None`` means defaults only. A name with neither a default nor a project file
    is a :class:`UsageError` listing the shipped names.
    """
    default, project = _layers(name, project_root)
    return deep_merge(
        default.document if default is not None else {}, project.document if project is not None else {}
    )


def load_policy_model(
    name: str,
    model: type[M],
    project_root: str | os.PathLike[str] | None,
    *,
    examples: Mapping[str, str] | None = None,
) -> M:
    """The policy ``name`` (see :func:`load_policy`) validated as ``model``.

    A validation error names the project's file if the bad field came from it (or if a required
    field is missing and the project has a file to add it to), else the shipped default file.
    ``examples`` maps a field to the fix to print, as in
    :func:`~orchestrator.validation.config_error_from_validation`.
    """
    default, project = _layers(name, project_root)
    merged = deep_merge(
        default.document if default is not None else {}, project.document if project is not None else {}
    )
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        first = explain_validation_error(exc, model=model)
        blame_project = project is not None and (
            first.kind == "missing" or default is None or _contains(project.document, first.loc)
        )
        origin = project if blame_project else default
        path = origin.path if origin is not None else None
        raise config_error_from_validation(path, exc, examples=examples, model=model) from None


def load_retention(project_root: str | os.PathLike[str] | None) -> RetentionPolicy:
    """The project's retention policy (default: keep runs for 30 days)."""
    return load_policy_model("retention", RetentionPolicy, project_root, examples=_RETENTION_EXAMPLES)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge key by key; lists and scalars are replaced.

    Neither input is modified; the result shares no mutable value with them.
    """
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _layers(name: str, project_root: str | os.PathLike[str] | None) -> tuple[_Layer | None, _Layer | None]:
    _check_name(name)
    default = _read_default(name)
    project_file = project_policy_file(name, project_root) if project_root is not None else None
    project = _Layer(project_file, _read_mapping(project_file)) if project_file is not None else None
    if default is None and project is None:
        shipped = ", ".join(available_policies()) or "none"
        where = f" and none in {policy_dir_of(project_root)}" if project_root is not None else ""
        raise UsageError(
            f"no policy named {name!r}: no default ships with that name{where} (shipped: {shipped})"
        )
    return default, project


def _defaults_dir() -> Traversable:
    return resources.files(DEFAULTS_PACKAGE) / "defaults"


def _read_default(name: str) -> _Layer | None:
    for suffix in DEFAULT_SUFFIXES:
        entry = _defaults_dir() / f"{name}{suffix}"
        if entry.is_file():
            # as_file gives a real path even when the package is installed as a zip.
            with resources.as_file(entry) as path:
                return _Layer(path, _read_mapping(path))
    return None


def _read_mapping(path: Path) -> dict[str, Any]:
    document = load_structured_file(path)
    if document is None:  # an empty (or all-comments) file changes nothing
        return {}
    if not isinstance(document, dict):
        got = "a list" if isinstance(document, list) else f"{type(document).__name__} {document!r}"
        shape = '{"key": value}' if path.suffix == ".json" else "`key: value` lines"
        raise ConfigError(
            path,
            "(document)",
            f"must be a mapping of settings (got {got})",
            f"write it as {shape} at the top level",
        )
    return document


def _contains(document: Any, loc: tuple[str | int, ...]) -> bool:
    """Whether ``document`` holds a value at ``loc`` (keys and list indexes)."""
    node = document
    for part in loc:
        in_list = isinstance(part, int) and isinstance(node, list) and -len(node) <= part < len(node)
        in_dict = isinstance(part, str) and isinstance(node, dict) and part in node
        if not (in_list or in_dict):
            return False
        node = node[part]
    return True


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a policy name: use lowercase letters, digits, '-' and '_' "
            "(for example 'retention')"
        )
