"""The command driver actor: the ``capture`` capability over :func:`run_command_tests`.

Declares :data:`~orchestrator.gate.CAPTURE`: the request is a
:class:`~orchestrator.gate.CaptureRequest`; the command, its JUnit report and its timeout come
from the profile (``command``, ``junit``, ``timeout_s``), the working directory is
``project_root``. The :class:`~orchestrator.gate.CaptureResult` also counts the skipped tests and
carries the command's own exit status.
"""

from __future__ import annotations

from typing import ClassVar

from orchestrator.actors import Done, Worker
from orchestrator.drivers.command._run import CommandRun, run_command_tests
from orchestrator.gate import CAPTURE, CaptureRequest, CaptureResult
from orchestrator.messages import WorkRequest

__all__ = ["CommandDriver"]


class CommandDriver(Worker):
    """Runs the project's test command and ingests its JUnit XML; exit 0 / 1 / 2 in the result."""

    worker_type: ClassVar[str] = "command-driver"
    capabilities = CAPTURE.declare()

    def handle(self, request: WorkRequest, params: CaptureRequest) -> Done[CaptureResult]:
        profile = params.profile
        self.progress(f"running {' '.join(profile.command[:3]) or 'no command'}")
        run = run_command_tests(
            params.run_dir,
            project_root=params.project_root,
            command=profile.command,
            junit=profile.junit,
            timeout_s=profile.timeout_s,
            changed_files=params.changed_files,
            cancelled=self.cancelled,
            emit=self.emit,
            config_file=params.config_file,
        )
        return Done(run.result, summary=_summary(run), success=run.manifest.exit_code == 0)


def _summary(run: CommandRun) -> str:
    manifest = run.manifest
    if manifest.error:
        return f"command driver exited {manifest.exit_code}: {manifest.error}"
    return (
        f"command driver exited {manifest.exit_code}: {run.result.captured} test(s) passed, "
        f"{run.result.failed} failed, {run.skipped_tests} skipped"
    )
