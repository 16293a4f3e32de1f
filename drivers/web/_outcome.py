"""How a web-driver run ends: its manifest and exit code on disk, and the summary the actor returns.

Whatever happened (all captured, some failed, no browser at all), the run dir gets
``captures/<driver>.json`` and ``drivers/<driver>/exit_code`` (through
:func:`orchestrator.gate.finish_capture`, like every driver), so the UI gate's next phases always
find the driver's account of itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import JsonValue

from orchestrator.gate import CaptureManifest, finish_capture

__all__ = ["DriverOutcome", "finish"]


@dataclass(frozen=True)
class DriverOutcome:
    """A finished driver run: its manifest and the result data written for it."""

    manifest: CaptureManifest
    result_data: dict[str, JsonValue]

    @property
    def manifest_path(self) -> str:
        """The manifest's path relative to the run dir."""
        return str(self.result_data["manifest"])

    @property
    def exit_code(self) -> int:
        return self.manifest.exit_code

    @property
    def captured(self) -> int:
        return sum(1 for capture in self.manifest.captures if capture.ok)

    @property
    def failed(self) -> int:
        return sum(1 for capture in self.manifest.captures if not capture.ok)

    def summary(self) -> str:
        if self.manifest.skipped:
            return f"{self.manifest.driver}: skipped ({self.manifest.skipped})"
        text = (
            f"{self.manifest.driver}: exit {self.exit_code}, {self.captured} captured, {self.failed} failed"
        )
        if self.manifest.error:
            text += f" ({self.manifest.error})"
        return text

    def data(self) -> dict[str, JsonValue]:
        """The ``data`` of the driver's ``WorkResult``: exit_code, manifest, captured, failed."""
        return dict(self.result_data)


def finish(run_dir: Path, manifest: CaptureManifest) -> DriverOutcome:
    """Write the manifest and the plain exit-code file; return the outcome."""
    return DriverOutcome(manifest, finish_capture(run_dir, manifest))
