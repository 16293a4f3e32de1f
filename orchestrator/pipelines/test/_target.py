"""Starting a target for a gate run: a free port, the start command, a health wait, a clean stop.

A target with a ``start_command`` is started before its drivers run and always stopped after,
also when the run fails or is interrupted. A command whose program is ``python`` (or
``python3``) runs with the interpreter that runs orchestrate, so it sees the same installed
packages. ``{port}`` in the base URL or the command becomes a port the OS picked, so parallel
runs and tests never fight over a fixed port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from orchestrator.config import TargetSection
from orchestrator.errors import ConfigError, OrchestrateError, RunInterruptedError

__all__ = ["RunningTarget", "TargetStartError", "running_target"]

log = structlog.get_logger(__name__)

_STOP_GRACE_S = 5.0


class TargetStartError(OrchestrateError):
    """The target's start command exited, or it did not become healthy in time."""

    error_code = "target_start_failed"


@dataclass(frozen=True)
class RunningTarget:
    name: str
    base_url: str | None
    settings: TargetSection
    pid: int | None


def free_port() -> int:
    """A port the OS says is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(settings: TargetSection, port: str, name: str, config_file: Path | None) -> list[str]:
    argv = [part.replace("{port}", port) for part in settings.start_command]
    if argv[0] in ("python", "python3"):
        # The Python that runs orchestrate (a venv's, usually), so the target sees the same packages.
        argv[0] = sys.executable
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise ConfigError(
            config_file,
            f"targets.{name}.start_command",
            f"{argv[0]!r} is not an executable on PATH",
            'give a program that exists, e.g. start_command = ["python", "app.py", "--port", "{port}"]',
        )
    return argv


@contextmanager
def running_target(
    name: str,
    settings: TargetSection,
    *,
    root: Path,
    log_path: Path,
    config_file: Path | None = None,
    cancelled: threading.Event | None = None,
) -> Iterator[RunningTarget]:
    """Yield the target, started and healthy if it has a start command; always stop it after.

    The command runs in a session of its own, and stopping it signals the whole process group,
    so what it started (a shell's child, a dev server's workers) stops with it. ``cancelled``
    ends the health wait early when the run is being stopped. The command's output goes to
    ``log_path`` only; errors point there rather than quoting it, since a target may print
    credentials as it starts.
    """
    port = (
        str(free_port()) if "{port}" in (settings.base_url or "") + " ".join(settings.start_command) else ""
    )
    base_url = settings.base_url.replace("{port}", port) if settings.base_url else None
    if not settings.start_command:
        yield RunningTarget(name, base_url, settings, None)
        return
    argv = _command(settings, port, name, config_file)
    cwd = root / settings.cwd if settings.cwd else root
    env = {**os.environ, **settings.env, **({"PORT": port} if port else {})}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            if base_url is not None:
                _wait_healthy(
                    process, base_url + settings.health_path, settings.start_timeout_s, log_path, cancelled
                )
            log.debug("target started", target=name, pid=process.pid, base_url=base_url)
            yield RunningTarget(name, base_url, settings, process.pid)
        finally:
            _stop(process)


def _wait_healthy(
    process: subprocess.Popen[bytes],
    url: str,
    timeout_s: float,
    log_path: Path,
    cancelled: threading.Event | None,
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if cancelled is not None and cancelled.is_set():
                raise RunInterruptedError(f"the run was stopped while waiting for {url}")
            if process.poll() is not None:
                raise TargetStartError(
                    f"the target's start command exited with {process.returncode} before {url} answered; "
                    f"its output is in {log_path}"
                )
            try:
                response = client.get(url)
                if response.status_code < 400:
                    return
                last_error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = type(exc).__name__
            # Waiting on the process doubles as the pause between probes and notices an early exit.
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
    raise TargetStartError(
        f"{url} did not become healthy within {timeout_s:g} s (last: {last_error}); "
        f"raise start_timeout_s or check the command; its output is in {log_path}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the target's process group, SIGKILL after a grace period; also after it exited,
    since what it started may still run."""
    _signal_group(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_STOP_GRACE_S)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout=_STOP_GRACE_S)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
