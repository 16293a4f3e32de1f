"""A watchdog process that stops a process group when this process dies without stopping it.

Services we start (a target, the system under test, the assistant) and programs we run (a
coding agent) live in process groups of their own, so stopping a whole group also stops what they
started. When orchestrate is killed outright (SIGKILL, a crash of the interpreter) nothing here
runs to stop them; a :class:`GroupWatchdog` is a small separate process that notices this
process is gone (its stdin reaches end-of-file) and stops the group, so nothing we started
outlives us.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import suppress

__all__ = ["GroupWatchdog"]

_WATCHDOG_GRACE_S = 2.0
_WATCHDOG_EXIT_S = 10.0

# The watchdog: reads the target's process group from stdin, then waits for end-of-file. Data
# before it ("stop") means orchestrate stopped the target itself; a bare end-of-file means
# orchestrate is gone, so the group is stopped. It ignores the terminal's SIGINT and SIGHUP,
# which are meant for orchestrate (and end it, which is what it waits for).
_WATCHDOG = """\
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
line = sys.stdin.buffer.readline()
if not line.endswith(b"\\n"):
    sys.exit(0)
group = int(line)
if sys.stdin.buffer.read():
    sys.exit(0)
try:
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        os.killpg(group, 0)
        time.sleep(0.05)
    os.killpg(group, signal.SIGKILL)
except (ProcessLookupError, PermissionError):
    pass
"""


class GroupWatchdog:
    """A process that stops a process group if this process ends without doing so."""

    def __init__(self) -> None:
        # Its own session: a Ctrl-C or hang-up meant for orchestrate never reaches it.
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(_WATCHDOG_GRACE_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def guard(self, group: int) -> None:
        """Watch ``group`` from now on."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{group}\n".encode("ascii"))
        self._process.stdin.flush()

    def stand_down(self) -> None:
        """The group was stopped here: let the watchdog exit without signalling anything."""
        stdin = self._process.stdin
        assert stdin is not None
        with suppress(BrokenPipeError, OSError):
            stdin.write(b"stop")
        with suppress(BrokenPipeError, OSError):
            stdin.close()
        try:
            self._process.wait(timeout=_WATCHDOG_EXIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
