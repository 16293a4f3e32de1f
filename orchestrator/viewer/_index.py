"""Reads of the event index that only the viewer needs: the insertion cursor and per-run counts.

The live stream tails the ``events`` table by its ``rowid``: SQLite hands out rowids in commit
order (one writer at a time, each new row above every row before it), so ``rowid > cursor`` is
exactly "every event indexed since", whichever process wrote it. The run list's counts are
answered by the index too (the ``(event_type, run_id, seq)`` index finds a run's delegations,
failures, workers and model calls without reading its other events), so a list of fifty runs
never loads fifty runs' events.

One reader belongs to one thread, like :class:`~orchestrator.events.EventStore`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.errors import EventStoreError
from orchestrator.viewer._model import SPARKLINE_BUCKETS, RunFacts, bucket_edges

__all__ = ["IndexReader"]

_COUNT = "SELECT count(*) FROM events WHERE event_type = ? AND run_id = ?"
_WORKERS = (
    "SELECT count(DISTINCT coalesce(json_extract(line, '$.payload.worker_id'), "
    "json_extract(line, '$.actor'))) FROM events WHERE event_type = 'worker.task.started' AND run_id = ?"
)
_SPAN = "SELECT min(timestamp), max(timestamp) FROM events WHERE run_id = ?"
_TOKENS = (
    "SELECT coalesce(sum(json_extract(line, '$.payload.usage.total_tokens')), 0) "
    "FROM events WHERE event_type = 'llm.call.completed' AND run_id = ?"
)


def number_of(rows: list[tuple[object, ...]]) -> int:
    value = rows[0][0] if rows else 0
    return int(value) if isinstance(value, int | float) else 0


class IndexReader:
    """A read connection to the events database at ``path`` (which must exist)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        except sqlite3.Error as exc:
            raise EventStoreError(f"cannot open the event store {path}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise EventStoreError(f"cannot read the event store {self.path}: {exc}") from exc

    def last_cursor(self) -> int:
        """The cursor of the newest indexed event (0 when there is none)."""
        value = self._rows("SELECT max(rowid) FROM events", ())[0][0]
        return int(value) if isinstance(value, int) else 0

    def cursor_before(self, run_id: str, since_seq: int) -> int:
        """The cursor just before ``run_id``'s first event with ``seq > since_seq`` (or the newest)."""
        value = self._rows("SELECT min(rowid) FROM events WHERE run_id = ? AND seq > ?", (run_id, since_seq))
        first = value[0][0]
        return int(first) - 1 if isinstance(first, int) else self.last_cursor()

    def tail(self, cursor: int, *, run_id: str | None = None, limit: int = 500) -> list[tuple[int, str]]:
        """Events indexed after ``cursor`` (of one run, when given): ``(cursor, JSON line)`` in order."""
        if run_id is None:
            rows = self._rows(
                "SELECT rowid, line FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", (cursor, limit)
            )
        else:
            rows = self._rows(
                "SELECT rowid, line FROM events WHERE rowid > ? AND run_id = ? ORDER BY rowid LIMIT ?",
                (cursor, run_id, limit),
            )
        return [(int(str(rowid)), str(line)) for rowid, line in rows]

    def _buckets(self, run_id: str) -> list[int]:
        """The run's sparkline, counted by SQLite with string comparisons on the bus's timestamps.

        The bus writes every timestamp in one fixed-width form (microseconds, ``Z``), so they sort
        as text: the bucket edges are computed here as timestamps, and SQLite counts each event's
        bucket as the number of edges at or below it, in one pass, nothing but the counts coming
        back (:func:`~orchestrator.viewer._model.bucket_edges` gives the same buckets as
        :func:`~orchestrator.viewer._model.sparkline`).
        """
        first, last = self._rows(_SPAN, (run_id,))[0]
        edges = bucket_edges(str(first), str(last), SPARKLINE_BUCKETS) if first and last else None
        counts = [0] * SPARKLINE_BUCKETS
        if edges is None:
            return counts
        if not edges:
            counts[0] = number_of(self._rows("SELECT count(*) FROM events WHERE run_id = ?", (run_id,)))
            return counts
        bucket = " + ".join(["(timestamp >= ?)"] * len(edges))
        sql = f"SELECT {bucket} AS bucket, count(*) FROM events WHERE run_id = ? GROUP BY bucket"  # noqa: S608
        for index, count in self._rows(sql, (*edges, run_id)):
            if isinstance(index, int) and isinstance(count, int) and 0 <= index < SPARKLINE_BUCKETS:
                counts[index] += count
        return counts

    def facts(self, run_id: str) -> RunFacts:
        """The run list's counts for one run, from the index alone."""

        def number(sql: str, *params: object) -> int:
            value = self._rows(sql, params)[0][0]
            return int(value) if isinstance(value, int | float) else 0

        buckets = self._buckets(run_id)
        return RunFacts(
            worker_calls=number(_COUNT, "conductor.worker.call", run_id),
            capability_failures=number(_COUNT, "conductor.capability.failed", run_id),
            worker_count=number(_WORKERS, run_id),
            total_tokens=number(_TOKENS, run_id),
            buckets=buckets,
        )
