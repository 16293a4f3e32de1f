"""Narrowing a run to what changed: a profile's ``changed_paths`` map from file globs to routes.

With ``--since`` the driver gets the changed files. When the profile maps globs to routes, only
routes mapped from a changed file are visited, and journeys only when one of their ``goto``
paths (or their name) is mapped; everything else is skipped with the reason recorded. Without a
map, or without a list of changed files, nothing is skipped: the driver cannot know what a change
affects, so it visits everything.

Globs are matched against POSIX paths relative to the project root with :mod:`fnmatch` rules
(``*`` also crosses ``/``); ``**/`` may match no folder at all, so ``src/**/*.ts`` matches
``src/app.ts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from orchestrator.policy.test_profiles import JourneySpec

__all__ = ["Selection", "matches", "select_for_changes"]


@dataclass(frozen=True)
class Selection:
    """What the driver will visit, what it skips, and why."""

    routes: list[str]
    journeys: list[JourneySpec]
    skipped_routes: list[str] = field(default_factory=list)
    skipped_journeys: list[str] = field(default_factory=list)
    reason: str | None = None
    """``None`` when nothing was narrowed."""

    def as_json(self) -> dict[str, object]:
        return {
            "routes": self.routes,
            "journeys": [journey.name for journey in self.journeys],
            "skipped_routes": self.skipped_routes,
            "skipped_journeys": self.skipped_journeys,
            "reason": self.reason,
        }


def _normalise(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def matches(path: str, pattern: str) -> bool:
    """Whether the changed file ``path`` matches the glob ``pattern`` (see the module docstring)."""
    path, pattern = _normalise(path), _normalise(pattern)
    return fnmatchcase(path, pattern) or ("**/" in pattern and fnmatchcase(path, pattern.replace("**/", "")))


def select_for_changes(
    routes: Sequence[str],
    journeys: Sequence[JourneySpec],
    *,
    changed_files: Sequence[str] | None,
    changed_paths: Mapping[str, Sequence[str]],
) -> Selection:
    """The routes and journeys to visit for ``changed_files`` under the profile's ``changed_paths``."""
    if changed_files is None or not changed_paths:
        return Selection(list(routes), list(journeys))
    mapped: set[str] = set()
    for pattern, targets in changed_paths.items():
        if any(matches(changed, pattern) for changed in changed_files):
            mapped.update(targets)
    kept_routes = [route for route in routes if route in mapped]
    skipped_routes = [route for route in routes if route not in mapped]
    kept_journeys = [
        journey
        for journey in journeys
        if journey.name in mapped
        or any(step.action == "goto" and step.path in mapped for step in journey.steps)
    ]
    skipped_journeys = [journey.name for journey in journeys if journey not in kept_journeys]
    files = len(changed_files)
    reason = (
        f"{files} changed file{'s' if files != 1 else ''} map to {len(kept_routes)} of {len(routes)} routes "
        f"and {len(kept_journeys)} of {len(journeys)} journeys through the profile's changed_paths"
    )
    if skipped_routes:
        reason += "; skipped routes: " + ", ".join(skipped_routes)
    if skipped_journeys:
        reason += "; skipped journeys: " + ", ".join(skipped_journeys)
    return Selection(kept_routes, kept_journeys, skipped_routes, skipped_journeys, reason)
