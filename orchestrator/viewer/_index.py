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
from orchestrator.viewer._model import SPARKLINE_BUCKETS, RunFacts

__all__ = ["IndexReader"]

_COUNT = "SELECT count(*) FROM events WHERE event_type = ? AND run_id = ?"
_WORKERS = (
    "SELECT count(DISTINCT coalesce(json_extract(line, '$.payload.worker_id'), "
    "json_extract(line, '$.actor'))) FROM events WHERE event_type = 'worker.task.started' AND run_id = ?"
)
# Events per time bucket over the run's span, counted by SQLite (a run's timestamps never cross
# into Python: a list of runs with 100,000 events each stays as fast as one of small runs).
_BUCKETS = """
WITH first AS (SELECT min(timestamp) AS at FROM events WHERE run_id = ?1),
moments AS (
    SELECT CAST(round((julianday(substr(timestamp, 1, 19)) - julianday(substr(first.at, 1, 10))) * 86400)
                AS INTEGER) * 1000000
           + CASE WHEN substr(timestamp, 20, 1) = '.'
                  THEN CAST(substr(rtrim(substr(timestamp, 21), 'Z') || '000000', 1, 6) AS INTEGER)
                  ELSE 0 END AS us
    FROM events, first WHERE run_id = ?1
),
span AS (SELECT min(us) AS lo, max(us) AS hi FROM moments)
SELECT CASE WHEN span.hi > span.lo THEN min(?2 - 1, (us - span.lo) * ?2 / (span.hi - span.lo)) ELSE 0 END
           AS bucket,
       count(*)
FROM moments, span GROUP BY bucket
"""
_TOKENS = (
    "SELECT coalesce(sum(json_extract(line, '$.payload.usage.total_tokens')), 0) "
    "FROM events WHERE event_type = 'llm.call.completed' AND run_id = ?"
)


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

    def facts(self, run_id: str) -> RunFacts:
        """The run list's counts for one run, from the index alone."""

        def number(sql: str, *params: object) -> int:
            value = self._rows(sql, params)[0][0]
            return int(value) if isinstance(value, int | float) else 0

        buckets = [0] * SPARKLINE_BUCKETS
        for bucket, count in self._rows(_BUCKETS, (run_id, SPARKLINE_BUCKETS)):
            if isinstance(bucket, int) and isinstance(count, int) and 0 <= bucket < SPARKLINE_BUCKETS:
                buckets[bucket] += count
        return RunFacts(
            worker_calls=number(_COUNT, "conductor.worker.call", run_id),
            capability_failures=number(_COUNT, "conductor.capability.failed", run_id),
            worker_count=number(_WORKERS, run_id),
            total_tokens=number(_TOKENS, run_id),
            buckets=buckets,
        )
