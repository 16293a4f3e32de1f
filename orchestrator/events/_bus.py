"""The event bus: one actor that numbers, writes and indexes every event of a process.

Producers (any thread) call :meth:`EventBus.emit` with a payload model (or an event type and a
dict payload, checked against its type's model right there), so a bad event fails at the line
that emitted it; the event is encoded to its JSON line (orjson) in the producer and queued.
The bus actor drains the queue in batches: it assigns each run's gap-free ``seq``, appends the
lines to the run's ``events.jsonl`` in that order (one write per batch, flushed, so a crash tears
at most the last line), indexes the batch in SQLite in one transaction, and hands each event once
to every subscriber.

Queued events do not each become a pykka message: a producer wakes the bus with one
:class:`DrainEvents` only when no wake-up is pending, and the bus takes everything queued by then.
Under load that forms large batches by itself; when idle an event is written at once.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import structlog

from orchestrator.actors import ActorHandle, TypedActor, handles, spawn
from orchestrator.artifacts import StrPath
from orchestrator.correlation import CORRELATION_KEYS, current_correlation
from orchestrator.errors import EventError, EventSchemaError, EventStoreError, RunExistsError
from orchestrator.events._encoding import dumps
from orchestrator.events._index_writer import IndexWriter
from orchestrator.events._model import EVENT_FIELDS, Event
from orchestrator.events._payload_check import check_payload, payload_of
from orchestrator.events._store import IndexBatch
from orchestrator.events._vocabulary import TERMINAL_EVENT_TYPES, EventPayload
from orchestrator.messages import CloseRun, DrainEvents, FlushEvents, OpenRun

__all__ = ["EventBus", "LineSubscriber", "Subscriber"]

log = structlog.get_logger(__name__)

Subscriber = Callable[[Event], None]
LineSubscriber = Callable[[str, bytes], None]
"""Called with each written event's type and its line as stored (JSON, newline-terminated)."""

# What a producer queues: run id, event type, timestamp, and the event's JSON without its seq
# and without the opening brace (only the bus assigns seq). Encoding in the producer keeps the
# bus's own work per event tiny; type and time are the index's columns.
_Draft = tuple[str, str, str, bytes]

_INDEX_WAIT_S = 60.0
_LINE = b'{"seq":%d,%b\n'  # a draft's body follows its seq
_CORRELATION_KEYS = frozenset(CORRELATION_KEYS)
# An event as written, minus its seq: every field in order, each None until filled.
_RECORD: dict[str, Any] = dict.fromkeys(EVENT_FIELDS[1:])


def _type_name(event: object) -> str:
    return event if isinstance(event, str) else str(getattr(event, "event_type", type(event).__name__))


class _Clock:
    """ISO 8601 UTC timestamps with microseconds, formatting the date part once per second."""

    def __init__(self) -> None:
        self._cached = (-1, "")

    def now(self) -> str:
        micros = time.time_ns() // 1000
        second = micros // 1_000_000
        cached = self._cached  # one tuple, so threads never mix two seconds
        if second != cached[0]:
            # The second's text with a slot for the microseconds: "2024-03-09T23:59:59.%06dZ".
            cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.%%06dZ"))
            self._cached = cached
        return cached[1] % (micros % 1_000_000)


def _continue_events_file(path: Path) -> tuple[IO[bytes], int]:
    """Open an existing events file for appending; return it and the last ``seq`` it holds."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise EventError(f"{path} does not exist: only a run that recorded events can be continued") from exc
    complete = data[: data.rfind(b"\n") + 1]
    last_seq = 0
    tail = complete.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if tail.strip():
        try:
            last_seq = int(orjson.loads(tail)["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EventError(
                f"{path}: its last line is not an event with a seq; it cannot be continued"
            ) from exc
    handle = path.open("r+b", buffering=0)
    if len(complete) != len(data):
        log.warning(
            "a torn last line of the events file was cut off", path=str(path), bytes=len(data) - len(complete)
        )
        handle.truncate(len(complete))
    handle.seek(len(complete))
    return handle, last_seq


@dataclass
class _OpenRun:
    path: Path
    handle: IO[bytes]
    size: int = 0
    last_seq: int = 0
    ended: bool = False
    late_events: int = 0


@dataclass
class _BusState:
    """What producers and the bus actor share; every field is safe to touch from any thread."""

    queue: queue.SimpleQueue[_Draft] = field(default_factory=queue.SimpleQueue)
    open_runs: set[str] = field(default_factory=set)
    closed_runs: set[str] = field(default_factory=set)
    wake_pending: bool = False
    room: threading.Event = field(default_factory=threading.Event)
    bus_thread: int | None = None
    subscribers: list[Subscriber] = field(default_factory=list)
    line_subscribers: list[LineSubscriber] = field(default_factory=list)
    write_error: Exception | None = None


class _BusActor(TypedActor):
    def __init__(self, *, db_path: Path | None, batch_size: int, state: _BusState, name: str) -> None:
        super().__init__(name=name)
        self._db_path = db_path
        self._batch_size = batch_size
        self._state = state
        self._runs: dict[str, _OpenRun] = {}
        # Opened here, in the caller's thread, so a database that cannot be opened fails the
        # EventBus constructor with the reason instead of a dead actor.
        self._index = IndexWriter(db_path, name=name) if db_path is not None else None

    def on_start(self) -> None:
        self._state.bus_thread = threading.get_ident()

    def on_stop(self) -> None:
        self._drain()
        for run_id in list(self._runs):
            self._close(run_id)
        if self._index is not None:
            self._index.close()

    @handles(OpenRun)
    def _on_open(self, message: OpenRun) -> None:
        path = Path(message.events_path).resolve()
        if message.run_id in self._runs:
            raise EventError(f"run {message.run_id} is already open on this bus")
        path.parent.mkdir(parents=True, exist_ok=True)
        last_seq = 0
        if message.resume:
            handle, last_seq = _continue_events_file(path)
        else:
            # Exclusive create: a run's events file is never appended to by a second run. Unbuffered:
            # each batch is one write() call, so nothing sits in a Python buffer when a crash comes.
            try:
                handle = path.open("xb", buffering=0)
            except FileExistsError as exc:
                raise RunExistsError(f"{path} already exists; a run's events file is never reused") from exc
        self._runs[message.run_id] = _OpenRun(path=path, handle=handle, size=handle.tell(), last_seq=last_seq)
        if self._index is not None:
            self._index.add_run(message.run_id, path)
        self._state.closed_runs.discard(message.run_id)
        self._state.open_runs.add(message.run_id)

    @handles(CloseRun)
    def _on_close(self, message: CloseRun) -> None:
        self._drain()
        self._close(message.run_id)
        self._wait_for_index()
        self._raise_write_error()

    @handles(DrainEvents)
    def _on_drain(self, message: DrainEvents) -> None:
        self._drain()

    @handles(FlushEvents)
    def _on_flush(self, message: FlushEvents) -> None:
        self._drain()
        self._wait_for_index()
        self._raise_write_error()

    def _raise_write_error(self) -> None:
        error, self._state.write_error = self._state.write_error, None
        if error is None and self._index is not None:
            error, self._index.error = self._index.error, None
        if error is not None:
            raise EventStoreError(f"events could not be written: {error}") from error

    def _wait_for_index(self) -> None:
        if self._index is not None and not self._index.wait(timeout=_INDEX_WAIT_S):
            log.error("the event index is behind; it catches up or `orchestrate events reindex` fills it")

    def _close(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None and run.late_events:
            # Work still in flight when a run ends (a stopped run's last answers) is not part of it.
            log.debug(
                "events after the run's terminal event were not recorded",
                run_id=run_id,
                count=run.late_events,
            )
        self._state.closed_runs.add(run_id)
        self._state.open_runs.discard(run_id)
        if run is not None:
            os.fsync(run.handle.fileno())
            run.handle.close()

    def _drain(self) -> None:
        # Reset the flag before taking events: a producer that queues after this line sees it
        # cleared and sends a new wake-up, so no event is ever left waiting. Take only what is
        # queued now, so a flush returns even while producers keep emitting.
        self._state.wake_pending = False
        pending = self._state.queue
        remaining = pending.qsize()
        while remaining > 0:
            drafts = [pending.get_nowait() for _ in range(min(remaining, self._batch_size))]
            remaining -= len(drafts)
            try:
                self._write(drafts)
            except Exception as exc:
                # Never let one bad batch stop the bus: later events and the terminal event still
                # need writing. The next flush or close reports it.
                log.exception("event batch could not be written")
                self._state.write_error = exc
            self._state.room.set()

    def _write(self, drafts: list[_Draft]) -> None:
        # Column by column rather than event by event: this is the one thread every event passes
        # through, so its work per event is kept to what C code does for a whole column.
        run_ids, event_types, timestamps, bodies = zip(*drafts, strict=True)
        columns: dict[str, tuple[Sequence[str], Sequence[str], Sequence[bytes]]] = {}
        if len(set(run_ids)) == 1:
            columns[run_ids[0]] = (event_types, timestamps, bodies)
        else:
            by_run: dict[str, list[_Draft]] = {}
            for draft in drafts:
                by_run.setdefault(draft[0], []).append(draft)
            for run_id, run_drafts in by_run.items():
                _, run_types, run_stamps, run_bodies = zip(*run_drafts, strict=True)
                columns[run_id] = (run_types, run_stamps, run_bodies)
        written: list[tuple[Sequence[str], list[bytes]]] = []
        for run_id, (types, stamps, lines_without_seq) in columns.items():
            lines = self._write_run(run_id, types, stamps, lines_without_seq)
            if lines:
                written.append((types[: len(lines)], lines))
        self._notify(written)

    def _write_run(
        self, run_id: str, event_types: Sequence[str], timestamps: Sequence[str], bodies: Sequence[bytes]
    ) -> list[bytes]:
        """Number and append one run's share of a batch; the lines written (none if it failed)."""
        run = self._runs.get(run_id)
        if run is None:
            log.debug("events after their run closed were dropped", run_id=run_id, count=len(bodies))
            return []
        if run.ended:
            # A run ends with its terminal event; stragglers from workers that were still
            # winding down are counted, not written after it.
            run.late_events += len(bodies)
            return []
        ended = not TERMINAL_EVENT_TYPES.isdisjoint(event_types)
        if ended:
            end = (
                next(i for i, event_type in enumerate(event_types) if event_type in TERMINAL_EVENT_TYPES) + 1
            )
            run.late_events += len(bodies) - end
            event_types, timestamps, bodies = event_types[:end], timestamps[:end], bodies[:end]
        # Seqs are only kept once the lines are in the file, so a failed write leaves no gap: the
        # next batch reuses them.
        first_seq = run.last_seq + 1
        lines = list(map(_LINE.__mod__, zip(itertools.count(first_seq), bodies)))
        data = b"".join(lines)
        try:
            _append(run.handle, run.size, data)
        except OSError as exc:
            log.error("event batch could not be written", run_id=run_id, error=str(exc))
            self._state.write_error = exc
            return []
        run.size += len(data)
        run.last_seq += len(lines)
        run.ended = ended
        if self._index is not None:
            # The JSONL is the source of truth; `orchestrate events reindex` repairs the index.
            # JSON escapes every newline inside a line, so the batch splits back into its lines.
            text = data.decode("utf-8").split("\n")
            text.pop()
            self._index.add_batch(IndexBatch(run_id, first_seq, timestamps, event_types, text))
        return lines

    def _notify(self, written: list[tuple[Sequence[str], list[bytes]]]) -> None:
        for line_subscriber in self._state.line_subscribers:
            for types, lines in written:
                try:
                    for event_type, line in zip(types, lines, strict=True):
                        line_subscriber(event_type, line)
                except Exception:
                    log.exception("event subscriber failed", subscriber=repr(line_subscriber))
        subscribers = self._state.subscribers
        if not subscribers:
            return
        for _, lines in written:
            for line in lines:
                event = Event.model_validate_json(line)
                for subscriber in subscribers:
                    try:
                        subscriber(event)
                    except Exception:
                        log.exception("event subscriber failed", subscriber=repr(subscriber))


def _append(handle: IO[bytes], start: int, data: bytes) -> None:
    """Append a whole batch at ``start`` (the file's size) or nothing: a failed write is cut back off.

    One write call per batch, so a crash tears at most the batch's last line; a write the OS
    cannot finish (disk full, file size limit) leaves the file as it was before the batch. The
    caller keeps the size, since the file is only ever written here (asking the OS would be one
    more call that gives up the GIL, and each one must win it back from busy producers).
    """
    view = memoryview(data)
    try:
        while view:
            written = handle.write(view)
            if not written:
                raise OSError(f"no progress writing {handle.name}")
            view = view[written:]
    except OSError:
        handle.truncate(start)
        handle.seek(start)
        raise


class EventBus:
    """A process's event bus. Thread-safe; start it, open runs on it, emit, flush, stop.

    ``db_path=None`` writes only the JSONL files (useful when no project database is wanted).
    """

    def __init__(
        self,
        db_path: StrPath | None,
        *,
        batch_size: int = 1000,
        max_pending: int = 50_000,
        name: str = "event-bus",
    ) -> None:
        db_path = Path(db_path) if db_path is not None else None
        self._state = _BusState()
        self._max_pending = max_pending
        self._handle: ActorHandle[_BusActor] = spawn(
            _BusActor, db_path=db_path, batch_size=batch_size, state=self._state, name=name
        )
        self._lock = threading.Lock()
        self._clock = _Clock()
        # Event ids: a random 22-hex prefix per bus and a counter; unique without a uuid4 per event.
        # Formatted by C code as they are taken, so taking one is a single next() from any thread.
        self._event_ids = map(f"{uuid.uuid4().hex[:22]}%010x".__mod__, itertools.count())

    # --- runs --------------------------------------------------------------------------------

    def open_run(self, run_id: str, events_path: StrPath, *, timeout: float = 10.0) -> None:
        """Create the run's ``events.jsonl`` (it must not exist) and accept its events."""
        self._handle.ask(OpenRun(run_id=run_id, events_path=os.fspath(events_path)), timeout=timeout)

    def continue_run(self, run_id: str, events_path: StrPath, *, timeout: float = 10.0) -> None:
        """Accept more events of a run whose ``events.jsonl`` exists (a resumed run, a judging pass).

        New events are appended after the last complete line with the next ``seq``; a line torn
        by a crash is cut off first, so the file stays valid JSON Lines.
        """
        self._handle.ask(
            OpenRun(run_id=run_id, events_path=os.fspath(events_path), resume=True), timeout=timeout
        )

    def close_run(self, run_id: str, *, timeout: float = 30.0) -> None:
        """Write the run's pending events, sync and close its file; later events are dropped."""
        self._handle.ask(CloseRun(run_id=run_id), timeout=timeout)

    # --- events ------------------------------------------------------------------------------

    def emit(
        self,
        event: str | EventPayload,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str,
        correlation: Mapping[str, str | None] | None = None,
    ) -> None:
        """Queue one event: a payload model (``emit(WorkerProgress(...), actor=...)``), or an
        event type and its payload as a mapping (``emit("worker.task.progress", {...}, actor=...)``).

        Correlation comes from the bound scope, overridden by ``correlation``; payload fields
        that repeat a correlation id are filled from it. Raises :class:`EventSchemaError` for a
        payload that does not match its type's model (or is given twice: a model and a mapping)
        and :class:`EventError` for a run that was never opened on this bus.
        """
        ids: Mapping[str, Any] = current_correlation()
        if correlation:
            ids = {**ids, **{k: v for k, v in correlation.items() if k in CORRELATION_KEYS and v is not None}}
        if not ids.keys() <= _CORRELATION_KEYS:
            ids = {key: value for key, value in ids.items() if key in _CORRELATION_KEYS}
        run_id = ids.get("run_id")
        state = self._state
        if run_id not in state.open_runs:
            if run_id in state.closed_runs:
                return
            raise EventError(
                f"{_type_name(event)} from {actor} names run {run_id!r}, which is not open on this event bus"
            )
        if isinstance(event, str):
            event_type, data = event, check_payload(event, payload or {}, ids)
        elif isinstance(event, EventPayload):
            if payload is not None:
                raise EventSchemaError(
                    f"{type(event).__name__} is the payload of this event; emit it without a mapping"
                )
            event_type, data = payload_of(event, ids)
        else:
            raise EventSchemaError(
                f"emit() takes an event type name or an EventPayload model, not {type(event).__name__}"
            )
        timestamp = self._clock.now()
        # Filled into a copy of the template, which holds every field in its written order.
        record = _RECORD.copy()
        record.update(ids)
        record["event_id"] = next(self._event_ids)
        record["timestamp"] = timestamp
        record["event_type"] = event_type
        record["actor"] = actor
        record["payload"] = data
        try:
            body = dumps(record)
        except TypeError as exc:
            raise EventSchemaError(f"{event_type} payload cannot be written as JSON: {exc}") from exc
        state.queue.put((run_id, event_type, timestamp, body[1:]))
        if not state.wake_pending:
            state.wake_pending = True
            self._handle.tell(DrainEvents())
        if state.queue.qsize() >= self._max_pending:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        """Backpressure: pause this emitter until the bus has written a batch (at most 1 s).

        Emitters that outrun the writer would otherwise grow the queue without bound and, being
        busy threads, keep the writer from getting the GIL back after each write.
        """
        state = self._state
        if threading.get_ident() == state.bus_thread:
            return
        state.room.clear()
        if state.queue.qsize() >= self._max_pending:
            state.room.wait(1.0)

    def flush(self, *, timeout: float = 30.0) -> None:
        """Wait until every event queued so far is written; raise if a write failed since last time."""
        self._handle.ask(FlushEvents(), timeout=timeout)

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` once per written event (in the bus thread); returns an unsubscribe.

        Subscribers must be quick (hand the event to a queue); one that raises is logged and kept.
        """
        with self._lock:
            self._state.subscribers = [*self._state.subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._state.subscribers = [s for s in self._state.subscribers if s is not subscriber]

        return unsubscribe

    def subscribe_lines(self, subscriber: LineSubscriber) -> Callable[[], None]:
        """Like :meth:`subscribe`, but with each event's type and stored line, never parsed here.

        For subscribers that keep few events or pass them on (an exporter): the bus thread pays
        nothing to parse what they would drop, and they parse what they keep on their own thread.
        """
        with self._lock:
            self._state.line_subscribers = [*self._state.line_subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._state.line_subscribers = [
                    s for s in self._state.line_subscribers if s is not subscriber
                ]

        return unsubscribe

    # --- lifecycle ---------------------------------------------------------------------------

    def stop(self, *, timeout: float = 30.0) -> None:
        """Write what is pending, close every run's file and the database, stop the actor."""
        self._handle.stop(timeout=timeout)

    def __enter__(self) -> EventBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
