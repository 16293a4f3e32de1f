"""Running a tracker CLI (``gh``, ``glab``) safely, and the base of the two CLI backends.

Every command goes through :func:`run_command`:

- only the bare names in :data:`ALLOWED_BINARIES`, resolved on ``PATH`` (never a path we were
  handed, never a shell);
- every argument is a string without newline, carriage return or NUL (bodies, which have
  newlines, go through standard input instead); values are bound to their flags as
  ``--flag=value`` so a value starting with ``-`` can never be read as another flag;
- standard output and error are capped at :data:`MAX_OUTPUT_BYTES` each (the process is killed
  past it) and the whole command at a timeout;
- the token, when one is configured, travels in the child's environment only and is scrubbed
  from any output quoted in an error.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._errors import TrackerError, UnsafeCommandError
from orchestrator.agents.issue_reconciler._tracker import TrackerSettings

__all__ = [
    "ALLOWED_BINARIES",
    "MAX_OUTPUT_BYTES",
    "CliResult",
    "CliTracker",
    "check_arguments",
    "resolve_binary",
    "run_command",
]

ALLOWED_BINARIES = frozenset({"gh", "glab"})
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
DEFAULT_COMMAND_TIMEOUT_S = 60.0
_FORBIDDEN = ("\n", "\r", "\x00")
_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class CliResult:
    """What a finished command printed."""

    stdout: str
    stderr: str


def check_arguments(args: Sequence[str]) -> None:
    """Refuse any argument that is not a string or holds a newline, carriage return or NUL."""
    for index, arg in enumerate(args):
        if not isinstance(arg, str):
            raise UnsafeCommandError(f"argument {index} is a {type(arg).__name__}, not a string")
        bad = next((char for char in _FORBIDDEN if char in arg), None)
        if bad is not None:
            raise UnsafeCommandError(
                f"argument {index} holds {bad!r}; tracker commands take single-line arguments only"
            )


def resolve_binary(name: str, env: Mapping[str, str]) -> str:
    """The absolute path of the allowlisted ``name`` found on ``env``'s ``PATH``."""
    if name not in ALLOWED_BINARIES:
        allowed = ", ".join(sorted(ALLOWED_BINARIES))
        raise UnsafeCommandError(f"{name!r} is not an allowed tracker command (allowed: {allowed})")
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise TrackerError(f"{name}: the {name} command is not installed or not on PATH")
    return found


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()


def _drain(stream: IO[bytes], sink: bytearray, cap: int, overflow: threading.Event, process: Any) -> None:
    """Read ``stream`` into ``sink`` until EOF; past ``cap`` bytes, flag it and kill the process."""
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return
        if len(sink) + len(chunk) > cap:
            overflow.set()
            _kill(process)
            return
        sink.extend(chunk)


def _feed(stream: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        stream.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        stream.close()


def run_command(
    name: str,
    args: Sequence[str],
    *,
    stdin: str | None = None,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
    max_output: int = MAX_OUTPUT_BYTES,
    secret: str | None = None,
) -> CliResult:
    """Run the allowlisted ``name`` with ``args``; a failure of any kind is a :class:`TrackerError`."""
    check_arguments(args)
    binary = resolve_binary(name, env)
    what = " ".join([name, *[a for a in args[:2] if not a.startswith("-")]])
    try:
        process = subprocess.Popen(
            [binary, *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            shell=False,
            start_new_session=True,
        )
    except OSError as exc:
        raise TrackerError(f"{what}: cannot start {binary}: {exc.strerror or exc}") from None
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = bytearray(), bytearray()
    overflow = threading.Event()
    threads = [
        threading.Thread(
            target=_drain, args=(process.stdout, out, max_output, overflow, process), daemon=True
        ),
        threading.Thread(
            target=_drain, args=(process.stderr, err, max_output, overflow, process), daemon=True
        ),
    ]
    if stdin is not None:
        assert process.stdin is not None
        threads.append(
            threading.Thread(target=_feed, args=(process.stdin, stdin.encode("utf-8")), daemon=True)
        )
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
        process.wait()
    finally:
        for thread in threads:
            thread.join(timeout=5)
        for stream in (process.stdout, process.stderr, process.stdin):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def scrub(text: str) -> str:
        return text.replace(secret, "***") if secret else text

    if overflow.is_set():
        raise TrackerError(f"{what}: printed more than {max_output // (1024 * 1024)} MiB; stopped")
    if timed_out:
        raise TrackerError(f"{what}: did not finish within {timeout_s:g} s; stopped")
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if process.returncode != 0:
        detail = scrub(stderr.strip() or stdout.strip())[-500:]
        raise TrackerError(
            f"{what}: exited with status {process.returncode}" + (f": {detail}" if detail else "")
        )
    return CliResult(stdout=stdout, stderr=stderr)


class CliTracker:
    """Base of the CLI backends: settings, the child environment, running and describing commands."""

    name: ClassVar[str]
    binary: ClassVar[str]
    token_variable: ClassVar[str]
    """The variable the CLI reads its token from (``GH_TOKEN``, ``GITLAB_TOKEN``)."""
    host_variable: ClassVar[str | None] = None
    quiet_env: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: TrackerSettings) -> None:
        self.label = settings.label
        self.repository = settings.repository.strip().strip("/") if settings.repository else None
        self.cwd = settings.project_root
        self.timeout_s = max(settings.timeout_s, DEFAULT_COMMAND_TIMEOUT_S)
        # The CLI has its own login; a token is passed only when [issues] token_env names one.
        token, _ = settings.token(None)
        self._secret = token
        env = {**settings.env, "NO_COLOR": "1", **self.quiet_env}
        if token is not None:
            env[self.token_variable] = token
        self.host = urlsplit(settings.api_url).hostname if settings.api_url else None
        if self.host and self.host_variable:
            env[self.host_variable] = self.host
        self._env = env
        resolve_binary(self.binary, env)  # fail early, with the fix, when the CLI is missing

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.repository!r})"

    def close(self) -> None:
        """Nothing to release: every command is its own process."""

    def run(self, args: Sequence[str], *, stdin: str | None = None) -> str:
        result = run_command(
            self.binary,
            args,
            stdin=stdin,
            env=self._env,
            cwd=self.cwd,
            timeout_s=self.timeout_s,
            secret=self._secret,
        )
        return result.stdout

    def describe(self, action: str, args: Sequence[str], stdin: str | None) -> dict[str, JsonValue]:
        """A command as dry-run output shows it: the argv and what goes to standard input."""
        check_arguments(args)
        argv: list[JsonValue] = [self.binary, *args]
        return {
            "backend": self.name,
            "action": action,
            "argv": argv,
            "command": shlex.join([self.binary, *args]) + (" < body" if stdin is not None else ""),
            "stdin": stdin,
        }
