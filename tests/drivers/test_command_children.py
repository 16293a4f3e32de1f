"""The command driver with commands that leave processes behind: none of them outlives the run.

A test command may start helpers in the background (a server, a watcher, ``sleep``) and exit
without stopping them. They hold the command's output pipes open, so without care the driver
waits for output that never ends and the helpers live on as orphans.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from pathlib import Path

import pytest

from orchestrator import subprocess_tools
from orchestrator.drivers.command import run_command_tests

JUNIT = '<testsuite name=\\"s\\"><testcase classname=\\"m\\" name=\\"ok\\"/></testsuite>'


def wait_until_gone(pid: int, timeout_s: float) -> bool:
    """Whether process ``pid`` has exited within ``timeout_s`` (waits on a pidfd, no polling)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout_s)
        return bool(readable)
    finally:
        os.close(pidfd)


def output_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("tool-")]


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


@pytest.mark.timeout(30)
def test_a_background_child_is_stopped_when_the_command_exits(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    command = ["sh", "-c", f'sleep 97 & echo $! > sleeper.pid; printf "{JUNIT}" > junit.xml']
    try:
        run = run_command_tests(
            tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=20
        )
        assert run.manifest.exit_code == 0, run.manifest.error
        assert [capture.name for capture in run.manifest.captures] == ["m::ok"]
        assert wait_until_gone(read_pid(project / "sleeper.pid"), 10), (
            "the backgrounded sleep outlived the run"
        )
        assert output_threads() == []
    finally:
        _kill_if_alive(project / "sleeper.pid")


@pytest.mark.timeout(30)
def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    # The pid file appears only once SIGTERM is ignored; the command waits for it before it exits.
    (project / "stubborn.sh").write_text(
        "trap '' TERM\necho $$ > stubborn.tmp && mv stubborn.tmp stubborn.pid\nwhile :; do sleep 1; done\n"
    )
    command = [
        "sh",
        "-c",
        f'sh stubborn.sh & until [ -f stubborn.pid ]; do :; done; printf "{JUNIT}" > junit.xml',
    ]
    try:
        run = run_command_tests(
            tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=20
        )
        assert run.manifest.exit_code == 0, run.manifest.error
        assert wait_until_gone(read_pid(project / "stubborn.pid"), 10), (
            "a child ignoring SIGTERM outlived the run"
        )
        assert output_threads() == []
    finally:
        _kill_if_alive(project / "stubborn.pid")


@pytest.mark.timeout(30)
def test_a_process_that_left_the_group_does_not_keep_a_reader_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # setsid puts the sleep in a session of its own, out of reach of the group's signals; it still
    # holds the output pipe, so only the reader deadline ends the wait for output.
    monkeypatch.setattr(subprocess_tools, "_READER_JOIN_S", 0.5)
    project = tmp_path / "project"
    project.mkdir()
    command = ["sh", "-c", f'setsid sleep 97 & echo $! > escaped.pid; printf "{JUNIT}" > junit.xml']
    try:
        run = run_command_tests(
            tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=20
        )
        assert run.manifest.exit_code == 0, run.manifest.error
        assert output_threads() == []
    finally:
        _kill_if_alive(project / "escaped.pid")


@pytest.mark.timeout(30)
def test_a_timed_out_command_and_its_children_are_stopped(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    command = ["sh", "-c", "sleep 97 & echo $! > sleeper.pid; wait"]
    try:
        run = run_command_tests(
            tmp_path / "run", project_root=project, command=command, junit="junit.xml", timeout_s=1
        )
        assert run.manifest.exit_code == 2
        assert run.manifest.error is not None and "did not finish within 1 s" in run.manifest.error
        assert wait_until_gone(read_pid(project / "sleeper.pid"), 10)
        assert output_threads() == []
    finally:
        _kill_if_alive(project / "sleeper.pid")


def _kill_if_alive(pid_file: Path) -> None:
    """Clean-up after a failed assertion: never leave a test's process running."""
    if not pid_file.is_file():
        return
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(read_pid(pid_file), signal.SIGKILL)
