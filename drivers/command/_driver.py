"""The command driver actor: the ``capture`` capability over :func:`run_command_tests`.

Registered as ``command`` in the ``orchestrate.drivers`` entry-point group. The request's params
are the gate's driver params; the command, its JUnit report and its timeout come from the
profile (``command``, ``junit``, ``timeout_s``), the working directory is ``project_root``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.actors import Worker
from orchestrator.drivers.command._run import DRIVER_NAME, CommandRun, run_command_tests
from orchestrator.errors import UsageError
from orchestrator.gate import request_path
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile

__all__ = ["CommandDriver"]


class CommandDriver(Worker):
    """Runs the project's test command and ingests its JUnit XML; exit 0 / 1 / 2 in the result."""

    worker_type: ClassVar[str] = "command-driver"

    def perform(self, request: WorkRequest) -> WorkResult:
        if request.capability != "capture":
            raise UsageError(f"the command driver performs 'capture', not {request.capability!r}")
        params = request.params
        run_dir = request_path(params, "run_dir")
        project_root = request_path(params, "project_root")
        profile = Profile.model_validate(params.get("profile") or {"driver": DRIVER_NAME})
        changed = params.get("changed_files")
        config_file = params.get("config_file")
        self.progress(f"running {' '.join(profile.command[:3]) or 'no command'}")
        run = run_command_tests(
            run_dir,
            project_root=project_root,
            command=profile.command,
            junit=profile.junit,
            timeout_s=profile.timeout_s,
            changed_files=[str(f) for f in changed] if isinstance(changed, list) else None,
            cancelled=self.cancelled,
            emit=self.emit,
            config_file=str(config_file) if config_file else None,
        )
        manifest = run.manifest
        return self.result(request, success=manifest.exit_code == 0, summary=_summary(run), data=_data(run))


def _data(run: CommandRun) -> dict[str, Any]:
    return {**run.data, "skipped_tests": run.skipped_tests, "command_exit_status": run.returncode}


def _summary(run: CommandRun) -> str:
    manifest = run.manifest
    if manifest.error:
        return f"command driver exited {manifest.exit_code}: {manifest.error}"
    return (
        f"command driver exited {manifest.exit_code}: {run.data['captured']} test(s) passed, "
        f"{run.data['failed']} failed, {run.skipped_tests} skipped"
    )

