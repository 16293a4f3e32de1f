"""The live OTLP export of a job, in a process of its own, so a run pays almost nothing for it.

Mapping events to spans and encoding them is Python work; in the job's process it would compete
with the event bus for the interpreter lock and halve the bus's throughput. :class:`OtlpExportProcess`
is the bus's line subscriber: it keeps the stored lines of events that make spans (a lookup per
event, nothing parsed), and one writer thread passes them in batches down a pipe to a child
process (``python -m orchestrator.telemetry._export_process``) that runs an
:class:`~orchestrator.telemetry.OtlpEventExporter` on them. The pipe's protocol is one line per
message: ``<event type>\\t<event line>`` for an event, ``#kind <run id> <kind>``, ``#flush <n>``
(answered ``flushed <n>``) and end-of-file, after which the child ends every run's open spans,
exports what is left, answers ``stats <json>`` and exits.

A collector that is down, a child that is slow or dead: never the run's problem. What cannot be
passed on is dropped and counted, and :meth:`OtlpExportProcess.close` logs one warning line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections import deque
from typing import IO

import orjson
import structlog

from orchestrator.events import TERMINAL_EVENT_TYPES
from orchestrator.telemetry._export import ExportStats, OtlpEventExporter, warn_dropped
from orchestrator.telemetry._mapping import SPAN_EVENT_TYPES

__all__ = ["OtlpExportProcess", "main"]

log = structlog.get_logger(__name__)

_WRITE_EVERY_S = 0.2
_WAKE_AT = 512
_MAX_BACKLOG = 200_000
_EXIT_GRACE_S = 5.0


def _wanted(event_type: str) -> bool:
    return event_type in SPAN_EVENT_TYPES or event_type.startswith("trajectory.")


class OtlpExportProcess:
    """A job's live OTLP exporter (see the module docstring): subscribe :meth:`on_line` to the bus."""

    def __init__(
        self,
        endpoint: str,
        *,
        service_name: str = "orchestrate",
        timeout_s: float = 10.0,
        max_queue: int = 20_000,
    ) -> None:
        self.endpoint = endpoint
        self._timeout_s = timeout_s
        self._child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.telemetry._export_process",
                endpoint,
                service_name,
                str(timeout_s),
                str(max_queue),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C meant for the job never reaches it mid-export.
            start_new_session=True,
        )
        self._backlog: deque[bytes] = deque()
        self._dropped_events = 0  # written by the bus thread only
        self._broken: str | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._flushes: dict[int, threading.Event] = {}
        self._next_flush = 0
        self._lock = threading.Lock()
        self._child_stats: ExportStats | None = None
        self._writer = threading.Thread(target=self._write_loop, name="otlp-export-writer", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="otlp-export-reader", daemon=True)
        self._writer.start()
        self._reader.start()

    # --- the bus side ----------------------------------------------------------------------

    def on_line(self, event_type: str, line: bytes) -> None:
        """Keep the line of an event that makes or ends a span; the rest cost one lookup."""
        if not _wanted(event_type):
            return
        backlog = self._backlog
        if len(backlog) >= _MAX_BACKLOG:
            self._dropped_events += 1
            return
        backlog.append(event_type.encode() + b"\t" + line)
        if event_type in TERMINAL_EVENT_TYPES or len(backlog) >= _WAKE_AT:
            self._wake.set()

    def describe_run(self, run_id: str, *, kind: str) -> None:
        """Name ``run_id``'s job kind on its run spans."""
        self._backlog.append(f"#kind {run_id} {kind}\n".encode())

    # --- the caller side -------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Export what the events so far have ended; ``False`` when ``timeout`` passed first."""
        if self._closed or self._broken:
            return self._broken is None
        done = threading.Event()
        with self._lock:
            number = self._next_flush
            self._next_flush += 1
            self._flushes[number] = done
        self._backlog.append(f"#flush {number}\n".encode())
        self._wake.set()
        return done.wait(self._timeout_s if timeout is None else timeout)

    @property
    def stats(self) -> ExportStats:
        child = self._child_stats or ExportStats(0, 0, 0, None)
        return ExportStats(
            child.sent,
            child.dropped_spans,
            child.dropped_events + self._dropped_events,
            self._broken or child.error,
        )

    def close(self, timeout: float | None = None) -> ExportStats:
        """Pass on what is left, let the child export it (within ``timeout``) and exit; safe twice."""
        if self._closed:
            return self.stats
        self._closed = True
        self._closing.set()
        self._wake.set()
        # One deadline for all of it: the child's own export timeout, plus a grace to exit.
        deadline = time.monotonic() + (self._timeout_s if timeout is None else timeout) + _EXIT_GRACE_S
        self._writer.join(max(0.0, deadline - time.monotonic()))
        stuck = "the export process did not finish in time and was stopped"
        if self._writer.is_alive():
            # The child stopped reading (it hangs, or it was stopped): killing it ends the write.
            self._broken = stuck
            self._child.kill()
        try:
            self._child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
            self._broken = stuck
        self._writer.join(_EXIT_GRACE_S)
        self._reader.join(_EXIT_GRACE_S)
        stats = self.stats
        if stats.dropped_spans or stats.dropped_events or self._child_stats is None:
            warn_dropped(self.endpoint, stats)
        return stats

    # --- the pipe --------------------------------------------------------------------------

    def _write_loop(self) -> None:
        pipe = self._child.stdin
        assert pipe is not None
        try:
            while True:
                self._wake.wait(_WRITE_EVERY_S)
                self._wake.clear()
                closing = self._closing.is_set()
                self._drain(pipe)
                if closing:
                    return
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _drain(self, pipe: IO[bytes]) -> None:
        backlog = self._backlog
        chunk: list[bytes] = []
        while backlog:
            chunk.append(backlog.popleft())
        if not chunk or self._broken:
            self._dropped_events += sum(1 for item in chunk if not item.startswith(b"#"))
            return
        try:
            pipe.write(b"".join(chunk))  # blocks, without the interpreter lock, while the child is busy
            pipe.flush()
        except OSError as exc:
            self._broken = f"the export process is gone ({exc})"
            self._dropped_events += sum(1 for item in chunk if not item.startswith(b"#"))

    def _read_loop(self) -> None:
        pipe = self._child.stdout
        assert pipe is not None
        for raw in pipe:
            word, _, rest = raw.decode("utf-8", errors="replace").strip().partition(" ")
            if word == "flushed":
                with self._lock:
                    done = self._flushes.pop(int(rest), None)
                if done is not None:
                    done.set()
            elif word == "stats":
                document = orjson.loads(rest)
                self._child_stats = ExportStats(**document)
        with self._lock:
            waiting, self._flushes = list(self._flushes.values()), {}
        for done in waiting:
            done.set()


def main(argv: list[str] | None = None) -> int:
    """The child: read the pipe, export through an :class:`OtlpEventExporter`, report, exit."""
    endpoint, service_name, timeout_s, max_queue = (argv if argv is not None else sys.argv[1:])[:4]
    # The pipe back to the parent is the original stdout; anything else printed goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    exporter = OtlpEventExporter(
        endpoint, service_name=service_name, timeout_s=float(timeout_s), max_queue=int(max_queue)
    )
    for raw in sys.stdin.buffer:
        if raw.startswith(b"#"):
            command, _, rest = raw.decode().strip().partition(" ")
            if command == "#kind":
                run_id, _, kind = rest.partition(" ")
                exporter.describe_run(run_id, kind=kind)
            elif command == "#flush":
                exporter.flush()
                out.write(f"flushed {rest}\n")
                out.flush()
            continue
        event_type, _, line = raw.partition(b"\t")
        exporter.on_line(event_type.decode(), line)
    stats = exporter.close()
    out.write("stats " + orjson.dumps(dataclasses.asdict(stats)).decode() + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
