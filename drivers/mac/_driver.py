"""The mac driver actor: the ``capture`` capability over :func:`capture_mac`.

Declares :data:`~orchestrator.gate.CAPTURE`: the request is a
:class:`~orchestrator.gate.CaptureRequest` (the app comes from ``target.app_name``, the scenarios
and time budget from the profile) and the answer a :class:`~orchestrator.gate.CaptureResult`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.actors import Done, Worker
from orchestrator.drivers.mac._capture import capture_mac
from orchestrator.drivers.mac._platform import MacPlatform
from orchestrator.gate import CAPTURE, CaptureManifest, CaptureRequest, CaptureResult, capture_result
from orchestrator.messages import WorkRequest

__all__ = ["MacDriver"]


class MacDriver(Worker):
    """Captures a macOS app with peekaboo; exit 0 / 1 / 2 in the result, never an exception.

    ``platform`` is the operating system the driver believes it runs on (default: this one), so
    tests elsewhere can pretend to be macOS 15.
    """

    worker_type: ClassVar[str] = "mac-driver"
    capabilities = CAPTURE.declare()

    def __init__(self, *, platform: MacPlatform | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.platform = platform or MacPlatform.current()

    def handle(self, request: WorkRequest, params: CaptureRequest) -> Done[CaptureResult]:
        profile = params.profile
        self.progress(f"capturing {len(profile.scenarios) or 1} scenario(s) with peekaboo")
        manifest = capture_mac(
            params.run_dir,
            run_id=params.run_id,
            app_name=params.target.app_name,
            scenarios=profile.scenarios,
            timeout_s=profile.timeout_s,
            platform=self.platform,
            changed_files=params.changed_files,
            cancelled=self.cancelled,
            emit=self.emit,
            config_file=params.config_file,
        )
        result = capture_result(manifest)
        return Done(result, summary=_summary(manifest, result), success=manifest.exit_code == 0)


def _summary(manifest: CaptureManifest, result: CaptureResult) -> str:
    if manifest.skipped:
        return f"mac driver skipped: {manifest.skipped}"
    if manifest.error:
        return f"mac driver exited {manifest.exit_code}: {manifest.error}"
    return (
        f"mac driver exited {manifest.exit_code}: {result.captured} scenario(s) captured, "
        f"{result.failed} failed"
    )
