"""Who owns a run, and whether that owner is still alive.

A run's owner is the process that created it, recorded in ``run.json`` as its pid, its host, and
where the system tells them (Linux's /proc), the boot id and the process's start time, so a pid
reused by another process, or a machine that restarted, is told apart from the owner. The owner
also refreshes ``heartbeat_at`` every ``heartbeat_interval_s`` seconds while the run lives, which
is what another host (or a system without start times) judges it by.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["STALE_HEARTBEATS", "current_owner", "owner_gone", "parse_time"]

STALE_HEARTBEATS = 4
"""A heartbeat this many intervals old means the run's owner is gone."""

_PROC = Path("/proc")
_HAS_PROC = (_PROC / "self" / "stat").is_file()


@dataclass(frozen=True, slots=True)
class _Process:
    """A process as this host sees it: ``start_ticks`` is its start time where /proc tells it."""

    start_ticks: int | None


def _boot_id() -> str | None:
    """This boot of the machine (Linux); a run from an earlier boot has certainly lost its owner."""
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _probe(pid: int) -> _Process | None:
    """The live process with this pid, or ``None`` when there is none (a zombie counts as gone)."""
    if _HAS_PROC:
        try:
            stat = (_PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            return None
        except OSError:
            return _Process(start_ticks=None)
        # The command name (field 2) is in parentheses and may hold anything, spaces included;
        # the fields after its closing parenthesis start at field 3 (state). Start time is field 22.
        fields = stat[stat.rfind(")") + 2 :].split()
        if not fields or fields[0] in ("Z", "X", "x"):
            return None
        try:
            return _Process(start_ticks=int(fields[19]))
        except (IndexError, ValueError):
            return _Process(start_ticks=None)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # someone else's process: it exists
    return _Process(start_ticks=None)


def _pid_namespace() -> str | None:
    """This process's PID namespace (Linux): a container on the same host has its own process table."""
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        return None


def current_owner() -> dict[str, Any]:
    """This process as a run's owner, as written into ``run.json``."""
    pid = os.getpid()
    process = _probe(pid) if _HAS_PROC else None
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "start_ticks": process.start_ticks if process is not None else None,
        "pid_ns": _pid_namespace(),
    }


def owner_gone(manifest: Mapping[str, Any], now: datetime | None = None) -> str | None:
    """Why the owner of this running run is gone, or ``None`` while it may be alive.

    On the owner's host the process table decides: a missing process, another process under the
    same pid, or another boot. Otherwise (another host, or no start time to compare) a heartbeat
    older than :data:`STALE_HEARTBEATS` intervals does. A run without an owner (made by an older
    version) or without heartbeats from elsewhere cannot be judged and counts as running.
    """
    owner = manifest.get("owner")
    if not isinstance(owner, Mapping):
        return None
    pid, host = owner.get("pid"), owner.get("host")
    # The process table answers only for an owner that shares it: the same host and, where it was
    # recorded, the same PID namespace (a container with the host's name has a table of its own).
    namespace = owner.get("pid_ns")
    same_table = not isinstance(namespace, str) or namespace == _pid_namespace()
    if host == socket.gethostname() and same_table and isinstance(pid, int) and pid > 0:
        boot = owner.get("boot_id")
        current_boot = _boot_id()
        if isinstance(boot, str) and current_boot is not None and boot != current_boot:
            return f"the machine restarted after its process {pid} on {host} started the run"
        process = _probe(pid)
        if process is None:
            return f"its process {pid} on {host} is gone"
        recorded = owner.get("start_ticks")
        if isinstance(recorded, int) and process.start_ticks is not None:
            if recorded != process.start_ticks:
                return f"its process {pid} on {host} is gone (the pid now belongs to another process)"
            return None
    beat = parse_time(manifest.get("heartbeat_at"))
    interval = manifest.get("heartbeat_interval_s")
    if beat is None or not isinstance(interval, int | float) or interval <= 0:
        return None
    silence = (now or datetime.now(UTC)) - beat
    if silence > timedelta(seconds=STALE_HEARTBEATS * interval):
        return (
            f"no heartbeat from its process {pid} on {host} for {silence.total_seconds():.0f} s "
            f"(it beats every {interval:g} s)"
        )
    return None


def parse_time(value: Any) -> datetime | None:
    """A ``run.json`` timestamp as an aware UTC datetime; ``None`` for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
