"""Starting a service we test: a free port, the start command, a health wait, a clean stop.

One machinery for every service a job starts: the UI gate's targets (``[targets.NAME]``) and
the scenario job's system under test (``[sut]``, one per slot). A service with a
``start_command`` is started before it is used and always stopped after, also when the run
fails or is interrupted. A command whose program is ``python`` (or
``python3``) runs with the interpreter that runs orchestrate, so it sees the same installed
packages. ``{port}`` in the base URL or the command becomes a port the OS picked, so parallel
runs and tests never fight over a fixed port.

A target never outlives orchestrate. Its command runs in a process group of its own, and a tiny
watchdog process holds the read end of a pipe whose write end only orchestrate holds: when
orchestrate ends in any way, even by SIGKILL or the OOM killer, the pipe reports end-of-file and
the watchdog stops the target's whole group (SIGTERM, then SIGKILL). On a normal stop
orchestrate stops the group itself and then stands the watchdog down. This works wherever there
are pipes and process groups (Linux and macOS alike), unlike a parent-death signal, which only
reaches the direct child.

The target's environment is orchestrate's minus its secrets: tracker tokens (``GITHUB_TOKEN``,
``GITLAB_TOKEN``, the ``[issues] token_env``) and every variable whose name looks like a
credential (:func:`looks_secret`) are withheld unless the target lists them in
``env_passthrough``; its own ``env`` is always added.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import structlog

from orchestrator.config import AssistantSection, SutSection, TargetSection
from orchestrator.errors import ConfigError, OrchestrateError, RunInterruptedError
from orchestrator.subprocess_tools import with_our_python
from orchestrator.watchdog import GroupWatchdog

__all__ = [
    "RunningTarget",
    "ServiceSettings",
    "TargetStartError",
    "free_port",
    "looks_secret",
    "running_target",
    "target_environment",
]

log = structlog.get_logger(__name__)

_STOP_GRACE_S = 5.0
TRACKER_TOKEN_ENVS = ("GITHUB_TOKEN", "GITLAB_TOKEN")
# Timeouts and rate limits clear up by themselves; any other 4xx answer is final.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})

# One word of a variable name (split at "_") that marks a credential, in the spirit of the key
# names the twins' journal redacts: ...TOKEN, ...SECRET..., ...PASSWORD, API KEY, KEY, PAT, AUTH,
# COOKIE, CREDENTIAL(S), PRIVATE.
_SECRET_WORD = re.compile(
    r"TOKEN$|SECRET|PASSW(OR)?D|^PASS$|^PAT$|APIKEY|^KEY$|CREDENTIALS?$|COOKIE|^AUTH$|AUTHORI[SZ]ATION|PRIVATE",
    re.IGNORECASE,
)

ServiceSettings = TargetSection | SutSection | AssistantSection
"""The settings of a service we start: a UI gate target or the scenario job's system under test."""


class TargetStartError(OrchestrateError):
    """The target's start command exited, or it did not become healthy in time."""

    error_code = "target_start_failed"


@dataclass(frozen=True)
class RunningTarget:
    name: str
    base_url: str | None
    settings: ServiceSettings
    pid: int | None


def free_port() -> int:
    """A port the OS says is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name marks a credential (``GITHUB_TOKEN``, ``OPENAI_API_KEY``)."""
    return any(_SECRET_WORD.search(word) for word in name.split("_") if word)


def target_environment(
    settings: ServiceSettings,
    *,
    port: str = "",
    withheld: Collection[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the target's start command.

    ``base`` (default: this process's environment) minus tracker tokens, the names in
    ``withheld`` and every name that :func:`looks_secret`, except those the target lists in
    ``env_passthrough``; then the target's own ``env``, and ``PORT`` when a port was chosen.
    """
    source = os.environ if base is None else base
    passthrough = set(settings.env_passthrough)
    blocked = {*TRACKER_TOKEN_ENVS, *withheld}
    env: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in source.items():
        if name in passthrough or (name not in blocked and not looks_secret(name)):
            env[name] = value
        else:
            dropped.append(name)
    if dropped:
        # Names only: the values are the secrets.
        log.debug("secrets withheld from the target", names=sorted(dropped))
    env.update(settings.env)
    if port:
        env["PORT"] = port
    return env


def _command(settings: ServiceSettings, port: str, section: str, config_file: Path | None) -> list[str]:
    argv = with_our_python([part.replace("{port}", port) for part in settings.start_command])
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise ConfigError(
            config_file,
            f"{section}.start_command",
            f"{argv[0]!r} is not an executable on PATH",
            'give a program that exists, e.g. start_command = ["python", "app.py", "--port", "{port}"]',
        )
    return argv


@contextmanager
def running_target(
    name: str,
    settings: ServiceSettings,
    *,
    root: Path,
    log_path: Path,
    config_file: Path | None = None,
    cancelled: threading.Event | None = None,
    withheld_env: Collection[str] = (),
    section: str | None = None,
    redact: Collection[str] = (),
) -> Iterator[RunningTarget]:
    """Yield the target, started and healthy if it has a start command; always stop it after.

    The command runs in a session of its own, and stopping it signals the whole process group,
    so what it started (a shell's child, a dev server's workers) stops with it; a watchdog stops
    the group if this process dies first. ``section`` names the settings in error messages
    (default ``targets.NAME``; ``sut`` for the system under test). ``cancelled`` ends the health
    wait early when the run is being stopped. ``redact`` names values (tokens the command was
    given) that never reach the log: its output is copied there line by line with each replaced
    by ``[redacted]``. ``withheld_env`` names more variables kept from the
    command (the tracker's ``token_env``); see :func:`target_environment`. The command's output
    goes to ``log_path`` only; errors point there rather than quoting it, since a target may print
    credentials as it starts.
    """
    port = (
        str(free_port()) if "{port}" in (settings.base_url or "") + " ".join(settings.start_command) else ""
    )
    base_url = settings.base_url.replace("{port}", port) if settings.base_url else None
    if not settings.start_command:
        yield RunningTarget(name, base_url, settings, None)
        return
    section = section or f"targets.{name}"
    argv = _command(settings, port, section, config_file)
    cwd = root / settings.cwd if settings.cwd else root
    env = target_environment(settings, port=port, withheld=withheld_env)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The watchdog first, so the target is guarded from the moment it exists.
    watchdog = GroupWatchdog()
    try:
        with log_path.open("wb") as output:
            copier: _RedactingCopy | None = None
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE if redact else output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if redact:
                assert process.stdout is not None
                copier = _RedactingCopy(process.stdout, output, redact)
            try:
                watchdog.guard(process.pid)
                if base_url is not None:
                    _wait_healthy(
                        process,
                        base_url + settings.health_path,
                        settings.start_timeout_s,
                        log_path,
                        cancelled,
                        field=f"{section}.health_path",
                    )
                log.debug("target started", target=name, pid=process.pid, base_url=base_url)
                yield RunningTarget(name, base_url, settings, process.pid)
            finally:
                _stop(process)
                if copier is not None:
                    copier.join()
    finally:
        watchdog.stand_down()


class _RedactingCopy:
    """Copies a process's output to its log as it comes, with secret values replaced."""

    def __init__(self, source: IO[bytes], sink: IO[bytes], secrets: Collection[str]) -> None:
        # Longest first, so a secret holding a shorter one is redacted whole.
        self._secrets = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
        self._source = source
        self._sink = sink
        self._thread = threading.Thread(target=self._copy, name="orchestrate-log-redactor", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        with suppress(OSError, ValueError):
            for line in iter(self._source.readline, b""):
                for secret in self._secrets:
                    line = line.replace(secret, b"[redacted]")
                self._sink.write(line)
                self._sink.flush()

    def join(self, timeout: float = _STOP_GRACE_S) -> None:
        """Wait for the output's end (the process group was stopped, so it comes)."""
        self._thread.join(timeout)
        with suppress(OSError):
            self._source.close()


def _wait_healthy(
    process: subprocess.Popen[bytes],
    url: str,
    timeout_s: float,
    log_path: Path,
    cancelled: threading.Event | None,
    *,
    field: str,
) -> None:
    """Poll ``url`` until it answers below 400; fail at once on an answer that waiting cannot fix."""
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
                if response.status_code < 500 and response.status_code not in _RETRYABLE_CLIENT_ERRORS:
                    raise TargetStartError(
                        f"{url} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
                        + f", which waiting will not change; set {field} to a path that answers 2xx "
                        f"or 3xx once the target is up; its output is in {log_path}"
                    )
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
    try:
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        # Unkillable (stuck in the kernel): never hide the run's own error behind this one.
        log.warning("the target did not exit after SIGKILL", pid=process.pid)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
