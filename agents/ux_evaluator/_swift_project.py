"""Finding the SwiftUI project to scan and the OS versions it targets.

The project is the profile's ``swift_project`` folder, else the shallowest folder (the project
root, then up to two levels below it, in name order) holding a ``Package.swift`` or an
``*.xcodeproj``. Its deployment targets come from ``Package.swift``'s ``platforms:``
(``.macOS(.v26)``, ``.iOS("26.0")``) and from ``*_DEPLOYMENT_TARGET`` settings in
``project.pbxproj`` and ``.xcconfig`` files; per platform the highest version set is kept, since
a target set to 26 is an OS 26 target even if another target of the project is older.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.agents.ux_evaluator._swift_source import mask
from orchestrator.policy.rubric_v1 import LIQUID_GLASS_MIN_OS

__all__ = ["SKIP_DIRS", "SwiftProject", "find_swift_project", "walk_files"]

SKIP_DIRS = frozenset(
    {
        ".build",
        "build",
        "DerivedData",
        "Pods",
        "Carthage",
        ".git",
        ".swiftpm",
        "node_modules",
        ".orchestrator",
    }
)
_SEARCH_DEPTH = 2
_PACKAGE_PLATFORM = re.compile(
    r"\.(?P<platform>macOS|iOS|tvOS|watchOS|visionOS|macCatalyst)\s*\(\s*(?:\.v(?P<v>\d+)|\"(?P<s>\d+))"
)
_SETTING_PLATFORM = {
    "MACOSX": "macOS",
    "IPHONEOS": "iOS",
    "TVOS": "tvOS",
    "WATCHOS": "watchOS",
    "XROS": "visionOS",
}
_DEPLOYMENT_SETTING = re.compile(r"\b(MACOSX|IPHONEOS|TVOS|WATCHOS|XROS)_DEPLOYMENT_TARGET\s*=\s*\"?(\d+)")


@dataclass(frozen=True)
class SwiftProject:
    root: Path
    label: str
    """The folder as the findings name it: relative to the project root (``.`` for the root itself)."""
    os_targets: dict[str, int] = field(default_factory=dict)
    """Platform -> highest deployment target major version found."""

    def targets_liquid_glass(self) -> bool:
        return any(version >= LIQUID_GLASS_MIN_OS for version in self.os_targets.values())

    def describe_targets(self) -> str:
        if not self.os_targets:
            return "no deployment target found in Package.swift, project.pbxproj or .xcconfig files"
        return "deployment targets " + ", ".join(f"{p} {v}" for p, v in sorted(self.os_targets.items()))


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []


def walk_files(root: Path, suffix: str) -> Iterator[Path]:
    """Files named ``*<suffix>`` under ``root``, in name order, skipping build and dependency folders.

    Symbolic links are not followed, so a link cannot lead the scan out of the project or in circles.
    """
    for entry in _children(root):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if entry.name not in SKIP_DIRS:
                yield from walk_files(entry, suffix)
        elif entry.name.endswith(suffix) and entry.is_file():
            yield entry


def _is_project_folder(folder: Path) -> bool:
    if (folder / "Package.swift").is_file():
        return True
    return any(entry.suffix == ".xcodeproj" and entry.is_dir() for entry in _children(folder))


def _candidates(project_root: Path) -> Iterator[Path]:
    level = [project_root]
    for _ in range(_SEARCH_DEPTH + 1):
        yield from level
        level = [
            child
            for folder in level
            for child in _children(folder)
            if child.is_dir()
            and not child.is_symlink()
            and child.name not in SKIP_DIRS
            and not child.name.startswith(".")
            and child.suffix != ".xcodeproj"
        ]


def _label(folder: Path, project_root: Path, configured: str | None) -> str:
    try:
        relative = folder.relative_to(project_root).as_posix()
    except ValueError:
        return configured or folder.name
    return relative or "."


def _os_targets(root: Path) -> dict[str, int]:
    found: dict[str, int] = {}

    def note(platform: str, version: int) -> None:
        found[platform] = max(version, found.get(platform, 0))

    for package in sorted(root.glob("Package*.swift")):
        source = mask(package.read_text(encoding="utf-8", errors="replace"), keep_strings=True)
        for match in _PACKAGE_PLATFORM.finditer(source):
            note(match.group("platform"), int(match.group("v") or match.group("s")))
    settings = [*walk_files(root, "project.pbxproj"), *walk_files(root, ".xcconfig")]
    for path in settings:
        for match in _DEPLOYMENT_SETTING.finditer(path.read_text(encoding="utf-8", errors="replace")):
            note(_SETTING_PLATFORM[match.group(1)], int(match.group(2)))
    return found


def find_swift_project(project_root: Path, configured: str | None) -> SwiftProject | str:
    """The project to scan, or why there is none (a reason to skip the check)."""
    if not project_root.is_dir():
        return "the project root is not a folder"
    if configured:
        folder = project_root / configured
        if not folder.is_dir():
            return f"swift_project {configured!r} is not a folder in the project"
    else:
        found = next((c for c in _candidates(project_root) if _is_project_folder(c)), None)
        if found is None:
            return "no SwiftUI project (Package.swift or *.xcodeproj) in the project"
        folder = found
    return SwiftProject(
        root=folder, label=_label(folder, project_root, configured), os_targets=_os_targets(folder)
    )
