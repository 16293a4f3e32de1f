"""How a web-driver run ends: its manifest and exit code on disk, and the summary the actor returns.

Whatever happened (all captured, some failed, no browser at all), the run dir gets
``captures/<driver>.json`` and ``drivers/<driver>/exit_code`` (through
:func:`orchestrator.gate.finish_capture`, like every driver), so the UI gate's next phases always
find the driver's account of itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.gate import CaptureManifest, CaptureResult, finish_capture

__all__ = ["DriverOutcome", "finish"]


@dataclass(frozen=True)
class DriverOutcome:
    """A finished driver run: its manifest and the capture result written for it."""

    manifest: CaptureManifest
    result: CaptureResult
    """What the driver's ``capture`` answers: exit_code, manifest, captured, failed."""

    @property
    def manifest_path(self) -> str:
        """The manifest's path relative to the run dir."""
        return str(self.result.manifest)

    @property
    def exit_code(self) -> int:
        return self.manifest.exit_code

    @property
    def captured(self) -> int:
        return self.result.captured

    @property
    def failed(self) -> int:
        return self.result.failed

    def summary(self) -> str:
        if self.manifest.skipped:
            return f"{self.manifest.driver}: skipped ({self.manifest.skipped})"
        text = (
            f"{self.manifest.driver}: exit {self.exit_code}, {self.captured} captured, {self.failed} failed"
        )
        if self.manifest.error:
            text += f" ({self.manifest.error})"
        return text


def finish(run_dir: Path, manifest: CaptureManifest) -> DriverOutcome:
    """Write the manifest and the plain exit-code file; return the outcome."""
    return DriverOutcome(manifest, finish_capture(run_dir, manifest))
