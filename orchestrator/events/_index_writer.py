"""The thread that feeds the SQLite index, so indexing one batch overlaps preparing the next.

The event bus hands each batch of lines here after appending it to the run's JSONL file (the
source of truth) and goes straight back to numbering and writing the next batch while SQLite
inserts this one (with the GIL released for the whole statement). The queue is short, so the
bus never runs more than two batches ahead of the index. The connection is opened in this
thread and used only by it, as sqlite3 requires.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import structlog

from orchestrator.errors import EventStoreError
from orchestrator.events._store import EventStore, IndexBatch

__all__ = ["IndexWriter"]

log = structlog.get_logger(__name__)

_AHEAD = 2


class _Barrier:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    pass


_Item = tuple[str, Path] | IndexBatch | _Barrier | _Stop


class IndexWriter:
    """Inserts batches into the events database on its own thread, in the order they come."""

    def __init__(self, db_path: Path, *, name: str) -> None:
        self._items: queue.Queue[_Item] = queue.Queue(maxsize=_AHEAD)
        self._opened = threading.Event()
        self._open_error: Exception | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(db_path,), name=f"{name}-index", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            self._thread.join()
            raise self._open_error

    def add_run(self, run_id: str, events_path: Path) -> None:
        self._items.put((run_id, events_path))

    def add_batch(self, batch: IndexBatch) -> None:
        """Queue one run's batch; blocks while the writer is two batches behind."""
        self._items.put(batch)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is in the database; ``False`` on timeout."""
        barrier = _Barrier()
        self._items.put(barrier)
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._items.put(_Stop())
        self._thread.join(timeout)

    def _run(self, db_path: Path) -> None:
        try:
            store = EventStore(db_path)
        except EventStoreError as exc:
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                item = self._items.get()
                if isinstance(item, _Stop):
                    return
                if isinstance(item, _Barrier):
                    item.done.set()
                    continue
                self._write(store, item)
        finally:
            store.close()

    def _write(self, store: EventStore, item: tuple[str, Path] | IndexBatch) -> None:
        run_id = item.run_id if isinstance(item, IndexBatch) else item[0]
        try:
            if isinstance(item, IndexBatch):
                store.add_batch(item)
            else:
                store.add_run(*item)
        except Exception as exc:
            # Never let the writer thread die (the bus would block on a full queue). The JSONL
            # files hold every event; `orchestrate events reindex` repairs the index.
            log.error("event index write failed", run_id=run_id, error=str(exc))
            self.error = exc
