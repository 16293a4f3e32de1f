"""Run an external program safely: no shell, checked arguments, capped output, a timeout.

Drivers and agents run programs that are not ours (``peekaboo``, a project's own test command,
the ``gh`` and ``glab`` tracker CLIs). Every such call goes through :func:`run_tool`, which:

- runs the argv directly, never through a shell, so no argument is ever interpreted;
- refuses arguments holding a newline, carriage return or NUL (a value that smuggles a second
  line into a log, or that a C program would silently cut short);
- resolves the program first: a bare name is looked up on ``PATH`` (and may have to be on an
  allowlist), a path is taken relative to the working directory, and a missing program is an
  outcome (``not_found``), not an exception;
- keeps at most ``output_cap`` bytes of stdout and of stderr; the rest is read and dropped, so the
  child never blocks on a full pipe and a chatty program cannot exhaust memory (or, with
  ``kill_on_overflow``, the program is stopped the moment it prints more: outcome ``overflowed``);
- gives the program an empty standard input, or ``stdin`` bytes fed on a thread, so text with
  newlines (an issue body) never has to become an argument;
- runs the program in a process group of its own and stops that whole group when the program
  exits, times out or the run is cancelled (SIGTERM, then SIGKILL after a short grace), so what it
  started (a test runner's workers, a server sent to the background) never outlives the call;
- reads stdout and stderr on one thread and waits for their end with one deadline, then stops
  reading: a process that left the group may hold a pipe open, but never the call or a thread;
- reports ``worker.tool.call`` and ``worker.tool.result`` events when given an emitter, inside a
  correlation scope carrying the call's ``tool_trace_id``. The arguments shown in events are
  shortened and values of secret-looking options are masked.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from orchestrator.actors import tool_call
from orchestrator.errors import UsageError
from orchestrator.watchdog import GroupWatchdog

__all__ = [
    "DEFAULT_OUTPUT_CAP",
    "Emit",
    "ToolResult",
    "child_env",
    "forbidden_character",
    "resolve_program",
    "run_tool",
    "summarise_args",
    "validate_argument",
    "with_our_python",
]

DEFAULT_OUTPUT_CAP = 4 * 1024 * 1024
"""Bytes kept of each of stdout and stderr."""

_FORBIDDEN = ("\n", "\r", "\x00")
_CANCEL_CHECK_S = 0.1
_STOP_GRACE_S = 2.0
"""How long what is left of the process group has after SIGTERM before it gets SIGKILL."""
_READER_JOIN_S = 5.0
"""How long output may still come once the group is stopped (from a process that left the group)."""
_SUMMARY_LIMIT = 300
_SECRET_OPTION = re.compile(r"^-{1,2}[\w-]*(token|secret|password|passwd|api[-_]?key)[\w-]*$", re.IGNORECASE)

Outcome = Literal["exited", "not_found", "timed_out", "cancelled", "overflowed"]


class Emit(Protocol):
    """Where tool events go: a worker's ``emit`` (``emit(event_type, **payload)``)."""

    def __call__(self, event_type: str, **payload: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What happened when a program was run.

    ``returncode`` is ``None`` unless the program ran and exited (``outcome == "exited"``);
    ``error`` says in words why it did not, or how it failed.
    """

    argv: tuple[str, ...]
    outcome: Outcome
    returncode: int | None
    stdout: bytes
    stderr: bytes
    duration_ms: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "exited" and self.returncode == 0

    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


def forbidden_character(value: str) -> str | None:
    """The first newline, carriage return or NUL found in ``value``, or ``None`` when it has none."""
    return next((char for char in _FORBIDDEN if char in value), None)


def validate_argument(value: str, *, what: str = "argument") -> str:
    """Return ``value`` unchanged, or raise :class:`UsageError` if it holds a newline, CR or NUL."""
    char = forbidden_character(value)
    if char is not None:
        raise UsageError(f"{what} {value[:60]!r} contains {char!r}, which is never passed to a program")
    return value


def child_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a child: ``base`` (default: this process's) plus ``extra``."""
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    return env


def with_our_python(argv: Sequence[str]) -> list[str]:
    """``argv`` with a leading ``python`` or ``python3`` replaced by the interpreter running us.

    Commands users configure (a target's start command, a coding agent) often start with
    ``python``; the one that runs orchestrate (a venv's, usually) has the packages they expect,
    and a bare ``python`` may not even exist on the machine.
    """
    args = list(argv)
    if args and args[0] in ("python", "python3"):
        args[0] = sys.executable
    return args


def resolve_program(
    program: str,
    *,
    cwd: Path,
    allowed: Collection[str] | None = None,
    path: str | None = None,
) -> str | None:
    """The absolute path of ``program``, or ``None`` when there is no such executable.

    With ``allowed``, ``program`` must be a bare name in it (never a path), so only known tools
    run. Without, a bare name is looked up on ``path`` (``PATH``) and anything with a separator is
    a path relative to ``cwd``.
    """
    validate_argument(program, what="program")
    bare = os.sep not in program and (os.altsep is None or os.altsep not in program)
    if allowed is not None and (not bare or program not in allowed):
        known = ", ".join(sorted(allowed))
        raise UsageError(f"program {program!r} is not allowed here; allowed: {known} (bare names only)")
    if not program or program.startswith("-"):
        raise UsageError(f"program {program!r} is not a program name")
    if bare:
        return shutil.which(program, path=path)
    candidate = Path(program) if Path(program).is_absolute() else cwd / program
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def summarise_args(argv: Sequence[str]) -> str:
    """A short, shell-quoted rendering of ``argv`` for events and logs, secrets masked."""
    shown: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            shown.append("***")
            mask_next = False
            continue
        option, sep, _ = arg.partition("=")
        if _SECRET_OPTION.match(option):
            if sep:
                shown.append(f"{option}=***")
            else:
                shown.append(arg)
                mask_next = True
            continue
        shown.append(arg)
    text = shlex.join(shown)
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1] + "…"


def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    allowed: Collection[str] | None = None,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    kill_on_overflow: bool = False,
    stdin: bytes | None = None,
    cancelled: threading.Event | None = None,
    emit: Emit | None = None,
    tool_name: str | None = None,
    guard: bool = False,
) -> ToolResult:
    """Run ``argv`` in ``cwd`` and return what happened; never raises for the program's behaviour.

    Raises :class:`UsageError` only for arguments that must never reach a program (see
    :func:`validate_argument`), a program outside ``allowed``, or a ``cwd`` that does not exist.
    ``env`` is the child's whole environment (see :func:`child_env`); its ``PATH`` is where a bare
    program name is looked up. ``stdin`` is written to the program's standard input (else it
    reads an empty one); with ``kill_on_overflow``, output past ``output_cap`` stops the program.
    With ``guard``, a :class:`~orchestrator.watchdog.GroupWatchdog` stops the program's group if
    this process dies first (a long-running agent must never outlive a killed run).
    """
    if not argv:
        raise UsageError("no program to run: the command is empty")
    args = tuple(validate_argument(a) for a in argv)
    environment = dict(env) if env is not None else child_env()
    name = tool_name or Path(args[0]).name
    with tool_call(emit, name, summary=summarise_args(args)) as call:
        result = _run(
            args, cwd, timeout_s, environment, allowed, output_cap, kill_on_overflow, stdin, cancelled, guard
        )
        call.details.update(outcome=result.outcome, exit_code=result.returncode)
        if not result.ok:
            call.fail(result.error or f"exit status {result.returncode}")
    return result


def _run(
    args: tuple[str, ...],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str],
    allowed: Collection[str] | None,
    output_cap: int,
    kill_on_overflow: bool,
    stdin: bytes | None,
    cancelled: threading.Event | None,
    guard: bool = False,
) -> ToolResult:
    started = time.monotonic()

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000

    if not cwd.is_dir():
        raise UsageError(f"cannot run {args[0]} in {cwd}: no such directory")
    program = resolve_program(args[0], cwd=cwd, allowed=allowed, path=env.get("PATH", os.defpath))
    if program is None:
        where = "on PATH" if os.sep not in args[0] else f"relative to {cwd}"
        return ToolResult(
            args, "not_found", None, b"", b"", elapsed_ms(), error=f"{args[0]} not found {where}"
        )
    watchdog = GroupWatchdog() if guard else None
    try:
        return _run_started(
            args,
            program,
            cwd,
            timeout_s,
            env,
            output_cap,
            kill_on_overflow,
            stdin,
            cancelled,
            watchdog,
            started,
        )
    finally:
        if watchdog is not None:
            watchdog.stand_down()


def _run_started(
    args: tuple[str, ...],
    program: str,
    cwd: Path,
    timeout_s: float,
    env: dict[str, str],
    output_cap: int,
    kill_on_overflow: bool,
    stdin: bytes | None,
    cancelled: threading.Event | None,
    watchdog: GroupWatchdog | None,
    started: float,
) -> ToolResult:
    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000

    try:
        proc = subprocess.Popen(
            [program, *args[1:]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return ToolResult(
            args, "not_found", None, b"", b"", elapsed_ms(), error=f"cannot start {args[0]}: {exc}"
        )
    if watchdog is not None:
        watchdog.guard(proc.pid)
    if proc.stdout is None or proc.stderr is None:  # pragma: no cover - PIPE guarantees both
        raise RuntimeError("subprocess pipes were not created")
    overflow = threading.Event()

    def on_overflow() -> None:
        overflow.set()
        _signal_group(proc)

    output = _OutputDrain(proc.stdout, proc.stderr, output_cap, on_overflow if kill_on_overflow else None)
    feeder = _Feeder(proc.stdin, stdin) if proc.stdin is not None and stdin is not None else None
    outcome = _wait(proc, timeout_s, cancelled)
    _stop_group(proc)
    deadline = time.monotonic() + _READER_JOIN_S
    output.finish(deadline)
    if feeder is not None:
        feeder.join(deadline)
    out, err = output.stdout, output.stderr
    duration = elapsed_ms()
    error: str | None = None
    returncode: int | None = proc.returncode
    if overflow.is_set():
        outcome = "overflowed"
        returncode, error = None, f"{args[0]} printed more than {output_cap} bytes and was stopped"
    elif outcome == "timed_out":
        returncode, error = None, f"{args[0]} did not finish within {timeout_s:g} s and was killed"
    elif outcome == "cancelled":
        returncode, error = None, f"{args[0]} was stopped because the run was cancelled"
    elif proc.returncode < 0:
        error = f"{args[0]} was killed by signal {-proc.returncode}"
    elif proc.returncode != 0:
        error = f"{args[0]} exited with status {proc.returncode}"
    return ToolResult(
        args,
        outcome,
        returncode,
        bytes(out.data),
        bytes(err.data),
        duration,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        error=error,
    )


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, cancelled: threading.Event | None) -> Outcome:
    """Wait for the program to exit, the timeout to pass or the run to be cancelled; stop nothing."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timed_out"
        if cancelled is not None and cancelled.is_set():
            return "cancelled"
        # Bounded slices only when a cancellation must be noticed; otherwise one wait.
        step = remaining if cancelled is None else min(remaining, _CANCEL_CHECK_S)
        try:
            proc.wait(timeout=step)
        except subprocess.TimeoutExpired:
            continue
        return "exited"


def _signal_group(proc: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
    """Send ``signum`` to the program and everything it started (its process group); do not wait."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    """Whether anything of the program's process group is left (the program itself reaped first).

    The group keeps the program's pid as its id while any member lives, so it cannot be taken
    by an unrelated process until the group is empty.
    """
    proc.poll()
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member that changed user: not ours to stop
        return False
    return True


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop what is left of the program's process group, then reap the program.

    SIGTERM first, so a test runner can clean up; SIGKILL for whatever is still there after
    :data:`_STOP_GRACE_S`. Nothing to do (the usual case) costs one ``killpg(pid, 0)``.
    """
    if _group_alive(proc):
        _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        pause = 0.005
        # No event says "the group is empty", so it is polled, briefly and only until the grace ends.
        while _group_alive(proc):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _signal_group(proc, signal.SIGKILL)
                break
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
    proc.wait()


class _Stream:
    """What was kept of one output stream."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.truncated = False


class _OutputDrain:
    """Drains the program's stdout and stderr on one thread, keeping the first ``cap`` bytes of each.

    The rest is read and dropped, so the program never blocks on a full pipe. With
    ``on_overflow``, the first byte past ``cap`` on a stream calls it (once per stream) and that
    stream is read no further. :meth:`finish` waits for both streams to end until a deadline,
    then stops reading, so the thread never outlives the call.
    """

    def __init__(
        self,
        stdout: IO[bytes],
        stderr: IO[bytes],
        cap: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.stdout, self.stderr = _Stream(), _Stream()
        self._cap = cap
        self._on_overflow = on_overflow
        self._pipes = (stdout, stderr)
        self._wake_read, self._wake_write = os.pipe()
        self._selector = selectors.DefaultSelector()
        self._selector.register(stdout, selectors.EVENT_READ, self.stdout)
        self._selector.register(stderr, selectors.EVENT_READ, self.stderr)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._drain, name="tool-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        open_streams = len(self._pipes)
        try:
            while open_streams:
                for key, _ in self._selector.select():
                    if key.data is None:  # finish() gave up waiting
                        return
                    chunk = os.read(key.fd, 65536)
                    if not chunk or not self._keep(key.data, chunk):
                        self._selector.unregister(key.fileobj)
                        open_streams -= 1
        finally:
            self._selector.close()
            for pipe in self._pipes:
                pipe.close()
            os.close(self._wake_read)

    def _keep(self, stream: _Stream, chunk: bytes) -> bool:
        """Keep what fits of ``chunk``; ``False`` when the stream overflowed and is read no further."""
        room = self._cap - len(stream.data)
        if room > 0:
            stream.data += chunk[:room]
        if len(chunk) > max(room, 0):
            stream.truncated = True
            if self._on_overflow is not None:
                self._on_overflow()
                return False
        return True

    def finish(self, deadline: float) -> None:
        """Wait for both streams to end until ``deadline`` (``time.monotonic()``), then stop reading."""
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            # A process that left the group holds a pipe open; what it writes later is not kept.
            os.write(self._wake_write, b"\0")
            self._thread.join()
        os.close(self._wake_write)


class _Feeder:
    """Writes ``data`` to the program's standard input on a thread, then closes it.

    A program that exits without reading everything closes the pipe; that is not an error here.
    """

    def __init__(self, stream: IO[bytes], data: bytes) -> None:
        self._stream = stream
        self._data = data
        self._thread = threading.Thread(target=self._feed, name="tool-input", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        with contextlib.suppress(OSError):  # BrokenPipeError included
            self._stream.write(self._data)
        with contextlib.suppress(OSError):
            self._stream.close()

    def join(self, deadline: float) -> None:
        self._thread.join(max(0.0, deadline - time.monotonic()))
