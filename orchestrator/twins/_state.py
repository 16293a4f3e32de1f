"""A twin's state: named entities of JSON records, with time-stamped snapshots for stale reads.

Records live per entity in insertion order, keyed by the string form of their id field. Records
are never changed in place: an update stores a new dict and every mutation copies the one
entity table it touches (copy on write), so a snapshot is just the mapping of tables at a moment.
Snapshots are kept for ``history_s`` seconds (plus the newest older one; writes closer together
than ``granularity_s`` share one snapshot, so memory stays bounded), which is what the
``stale_data`` chaos mode reads from: "the state as it was at least N seconds ago". When the
twin is younger than N seconds, the oldest snapshot (the state right after the last reset) is
the stalest there is, and that is what is served.

All methods are thread-safe; the server calls them from its event loop, tests and the Python
API may call them from other threads.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["StateView", "TwinState"]

Table = dict[str, dict[str, Any]]
Tables = dict[str, Table]
Records = list[dict[str, Any]]


class StateView:
    """Reads from one set of tables (live or a snapshot); writes always go to the live state."""

    __slots__ = ("_live", "_tables", "age_s")

    def __init__(self, live: TwinState, tables: Tables, age_s: float | None) -> None:
        self._live = live
        self._tables = tables
        self.age_s = age_s
        """How old the data read through this view is, in seconds (``None``: live)."""

    @property
    def stale(self) -> bool:
        return self.age_s is not None

    def entities(self) -> list[str]:
        return list(self._tables)

    def list(self, entity: str) -> list[dict[str, Any]]:
        """The records of ``entity`` in insertion order."""
        return list(self._table(entity).values())

    def get(self, entity: str, key: object) -> dict[str, Any] | None:
        """The record of ``entity`` whose id is ``key`` (compared as text), or ``None``."""
        return self._table(entity).get(str(key))

    def find(self, entity: str, **fields: object) -> dict[str, Any] | None:
        """The first record whose fields equal these values (compared as text), or ``None``."""
        wanted = {name: str(value) for name, value in fields.items()}
        for record in self._table(entity).values():
            if all(str(record.get(name)) == value for name, value in wanted.items()):
                return record
        return None

    def insert(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        return self._live.insert(entity, record)

    def update(self, entity: str, key: object, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._live.update(entity, key, changes)

    def delete(self, entity: str, key: object) -> bool:
        return self._live.delete(entity, key)

    def next_id(self, entity: str) -> int:
        return self._live.next_id(entity)

    def _table(self, entity: str) -> Table:
        try:
            return self._tables[entity]
        except KeyError:
            known = ", ".join(self._tables) or "none"
            raise KeyError(f"no entity {entity!r} in this twin (entities: {known})") from None


class TwinState:
    """The live state of one twin (see the module docstring)."""

    def __init__(
        self,
        id_fields: Mapping[str, str],
        *,
        history_s: float = 600.0,
        granularity_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id_fields = dict(id_fields)
        self._history_s = history_s
        self._granularity_s = granularity_s
        self._clock = clock
        self._lock = threading.RLock()
        self._tables: Tables = {entity: {} for entity in self._id_fields}
        self._counters: dict[str, int] = dict.fromkeys(self._id_fields, 0)
        self._history: deque[tuple[float, Tables]] = deque()
        self._remember()

    @property
    def live(self) -> StateView:
        """A view of the current state."""
        return StateView(self, self._tables, None)

    def reset(self, data: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        """Replace the whole state with ``data`` (entity name to records; already validated)."""
        with self._lock:
            self._tables = {entity: {} for entity in self._id_fields}
            self._counters = dict.fromkeys(self._id_fields, 0)
            for entity, records in data.items():
                for record in records:
                    self._put(entity, copy.deepcopy(dict(record)))
            self._history.clear()
            self._remember()

    def as_of(self, age_s: float) -> StateView:
        """A read view of the state as it was at least ``age_s`` seconds ago."""
        with self._lock:
            cutoff = self._clock() - age_s
            chosen_at, chosen = self._history[0]
            for at, tables in self._history:
                if at > cutoff:
                    break
                chosen_at, chosen = at, tables
            return StateView(self, chosen, max(self._clock() - chosen_at, 0.0))

    def list(self, entity: str) -> list[dict[str, Any]]:
        return self.live.list(entity)

    def get(self, entity: str, key: object) -> dict[str, Any] | None:
        return self.live.get(entity, key)

    def insert(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new record; one without an id gets the next number. An id in use is a ``ValueError``."""
        with self._lock:
            stored = dict(record)
            id_field = self._id_field(entity)
            if stored.get(id_field) is None:
                stored[id_field] = self._next_id_locked(entity)
            if str(stored[id_field]) in self._tables[entity]:
                raise ValueError(f"{entity} already has a record with {id_field} {stored[id_field]!r}")
            self._copy_table(entity)
            self._put(entity, stored)
            self._remember()
            return stored

    def update(self, entity: str, key: object, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Store ``changes`` over the record with id ``key``; ``None`` when there is no such record."""
        with self._lock:
            current = self._tables[entity].get(str(key))
            if current is None:
                return None
            updated = {**current, **changes}
            id_field = self._id_field(entity)
            if str(updated.get(id_field)) != str(key):
                raise ValueError(f"the {id_field} of a {entity} record cannot change")
            self._copy_table(entity)[str(key)] = updated
            self._remember()
            return updated

    def delete(self, entity: str, key: object) -> bool:
        """Remove the record with id ``key``; whether there was one."""
        with self._lock:
            if str(key) not in self._tables[entity]:
                return False
            del self._copy_table(entity)[str(key)]
            self._remember()
            return True

    def next_id(self, entity: str) -> int:
        """Reserve and return the next numeric id of ``entity`` (above every numeric id seen)."""
        with self._lock:
            return self._next_id_locked(entity)

    def dump(self) -> dict[str, Records]:
        """The whole state as JSON-able data: entity name to its records in insertion order."""
        with self._lock:
            return {entity: copy.deepcopy(list(table.values())) for entity, table in self._tables.items()}

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {entity: len(table) for entity, table in self._tables.items()}

    # ------------------------------------------------------------------------------------ internals

    def _id_field(self, entity: str) -> str:
        try:
            return self._id_fields[entity]
        except KeyError:
            known = ", ".join(self._id_fields) or "none"
            raise KeyError(f"no entity {entity!r} in this twin (entities: {known})") from None

    def _next_id_locked(self, entity: str) -> int:
        self._id_field(entity)
        self._counters[entity] += 1
        return self._counters[entity]

    def _put(self, entity: str, record: dict[str, Any]) -> None:
        id_field = self._id_field(entity)
        if record.get(id_field) is None:
            record[id_field] = self._next_id_locked(entity)
        value = record[id_field]
        if isinstance(value, int) and not isinstance(value, bool):
            self._counters[entity] = max(self._counters[entity], value)
        self._tables[entity][str(value)] = record

    def _copy_table(self, entity: str) -> Table:
        # A fresh top-level mapping too, so snapshots taken earlier keep their own.
        self._tables = dict(self._tables)
        table = dict(self._tables[entity])
        self._tables[entity] = table
        return table

    def _remember(self) -> None:
        now = self._clock()
        history = self._history
        if len(history) >= 2 and now - history[-2][0] < self._granularity_s:
            # Writes in quick succession share one snapshot, which bounds memory under load.
            history[-1] = (now, self._tables)
        else:
            history.append((now, self._tables))
        # Keep every snapshot younger than the window, and the newest one older than it.
        while len(history) > 1 and history[1][0] <= now - self._history_s:
            history.popleft()
