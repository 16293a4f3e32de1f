"""The SQLite index of every run's events (WAL mode), and its queries.

The JSONL files in run dirs are the source of truth; this database is an index over them that
can be rebuilt at any time (:func:`reindex`). Event rows hold the columns the queries filter and
order by (run, seq, type, time) and the event's JSON line; everything else is read from the line.
Rows are keyed by ``(run_id, seq)``, so inserting a line twice is harmless and a rebuild yields
the same rows. The ``runs`` table stores
only what cannot be derived (where each run's file is); a run's start, end, size and status are
read from its events through the indexes when asked. Several processes may write one database:
WAL lets readers go on while one writer commits, and ``busy_timeout`` makes writers wait their
turn instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog

from orchestrator.errors import EventStoreError
from orchestrator.events._model import Event
from orchestrator.runs import INTERRUPTED, RUNNING, read_run

__all__ = ["EventStore", "ReindexReport", "RunRow", "reindex"]

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, run_id, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    events_path TEXT NOT NULL
);
"""

# A whole batch is one statement: SQLite unpacks the JSON array of lines itself, so Python binds
# one parameter per batch and the GIL is released for the whole insert. (Row-by-row inserts give
# up the GIL once per row and must win it back from busy producer threads each time.)
_INSERT_LINES = """
INSERT OR IGNORE INTO events
SELECT ?, value->>'seq', value->>'timestamp', value->>'event_type', value
FROM json_each(?)
"""

INSERT_ROW_SQL = "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?)"
"""Insert one row given as a tuple of the five columns (what a row-at-a-time writer would use)."""

# Everything about a run that the events already say, found through the indexes.
_RUN_SUMMARY = """
SELECT r.run_id, r.events_path,
       (SELECT timestamp FROM events e WHERE e.run_id = r.run_id ORDER BY seq LIMIT 1),
       (SELECT timestamp FROM events e WHERE e.run_id = r.run_id ORDER BY seq DESC LIMIT 1),
       coalesce((SELECT max(seq) FROM events e WHERE e.run_id = r.run_id), 0),
       CASE
         WHEN EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'conductor.task.failed'
                      AND e.run_id = r.run_id) THEN 'failed'
         WHEN EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'conductor.task.completed'
                      AND e.run_id = r.run_id) THEN 'completed'
         ELSE 'running'
       END
FROM runs r
"""


def apply_schema(conn: sqlite3.Connection) -> None:
    """Create the tables and indexes (idempotent) and set WAL mode.

    An index made with another schema version is refused with the fix (it is only an index:
    deleting it and running ``orchestrate events reindex`` rebuilds it from the run dirs).
    """
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found not in (0, SCHEMA_VERSION):
        raise EventStoreError(
            f"this event index has schema version {found}, this orchestrate uses {SCHEMA_VERSION}; "
            "delete the file and run `orchestrate events reindex` to rebuild it from the run dirs"
        )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


@dataclass(frozen=True)
class RunRow:
    """One run as the index knows it. ``event_count`` is the last seq (seqs are gap-free).

    ``status`` is ``completed`` or ``failed`` from the terminal event; without one, ``running``, or
    ``interrupted`` when the run's ``run.json`` says its process died.
    """

    run_id: str
    events_path: str
    started_at: str | None
    updated_at: str | None
    event_count: int
    status: str


def _run_row(values: Sequence[Any]) -> RunRow:
    """A run's row; one without its terminal event whose process died is ``interrupted``, not running."""
    row = RunRow(*values)
    if row.status == RUNNING:
        info = read_run(Path(row.events_path).parent)
        if info is not None and info.status == INTERRUPTED:
            return replace(row, status=INTERRUPTED)
    return row


class EventStore:
    """A connection to the events database: batched writes and the queries the CLI and viewer use.

    One ``EventStore`` belongs to one thread (sqlite3's rule); the event bus owns its own, and
    readers open theirs.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            apply_schema(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise EventStoreError(f"cannot open the event store {path}: {exc}") from exc
        except EventStoreError as exc:
            self._conn.close()
            raise EventStoreError(f"{path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise EventStoreError(f"cannot write the event store {self.path}: {exc}") from exc

    # --- writes ------------------------------------------------------------------------------

    def add_run(self, run_id: str, events_path: Path) -> None:
        """Record where a run's events file is (before its first event is indexed)."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run_id, str(events_path)))

    def add_lines(self, run_id: str, lines: Sequence[str]) -> None:
        """Index one run's JSONL lines; one statement, atomic on its own."""
        if not lines:
            return
        try:
            with self._lock:
                self._conn.execute(_INSERT_LINES, (run_id, "[" + ",".join(lines) + "]"))
        except sqlite3.Error as exc:
            raise EventStoreError(f"cannot write the event store {self.path}: {exc}") from exc

    # --- reads -------------------------------------------------------------------------------

    def query(
        self,
        *,
        run_id: str | None = None,
        type_prefix: str | None = None,
        since_seq: int | None = None,
        limit: int | None = 1000,
    ) -> list[Event]:
        """Events filtered by run, event-type prefix and ``seq > since_seq``, in order.

        Within one run the order is ``seq``; across runs it is time, then run, then seq.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if type_prefix:
            # A range scan on the event_type index; U+10FFFF sorts after every other code point.
            clauses.append("event_type >= ? AND event_type < ?")
            params.extend([type_prefix, type_prefix + "\U0010ffff"])
        if since_seq is not None:
            clauses.append("seq > ?")
            params.append(since_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ORDER BY seq" if run_id is not None else "ORDER BY timestamp, run_id, seq"
        sql = f"SELECT line FROM events {where} {order}"  # noqa: S608 - clauses are fixed strings
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [Event.model_validate_json(row[0]) for row in self._read(sql, params)]

    def runs(self) -> list[RunRow]:
        """Every indexed run, newest first."""
        rows = self._read(_RUN_SUMMARY, [])
        runs = [_run_row(row) for row in rows]
        return sorted(runs, key=lambda r: (r.started_at or "", r.run_id), reverse=True)

    def run(self, run_id: str) -> RunRow | None:
        rows = self._read(_RUN_SUMMARY + " WHERE r.run_id = ?", [run_id])
        return _run_row(rows[0]) if rows else None

    def dump_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every event row and run row, sorted (what a rebuild must reproduce)."""
        events = self._read("SELECT * FROM events ORDER BY run_id, seq", [])
        runs = self._read("SELECT * FROM runs ORDER BY run_id", [])
        return events, runs

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise EventStoreError(f"cannot read the event store {self.path}: {exc}") from exc

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(self, runs: Iterable[tuple[str, Path, Iterable[Sequence[str]]]]) -> None:
        """Replace every row with ``runs`` (run id, events path, batches of lines), in one transaction.

        An error anywhere leaves the old index as it was.
        """
        with self._transaction() as conn:
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM runs")
            for run_id, events_path, batches in runs:
                conn.execute("INSERT INTO runs VALUES (?, ?)", (run_id, str(events_path)))
                for lines in batches:
                    conn.execute(_INSERT_LINES, (run_id, "[" + ",".join(lines) + "]"))


@dataclass
class ReindexReport:
    """What a rebuild read: runs and events indexed, and torn last lines skipped."""

    runs: int = 0
    events: int = 0
    torn_lines: list[str] = field(default_factory=list)


def _read_lines(path: Path, report: ReindexReport) -> tuple[str | None, list[str]]:
    """A run's id and its complete, valid lines; a torn last line is skipped with a warning."""
    raw_lines = path.read_bytes().split(b"\n")
    # A file that ends with "\n" splits into [..., b""]; anything else at the end is unterminated.
    tail = raw_lines.pop()
    if tail.strip():
        log.warning("skipping torn last line", file=str(path), line=len(raw_lines) + 1)
        report.torn_lines.append(f"{path}:{len(raw_lines) + 1}")
    run_id: str | None = None
    lines: list[str] = []
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        text = raw.decode("utf-8")
        try:
            event = Event.model_validate_json(text)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if run_id is None:
            run_id = event.run_id
        elif event.run_id != run_id:
            raise ValueError(f"line {number}: run_id {event.run_id!r} in the events file of {run_id!r}")
        if event.seq != len(lines) + 1:
            raise ValueError(f"line {number}: seq {event.seq} where {len(lines) + 1} was expected")
        lines.append(text)
    return run_id, lines


def reindex(store: EventStore, events_files: Iterable[Path], *, batch: int = 5000) -> ReindexReport:
    """Rebuild the database from run dirs' ``events.jsonl`` files, in one transaction.

    Every complete line is indexed; an unterminated last line (a write cut short by a crash) is
    skipped with a warning. A broken line anywhere else means the file was damaged or edited by
    hand: :class:`EventStoreError` names the file and line, and the old index is left as it was.
    """
    report = ReindexReport()

    def runs() -> Iterator[tuple[str, Path, Iterable[Sequence[str]]]]:
        for path in sorted(p.resolve() for p in events_files):
            try:
                run_id, lines = _read_lines(path, report)
            except (ValueError, OSError) as exc:
                raise EventStoreError(
                    f"{path}: not a valid events file ({exc}); the index was left as it was"
                ) from exc
            # An empty file (a run that never emitted) is still a run; its dir is named by its id.
            run_id = run_id or path.parent.name
            report.runs += 1
            report.events += len(lines)
            yield run_id, path, (lines[i : i + batch] for i in range(0, len(lines), batch))

    store.rebuild(runs())
    return report
