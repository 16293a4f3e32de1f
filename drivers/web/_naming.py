"""Where the web driver puts its evidence in a run dir, under names no route can subvert.

Route, journey and step names come from profiles, which come from users; they may hold slashes,
dots, spaces or anything else. Every file the driver writes is named through
:func:`artifact_name`, which keeps a readable, file-name-safe form (``orchestrator.gate.safe_name``)
and appends a short hash of the original whenever that form loses information, so two routes never
share a folder and the same route always gets the same one. :func:`inside` is the last guard: a
path that would leave the run dir is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from orchestrator.errors import ArtifactError
from orchestrator.gate import safe_name

__all__ = [
    "HAR_FILE",
    "JOURNEYS_DIR",
    "ROUTES_DIR",
    "SUITE_DIR",
    "TRACES_DIR",
    "WEB_DIR",
    "artifact_name",
    "inside",
    "relative",
]

WEB_DIR = "web"
ROUTES_DIR = f"{WEB_DIR}/routes"
JOURNEYS_DIR = f"{WEB_DIR}/journeys"
TRACES_DIR = f"{WEB_DIR}/traces"
HAR_FILE = f"{WEB_DIR}/run.har"
SUITE_DIR = "suite"


def artifact_name(name: str, *, limit: int = 60) -> str:
    """A stable, safe folder or file stem for ``name``.

    ``/gallery`` becomes ``gallery``; anything that does not survive the safe form unchanged
    (``/``, ``/onboarding/1``, ``/../../etc``, ``Mein Schritt``) gets ``-<8 hex of sha256>``
    appended, so distinct names never collide.
    """
    safe = safe_name(name, limit=limit)
    if name in (safe, f"/{safe}"):
        return safe
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{digest}"


def inside(run_dir: Path, relative_path: str) -> Path:
    """``run_dir / relative_path``, refusing any path that resolves outside ``run_dir``."""
    root = run_dir.resolve()
    candidate = (root / relative_path).resolve()
    if candidate != root and root not in candidate.parents:
        raise ArtifactError(f"refusing to write {relative_path!r}: it resolves outside the run dir {root}")
    return candidate


def relative(run_dir: Path, path: Path) -> str:
    """``path`` as the POSIX path relative to ``run_dir`` that manifests hold."""
    return path.resolve().relative_to(run_dir.resolve()).as_posix()
