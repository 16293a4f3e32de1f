"""Finding twins: shipped with orchestrate, installed by plugins, or kept in the project.

Three places, later ones winning on a name clash (so a project can replace a shipped twin):

1. shipped: the folders under ``orchestrator/twins/shipped/``;
2. plugins: entry points in the group :data:`ENTRY_POINT_GROUP` (``orchestrate.twins``); each
   entry point's object is the twin folder (a ``Path`` or ``str``) or a callable returning it;
3. the project: ``.scenarios/twins/<service>/`` folders holding a ``twin.json``.

A twin's ``twin.json`` name must equal its folder's name (or its entry point's name), so
``orchestrate twin serve NAME`` and the definition always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import structlog

from orchestrator.errors import ConfigError, UsageError
from orchestrator.twins._definition import MANIFEST_NAME, TwinDefinition, load_twin_definition

__all__ = [
    "ENTRY_POINT_GROUP",
    "SHIPPED_DIR",
    "TwinSource",
    "discover_twins",
    "find_twin",
    "load_twin",
    "project_twins_dir",
]

ENTRY_POINT_GROUP = "orchestrate.twins"
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
PROJECT_TWINS = Path(".scenarios") / "twins"

log = structlog.get_logger(__name__)

Origin = Literal["shipped", "plugin", "project"]


@dataclass(frozen=True, slots=True)
class TwinSource:
    """Where a twin's definition lives."""

    name: str
    directory: Path
    origin: Origin


def project_twins_dir(project_root: Path) -> Path:
    """``<root>/.scenarios/twins``: where a project keeps its own twins."""
    return project_root / PROJECT_TWINS


def discover_twins(
    project_root: Path | None = None, *, twins_dir: Path | None = None
) -> dict[str, TwinSource]:
    """Every twin by name (shipped, then plugins, then the project's), sorted by name."""
    found: dict[str, TwinSource] = {}
    for directory in _folders(SHIPPED_DIR):
        found[directory.name] = TwinSource(directory.name, directory, "shipped")
    for source in _plugin_twins():
        found[source.name] = source
    project_dir = (
        twins_dir
        if twins_dir is not None
        else (project_twins_dir(project_root) if project_root is not None else None)
    )
    if project_dir is not None:
        for directory in _folders(project_dir):
            found[directory.name] = TwinSource(directory.name, directory, "project")
    return dict(sorted(found.items()))


def find_twin(name: str, project_root: Path | None = None, *, twins_dir: Path | None = None) -> TwinSource:
    """The twin called ``name``; an unknown name is a :class:`UsageError` listing the known ones."""
    twins = discover_twins(project_root, twins_dir=twins_dir)
    if name not in twins:
        known = ", ".join(twins) or "none"
        project_dir = twins_dir or (project_twins_dir(project_root) if project_root is not None else None)
        where = f" or in {project_dir}" if project_dir is not None else ""
        raise UsageError(f"no twin named {name!r} is shipped, installed{where} (known twins: {known})")
    return twins[name]


def load_twin(
    name_or_dir: str | Path, project_root: Path | None = None, *, twins_dir: Path | None = None
) -> TwinDefinition:
    """Load a twin by name (discovered) or from a folder (a ``Path``, or text containing a ``/``)."""
    if isinstance(name_or_dir, Path) or "/" in name_or_dir or name_or_dir.startswith("."):
        return load_twin_definition(Path(name_or_dir))
    source = find_twin(name_or_dir, project_root, twins_dir=twins_dir)
    definition = load_twin_definition(source.directory)
    if definition.name != source.name:
        raise ConfigError(
            source.directory / MANIFEST_NAME,
            "name",
            f"is {definition.name!r} but the folder is called {source.name!r}",
            f'make them agree, for example "name": "{source.name}"',
        )
    return definition


def _folders(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_dir() and (path / MANIFEST_NAME).is_file())


def _plugin_twins() -> list[TwinSource]:
    sources: list[TwinSource] = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = entry_point.load()
            if callable(target) and not isinstance(target, str | Path):
                target = target()
            directory = Path(target)
        except Exception as exc:  # one broken plugin must not hide the other twins
            log.warning("twin.plugin_failed", entry_point=entry_point.name, error=repr(exc))
            continue
        if not (directory / MANIFEST_NAME).is_file():
            log.warning(
                "twin.plugin_without_manifest", entry_point=entry_point.name, directory=str(directory)
            )
            continue
        sources.append(TwinSource(entry_point.name, directory, "plugin"))
    return sources
