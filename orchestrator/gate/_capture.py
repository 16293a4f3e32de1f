"""What a UI-gate driver leaves in the run dir, described by one manifest per driver.

Drivers write their evidence anywhere under the run dir and describe it in
``<run dir>/captures/<driver>.json`` (a :class:`CaptureManifest`). The UX evaluator reads only
manifests, never guesses file names, so a third-party driver that writes a manifest is
evaluated like ours. Every path in a manifest is relative to the run dir.

:func:`finish_capture` is how a driver ends a run: it writes the manifest and the plain
``drivers/<driver>/exit_code`` file, and gives back the driver's
:class:`~orchestrator.gate.CaptureResult`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.artifacts import atomic_write_text
from orchestrator.gate._contracts import CaptureResult, DriverExit

__all__ = [
    "CAPTURES_DIR",
    "Capture",
    "CaptureManifest",
    "ConsoleEntry",
    "DriverExit",
    "JourneyRecord",
    "JourneyStep",
    "NetworkFailure",
    "capture_result",
    "finish_capture",
    "manifest_path",
    "safe_name",
]

CAPTURES_DIR = "captures"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConsoleEntry(_Model):
    """One line of a ``console.ndjson`` file: a console message or an uncaught page error."""

    ts: str
    type: str
    """``log``, ``info``, ``warning``, ``error``, ... as the browser says, or ``pageerror``."""
    text: str
    location: str | None = None
    url: str


class NetworkFailure(_Model):
    """A request that failed outright or answered with HTTP 4xx/5xx."""

    url: str
    method: str
    status: int | None
    """``None`` when the request failed without a response (DNS, refused, aborted)."""
    failure: str | None = None
    resource_type: str | None = None


class Capture(_Model):
    """The evidence of one route, or one step of a journey."""

    kind: Literal["route", "journey_step", "scenario", "test"]
    name: str
    url: str | None = None
    journey: str | None = None
    step_index: int | None = None
    screenshot: str | None = None
    aria_snapshot: str | None = None
    axe: str | None = None
    """Path of the axe-core results JSON (``{"violations": [...], ...}``)."""
    console: str | None = None
    """Path of an NDJSON file of :class:`ConsoleEntry` lines."""
    network: str | None = None
    """Path of a JSON list of :class:`NetworkFailure`."""
    ok: bool = True
    error: str | None = None


class JourneyStep(_Model):
    index: int
    name: str
    counted: bool = True
    """Marked steps count towards the onboarding step count; helper steps (waits) do not."""


class JourneyRecord(_Model):
    name: str
    onboarding: bool = False
    steps: list[JourneyStep] = Field(default_factory=list)

    @property
    def step_count(self) -> int:
        return sum(1 for step in self.steps if step.counted)


class CaptureManifest(_Model):
    """Everything one driver captured in one run."""

    driver: str
    exit_code: DriverExit
    platform: str | None = None
    skipped: str | None = None
    """Why the driver did not capture (e.g. not macOS 15+); ``None`` when it ran."""
    error: str | None = None
    captures: list[Capture] = Field(default_factory=list)
    journeys: list[JourneyRecord] = Field(default_factory=list)
    har: str | None = None
    traces: list[str] = Field(default_factory=list)
    extra: dict[str, str] = Field(default_factory=dict)
    """Other artifacts by role, e.g. ``{"suite_report": "suite/report.json"}``."""


def manifest_path(run_dir: Path, driver: str) -> Path:
    return run_dir / CAPTURES_DIR / f"{safe_name(driver)}.json"


def finish_capture(run_dir: Path, manifest: CaptureManifest, *, skipped: int = 0) -> CaptureResult:
    """Write ``manifest`` and its exit code into ``run_dir``; return the driver's capture result.

    Writes ``drivers/<driver>/exit_code`` (the exit code, a plain integer) and then, atomically,
    ``captures/<driver>.json``, so a manifest on disk always has its exit-code file beside it.
    The result is :func:`capture_result` of the manifest.
    """
    exit_code_file = run_dir / "drivers" / safe_name(manifest.driver) / "exit_code"
    atomic_write_text(exit_code_file, f"{manifest.exit_code}\n")
    atomic_write_text(manifest_path(run_dir, manifest.driver), manifest.model_dump_json(indent=2) + "\n")
    return capture_result(manifest, skipped=skipped)


def capture_result(manifest: CaptureManifest, *, skipped: int = 0) -> CaptureResult:
    """The capture result a driver returns for ``manifest`` (written by :func:`finish_capture`).

    The exit code, the manifest's path relative to the run dir, the captures that succeeded and
    failed, ``skipped`` (what the driver counted as neither) and the manifest's error.
    """
    failed = sum(1 for capture in manifest.captures if not capture.ok)
    return CaptureResult(
        exit_code=manifest.exit_code,
        manifest=manifest_path(Path(), manifest.driver).as_posix(),
        captured=len(manifest.captures) - failed,
        failed=failed,
        skipped=skipped,
        error=manifest.error,
    )


_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def safe_name(name: str, *, limit: int = 80) -> str:
    """A file-name-safe, stable form of a route or step name (no separators, no dot-dot)."""
    cleaned = _UNSAFE.sub("-", name.strip().lower()).strip("-.")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:limit].strip("-.")
    return cleaned or "root"
