"""Extension points found through entry points: drivers, agents, twins and trackers.

Entry points are how third-party workers are found: a plugin package that registers
``[project.entry-points."orchestrate.drivers"] mine = "pkg:MyDriver"`` is run by a profile that
says ``driver: mine``, through the same typed contract as a shipped driver. Our own drivers,
agents and trackers are registered in the same groups too (so they can be listed and loaded by
name), but our own pipelines import the workers they use directly.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from orchestrator.errors import ConfigError

__all__ = ["GROUPS", "available_plugins", "load_plugin"]

GROUPS = ("orchestrate.drivers", "orchestrate.agents", "orchestrate.twins", "orchestrate.trackers")


def _entries(group: str) -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=group)}


def available_plugins(group: str) -> list[str]:
    """Names registered in ``group``, sorted."""
    return sorted(_entries(group))


def load_plugin(group: str, name: str) -> Any:
    """Load the object registered as ``name`` in ``group``.

    An unknown name is a :class:`ConfigError` listing what is available; a registered entry that
    fails to import says which package is broken.
    """
    entry = _entries(group).get(name)
    if entry is None:
        known = ", ".join(available_plugins(group)) or "none installed"
        kind = group.removeprefix("orchestrate.").rstrip("s")
        raise ConfigError(
            None,
            kind,
            f"no {kind} named {name!r} is installed (available: {known})",
            f"use one of the available names, or install the package that provides {name!r} "
            f"(it registers an entry point in the {group!r} group)",
        )
    try:
        return entry.load()
    except Exception as exc:
        raise ConfigError(
            None,
            group.removeprefix("orchestrate.").rstrip("s"),
            f"{name!r} is registered as {entry.value} but cannot be loaded: {type(exc).__name__}: {exc}",
            f"reinstall the package that provides {entry.value.split(':')[0]}",
        ) from exc
