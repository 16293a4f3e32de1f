"""The mac driver actor: the ``capture`` capability over :func:`capture_mac`.

Registered as ``mac`` in the ``orchestrate.drivers`` entry-point group. The request's params are
the gate's driver params (run_id, run_dir, project_root, target, profile, changed_files, ...); the
app comes from ``target.app_name`` and the scenarios and time budget from the profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from orchestrator.actors import Worker
from orchestrator.drivers.mac._capture import DRIVER_NAME, capture_mac
from orchestrator.drivers.mac._platform import MacPlatform
from orchestrator.errors import UsageError
from orchestrator.gate import CaptureManifest, manifest_path, request_path
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile

__all__ = ["MacDriver"]


class MacDriver(Worker):
    """Captures a macOS app with peekaboo; exit 0 / 1 / 2 in the result, never an exception.

    ``platform`` is the operating system the driver believes it runs on (default: this one), so
    tests elsewhere can pretend to be macOS 15.
    """

    worker_type: ClassVar[str] = "mac-driver"

    def __init__(self, *, platform: MacPlatform | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.platform = platform or MacPlatform.current()

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability != "capture":
            raise UsageError(f"the mac driver performs 'capture', not {request.capability!r}")
        params = request.params
        run_dir = request_path(params, "run_dir")
        target = params.get("target") or {}
        profile = Profile.model_validate(params.get("profile") or {"driver": DRIVER_NAME})
        changed = params.get("changed_files")
        config_file = params.get("config_file")
        self.progress(f"capturing {len(profile.scenarios) or 1} scenario(s) with peekaboo")
        manifest = capture_mac(
            run_dir,
            run_id=str(params.get("run_id") or request.run_id),
            app_name=_optional_str(target, "app_name"),
            scenarios=profile.scenarios,
            timeout_s=profile.timeout_s,
            platform=self.platform,
            changed_files=[str(f) for f in changed] if isinstance(changed, list) else None,
            cancelled=self.cancelled,
            emit=self.emit,
            config_file=str(config_file) if config_file else None,
        )
        return self.result(
            request, success=manifest.exit_code == 0, summary=_summary(manifest), data=_data(manifest)
        )


def _data(manifest: CaptureManifest) -> dict[str, Any]:
    """The result data every driver returns: exit code, manifest path, captured and failed counts."""
    failed = sum(1 for c in manifest.captures if not c.ok)
    return {
        "exit_code": manifest.exit_code,
        "manifest": manifest_path(Path(), manifest.driver).as_posix(),
        "captured": len(manifest.captures) - failed,
        "failed": failed,
    }


def _summary(manifest: CaptureManifest) -> str:
    if manifest.skipped:
        return f"mac driver skipped: {manifest.skipped}"
    if manifest.error:
        return f"mac driver exited {manifest.exit_code}: {manifest.error}"
    data = _data(manifest)
    return (
        f"mac driver exited {manifest.exit_code}: {data['captured']} scenario(s) captured, "
        f"{data['failed']} failed"
    )



def _optional_str(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) else None
