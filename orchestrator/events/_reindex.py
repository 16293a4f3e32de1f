"""Rebuilding the event index from the run dirs' ``events.jsonl`` files (the source of truth).

Every file is read and checked line by line: each line must be an event of the file's run with
the next seq. Two kinds of damage are told apart:

- an unterminated last line is a write a crash cut short; it is skipped with a warning and the
  lines before it are indexed;
- a broken line anywhere else means the file was damaged or edited by hand; that run is skipped
  with a warning naming the file and the line, it keeps whatever the index had for it, and every
  other run is indexed.

The rebuild is one transaction, so a failure of the database leaves the old index as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from pydantic import ValidationError

from orchestrator.artifacts import StrPath
from orchestrator.events._model import Event
from orchestrator.events._store import EventStore, IndexBatch, RebuiltRun

__all__ = ["ReindexReport", "SkippedRun", "reindex"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SkippedRun:
    """An events file a rebuild could not read: where (the line, when one is to blame) and why."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ReindexReport:
    """What a rebuild read: runs and events indexed, torn last lines and damaged files skipped."""

    runs: int = 0
    events: int = 0
    torn_lines: list[str] = field(default_factory=list)
    skipped: list[SkippedRun] = field(default_factory=list)


@dataclass
class _RunFile:
    run_id: str | None = None
    timestamps: list[str] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def batches(self, run_id: str, size: int) -> Iterator[IndexBatch]:
        for start in range(0, len(self.lines), size):
            end = start + size
            yield IndexBatch(
                run_id,
                start + 1,
                self.timestamps[start:end],
                self.event_types[start:end],
                self.lines[start:end],
            )


class _DamagedFileError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _problem(exc: ValueError) -> str:
    """One line saying why a line is not an event (pydantic's own message runs to several)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"not an event ({where + ': ' if where else ''}{first['msg']})"
    return f"not an event ({exc})"


def _read(path: Path, report: ReindexReport) -> _RunFile:
    """A run's complete, valid events; a torn last line is skipped with a warning.

    Raises :class:`_DamagedFileError` naming the first line that is not the run's next event.
    """
    raw_lines = path.read_bytes().split(b"\n")
    # A file that ends with "\n" splits into [..., b""]; anything else at the end is unterminated.
    tail = raw_lines.pop()
    if tail.strip():
        log.warning("skipping torn last line", file=str(path), line=len(raw_lines) + 1)
        report.torn_lines.append(f"{path}:{len(raw_lines) + 1}")
    run = _RunFile()
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
            event = Event.model_validate_json(text)
        except ValueError as exc:
            raise _DamagedFileError(number, _problem(exc)) from exc
        if run.run_id is None:
            run.run_id = event.run_id
        elif event.run_id != run.run_id:
            raise _DamagedFileError(number, f"run_id {event.run_id!r} in the events file of {run.run_id!r}")
        if event.seq != len(run.lines) + 1:
            raise _DamagedFileError(number, f"seq {event.seq} where {len(run.lines) + 1} was expected")
        run.timestamps.append(event.timestamp)
        run.event_types.append(event.event_type)
        run.lines.append(text)
    return run


def reindex(store: EventStore, events_files: Iterable[StrPath], *, batch: int = 5000) -> ReindexReport:
    """Rebuild the database from run dirs' ``events.jsonl`` files, in one transaction.

    Every complete line is indexed; an unterminated last line is skipped with a warning. A file
    with a broken line elsewhere, one that cannot be read, or a second file claiming a run id
    already indexed is skipped with a warning and listed in ``report.skipped``; every other run
    is indexed.
    """
    report = ReindexReport()

    def skip(path: Path, line: int | None, reason: str) -> None:
        log.warning("skipping an events file", file=str(path), line=line, reason=reason)
        report.skipped.append(SkippedRun(str(path), line, reason))

    def runs() -> Iterator[RebuiltRun]:
        sources: dict[str, Path] = {}
        for path in sorted(Path(p).resolve() for p in events_files):
            try:
                run = _read(path, report)
            except _DamagedFileError as exc:
                skip(path, exc.line, exc.reason)
                yield None, path, None
                continue
            except OSError as exc:
                skip(path, None, f"cannot be read ({exc.strerror or exc})")
                yield None, path, None
                continue
            # An empty file (a run that never emitted) is still a run; its dir is named by its id.
            run_id = run.run_id or path.parent.name
            if run_id in sources:
                skip(path, None, f"run {run_id!r} is already indexed from {sources[run_id]}")
                continue
            sources[run_id] = path
            report.runs += 1
            report.events += len(run.lines)
            yield run_id, path, run.batches(run_id, batch)

    store.rebuild(runs())
    return report
