"""Run a project's own test command and turn its JUnit XML report into captures.

:func:`run_command_tests` is the whole command driver without the actor around it. The command
(the profile's ``command``, an argv, never a shell) runs in the project root with the profile's
timeout and, when the gate was given ``--since``, ``TEST_CHANGED_FILES`` (a JSON list) in its
environment. Then the JUnit report (the profile's ``junit``, relative to the project root) is
read: every test case becomes a ``Capture(kind="test")`` named ``classname::name``, failed and
errored ones with ``ok=False`` and the failure's message. Skipped tests are not captures (they
neither pass nor fail); :class:`CommandRun` counts them.

Left in the run dir::

    command/stdout.txt, command/stderr.txt   the command's output (each capped)
    command/junit.xml                        a copy of the report that was read
    drivers/command/exit_code                the exit code, a plain integer
    captures/command.json                    the CaptureManifest

Exit codes: 0 when every test passed; 1 when a test failed or errored, or the command failed
although the report shows no failure (a coverage threshold, no tests collected); 2 when the
command is empty or missing, timed out, or wrote no readable report.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.artifacts import atomic_write_bytes
from orchestrator.drivers.command._junit import TestCaseResult, read_junit
from orchestrator.errors import ArtifactError, ConfigError, UsageError
from orchestrator.gate import Capture, CaptureManifest, CaptureResult, DriverExit, finish_capture
from orchestrator.subprocess_tools import Emit, ToolResult, child_env, run_tool

__all__ = ["DRIVER_NAME", "OUTPUT_CAP", "CommandRun", "run_command_tests"]

DRIVER_NAME = "command"
OUTPUT_CAP = 1024 * 1024
"""Bytes kept of each of the command's stdout and stderr."""

_OUT_DIR = "command"


@dataclass(frozen=True, slots=True)
class CommandRun:
    """What one run of the command driver left: its manifest, and what the manifest cannot say."""

    manifest: CaptureManifest
    result: CaptureResult
    """The capture result the gate expects, as :func:`orchestrator.gate.finish_capture` returned it,
    with the skipped tests and the command's exit status."""
    skipped_tests: int = 0
    returncode: int | None = None
    """The command's own exit status; ``None`` when it did not run to the end."""


def run_command_tests(
    run_dir: Path,
    *,
    project_root: Path,
    command: Sequence[str],
    junit: str | None,
    timeout_s: float,
    changed_files: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cancelled: threading.Event | None = None,
    emit: Emit | None = None,
    config_file: Path | str | None = None,
) -> CommandRun:
    """Run ``command`` in ``project_root``, ingest its JUnit report, and write every artifact.

    Never raises for what the command does: failures are exit codes 1 and 2 in the manifest.
    ``env`` is the base environment (default: this process's).
    """
    run_dir, project_root = Path(run_dir), Path(project_root)
    try:
        report = _report_path(project_root, command, junit, config_file)
    except ConfigError as exc:
        return _finish(run_dir, 2, [], error=str(exc))
    before = _stamp(report)
    extra = {"TEST_CHANGED_FILES": json.dumps(list(changed_files))} if changed_files is not None else {}
    try:
        result = run_tool(
            command,
            cwd=project_root,
            timeout_s=timeout_s,
            env=child_env(extra, base=env),
            output_cap=OUTPUT_CAP,
            cancelled=cancelled,
            emit=emit,
        )
    except UsageError as exc:
        return _finish(run_dir, 2, [], error=f"profile.command: {exc}")
    outputs = _save_output(run_dir, result)
    if result.outcome != "exited":
        return _finish(run_dir, 2, [], error=f"profile.command: {result.error}", extra=outputs)

    relative = report.relative_to(project_root.resolve()).as_posix()
    error: str | None = None
    if not report.is_file():
        error = f"{_name(command)} wrote no JUnit report at {relative} ({result.error or 'exit status 0'})"
    elif _stamp(report) == before:
        error = f"{_name(command)} did not write {relative}; the file there is from before this run"
    if error is not None:
        return _finish(run_dir, 2, [], error=error, extra=outputs, returncode=result.returncode)
    try:
        cases = read_junit(report)
    except ArtifactError as exc:
        return _finish(run_dir, 2, [], error=str(exc), extra=outputs, returncode=result.returncode)
    atomic_write_bytes(run_dir / _OUT_DIR / "junit.xml", report.read_bytes())
    outputs["junit"] = f"{_OUT_DIR}/junit.xml"

    captures = [_capture(case) for case in cases if case.outcome != "skipped"]
    if result.returncode != 0 and all(c.ok for c in captures):
        captures.append(
            Capture(
                kind="test",
                name=f"{_name(command)}::exit-status",
                ok=False,
                error=f"{result.error}, although its JUnit report shows no failed test",
            )
        )
    exit_code: DriverExit = 0 if all(c.ok for c in captures) else 1
    return _finish(
        run_dir,
        exit_code,
        captures,
        extra=outputs,
        skipped_tests=sum(1 for case in cases if case.outcome == "skipped"),
        returncode=result.returncode,
    )


def _report_path(
    project_root: Path, command: Sequence[str], junit: str | None, config_file: Path | str | None
) -> Path:
    """Where the command writes its report: inside the project root, or a :class:`ConfigError`."""
    if not command:
        raise ConfigError(
            config_file,
            "profile.command",
            "the command driver has no command to run",
            'command: ["pytest", "--junitxml", "junit.xml"]',
        )
    if not junit:
        raise ConfigError(
            config_file,
            "profile.junit",
            "the command driver needs the JUnit XML file the command writes",
            "junit: junit.xml",
        )
    root = project_root.resolve()
    report = (root / junit).resolve()
    if not report.is_relative_to(root):
        raise ConfigError(
            config_file, "profile.junit", f"{junit!r} is outside the project root {root}", "junit: junit.xml"
        )
    return report


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What identifies one version of a file (inode, size, mtime), or ``None`` when absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _capture(case: TestCaseResult) -> Capture:
    ok = case.outcome == "passed"
    return Capture(kind="test", name=case.qualified_name, ok=ok, error=None if ok else case.message)


def _save_output(run_dir: Path, result: ToolResult) -> dict[str, str]:
    saved: dict[str, str] = {}
    for stream, data, truncated in (
        ("stdout", result.stdout, result.stdout_truncated),
        ("stderr", result.stderr, result.stderr_truncated),
    ):
        if result.outcome == "not_found":
            continue
        note = f"\n[output cut at {OUTPUT_CAP} bytes]\n".encode() if truncated else b""
        atomic_write_bytes(run_dir / _OUT_DIR / f"{stream}.txt", data + note)
        saved[stream] = f"{_OUT_DIR}/{stream}.txt"
    return saved


def _name(command: Sequence[str]) -> str:
    return os.path.basename(command[0]) if command else "the command"


def _finish(
    run_dir: Path,
    exit_code: DriverExit,
    captures: list[Capture],
    *,
    error: str | None = None,
    extra: dict[str, str] | None = None,
    skipped_tests: int = 0,
    returncode: int | None = None,
) -> CommandRun:
    manifest = CaptureManifest(
        driver=DRIVER_NAME, exit_code=exit_code, error=error, captures=captures, extra=extra or {}
    )
    result = finish_capture(run_dir, manifest, skipped=skipped_tests).model_copy(
        update={"command_exit_status": returncode}
    )
    return CommandRun(manifest, skipped_tests=skipped_tests, returncode=returncode, result=result)
