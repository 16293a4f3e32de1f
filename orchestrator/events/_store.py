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

import bisect
import functools
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import structlog

from orchestrator.artifacts import StrPath
from orchestrator.errors import EventStoreError
from orchestrator.events._model import Event
from orchestrator.runs import INTERRUPTED, RUNNING, read_run

__all__ = ["EventStore", "IndexBatch", "RebuiltRun", "RunRow"]

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

# Batches are inserted by multi-row INSERTs of up to 1024 rows: the GIL is released once for all
# of a statement's rows (row-by-row inserts give it up once per row and must win it back from
# busy producer threads each time), and SQLite parses no JSON. (Larger statements cost more per
# row.) Statements come in a few fixed sizes, each compiled once and cached; a batch takes the
# smallest that fits, and the rows it does not fill are NULL rows the WHERE drops.
_INSERT_ROWS = "INSERT OR IGNORE INTO events SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL"
_COLUMNS = 5
_STATEMENT_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class IndexBatch:
    """Consecutive events of one run as the index stores them.

    The events' seqs run from ``first_seq`` on; for each event its timestamp, type and JSON line.
    """

    run_id: str
    first_seq: int
    timestamps: Sequence[str]
    event_types: Sequence[str]
    lines: Sequence[str]


RebuiltRun = tuple[str | None, Path, Iterable[IndexBatch] | None]
"""A run as :meth:`EventStore.rebuild` takes it: id, events file, its batches (None: keep its rows)."""


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

    def __init__(self, path: StrPath, *, busy_timeout_ms: int = 10_000) -> None:
        path = Path(path)
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

    def add_batch(self, batch: IndexBatch) -> None:
        """Index consecutive events of one run; atomic (one statement, or one transaction)."""
        if not batch.lines:
            return
        if len(batch.lines) <= _statement_rows(self._conn)[-1]:
            try:
                with self._lock:
                    _insert(self._conn, batch)
            except sqlite3.Error as exc:
                raise EventStoreError(f"cannot write the event store {self.path}: {exc}") from exc
            return
        with self._transaction() as conn:
            _insert(conn, batch)

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
        lines = self.query_lines(run_id=run_id, type_prefix=type_prefix, since_seq=since_seq, limit=limit)
        return [Event.model_validate_json(line) for _, line in lines]

    def query_lines(
        self,
        *,
        run_id: str | None = None,
        type_prefix: str | None = None,
        since_seq: int | None = None,
        limit: int | None = 1000,
    ) -> list[tuple[int, str]]:
        """What :meth:`query` finds, as ``(seq, line)``: each event's JSON exactly as it was written.

        For readers that only pass events on (an HTTP API): no parse, no re-encoding.
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
        sql = f"SELECT seq, line FROM events {where} {order}"  # noqa: S608 - clauses are fixed strings
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [(int(row[0]), str(row[1])) for row in self._read(sql, params)]

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

    def rebuild(self, runs: Iterable[RebuiltRun]) -> None:
        """Replace the index with ``runs``, in one transaction; an error leaves the old index as it was.

        Each run comes as its id, its events file and its batches. A run given with ``None`` for
        its id and batches (its file could not be read) keeps the rows the index had for that
        file; every other run the index had and ``runs`` does not name is dropped.
        """
        kept: list[str] = []
        with self._transaction() as conn:
            for run_id, events_path, batches in runs:
                if run_id is None or batches is None:
                    rows = conn.execute("SELECT run_id FROM runs WHERE events_path = ?", (str(events_path),))
                    kept.extend(row[0] for row in rows)
                    continue
                kept.append(run_id)
                conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
                conn.execute(
                    "INSERT INTO runs (run_id, events_path) VALUES (?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET events_path = excluded.events_path",
                    (run_id, str(events_path)),
                )
                for batch in batches:
                    _insert(conn, batch)
            names = orjson.dumps(kept).decode()
            conn.execute("DELETE FROM events WHERE run_id NOT IN (SELECT value FROM json_each(?))", (names,))
            conn.execute("DELETE FROM runs WHERE run_id NOT IN (SELECT value FROM json_each(?))", (names,))


@functools.cache
def _insert_sql(rows: int) -> str:
    return _INSERT_ROWS.format(",".join(["(?,?,?,?,?)"] * rows))


@functools.cache
def _sizes_within(variable_limit: int) -> tuple[int, ...]:
    return tuple(rows for rows in _STATEMENT_ROWS if rows * _COLUMNS <= variable_limit) or (1,)


def _statement_rows(conn: sqlite3.Connection) -> tuple[int, ...]:
    """The statement sizes this SQLite allows (it caps the number of parameters of a statement)."""
    return _sizes_within(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def _insert(conn: sqlite3.Connection, batch: IndexBatch) -> None:
    """Insert a batch with as few statements as the sizes allow (one, unless it is very large)."""
    params = list(
        itertools.chain.from_iterable(
            zip(
                itertools.repeat(batch.run_id),
                itertools.count(batch.first_seq),
                batch.timestamps,
                batch.event_types,
                batch.lines,
            )
        )
    )
    sizes = _statement_rows(conn)
    total = len(params) // _COLUMNS
    done = 0
    while done < total:
        size = sizes[min(bisect.bisect_left(sizes, total - done), len(sizes) - 1)]
        taken = min(size, total - done)
        chunk = params[done * _COLUMNS : (done + taken) * _COLUMNS]
        chunk.extend([None] * ((size - taken) * _COLUMNS))
        conn.execute(_insert_sql(size), chunk)
        done += taken
