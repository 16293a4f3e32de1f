"""OTLP/HTTP export of runs: a live subscriber of the event bus, and the replay of a finished run.

:class:`OtlpEventExporter` is an event bus subscriber. The bus thread only appends each event to
a queue (no mapping, no network per event); one background thread maps the queued events to
spans (:class:`~orchestrator.telemetry._mapping.RunSpans`) and sends the finished spans in
batches through the SDK's :class:`OTLPSpanExporter`, so spans go out as they end, not at the end
of a run. A run is never slowed or failed by its collector: past ``max_queue`` spans, or when
the collector does not take a batch, spans are dropped and counted, and :meth:`close` logs one
warning line with the count.

:func:`export_run_events` replays a finished run's events through the same mapping and exporter.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from orchestrator.config import TelemetrySection
from orchestrator.errors import EventError
from orchestrator.events import TERMINAL_EVENT_TYPES, Event
from orchestrator.telemetry._mapping import SPAN_EVENT_TYPES, RunSpans, run_resource, spans_of_events

__all__ = [
    "ENDPOINT_VARIABLE",
    "TRACES_ENDPOINT_VARIABLE",
    "ExportStats",
    "OtlpEventExporter",
    "export_run_events",
    "resolve_endpoint",
    "warn_dropped",
]

log = structlog.get_logger(__name__)

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""The standard base URL of an OTLP collector; traces go to ``<base>/v1/traces``."""
TRACES_ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
"""The standard URL for traces alone, used as it is."""

_TRACES_PATH = "v1/traces"
_BATCH_SIZE = 512
_SCHEDULE_S = 1.0
_BACKLOG_PER_SPAN = 4  # events queued per span of room before events are dropped
_JOIN_GRACE_S = 5.0


def _traces_url(base: str) -> str:
    base = base.strip()
    if base.rstrip("/").endswith("/" + _TRACES_PATH):
        return base
    return base.rstrip("/") + "/" + _TRACES_PATH


def resolve_endpoint(
    telemetry: TelemetrySection, env: Mapping[str, str], *, given: str | None = None
) -> str | None:
    """Where traces go: ``given``, ``[telemetry] otlp_endpoint``, else the standard environment variables.

    ``given``, ``otlp_endpoint`` and ``OTEL_EXPORTER_OTLP_ENDPOINT`` are base URLs (``/v1/traces``
    is appended unless there, as the OTLP exporter specification says for the base URL);
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as it is. ``None`` when none is set.
    """
    if given:
        return _traces_url(given)
    if telemetry.otlp_endpoint:
        return _traces_url(telemetry.otlp_endpoint)
    traces = env.get(TRACES_ENDPOINT_VARIABLE, "").strip()
    if traces:
        return traces
    base = env.get(ENDPOINT_VARIABLE, "").strip()
    return _traces_url(base) if base else None


class _OwnThreadsOnly(logging.Filter):
    """Keeps the OTLP exporter's retry and failure lines out of the log for our export threads:
    what they lose is counted and reported once, in our own words."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.threads


_QUIET = _OwnThreadsOnly()
logging.getLogger(OTLPSpanExporter.__module__).addFilter(_QUIET)


@dataclass(frozen=True)
class ExportStats:
    """What an exporter did: spans the collector took, spans and events dropped, the last error."""

    sent: int
    dropped_spans: int
    dropped_events: int
    error: str | None


def warn_dropped(endpoint: str, stats: ExportStats) -> None:
    """The one warning line an export that lost spans or events ends with."""
    log.warning(
        f"OpenTelemetry export to {endpoint} dropped {stats.dropped_spans} span(s)"
        + (f" and {stats.dropped_events} event(s)" if stats.dropped_events else "")
        + (f": {stats.error}" if stats.error else ""),
        dropped_spans=stats.dropped_spans,
        dropped_events=stats.dropped_events,
        sent=stats.sent,
    )


class OtlpEventExporter:
    """A live event bus subscriber that exports runs as OTLP traces (see the module docstring).

    Subscribe it (``bus.subscribe(exporter)``), name a run's job kind with :meth:`describe_run`,
    and :meth:`close` it after the bus has stopped. ``timeout_s`` bounds one export request and
    the final flush; ``max_queue`` is how many spans wait for the collector before dropping.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        service_name: str = "orchestrate",
        timeout_s: float = 10.0,
        max_queue: int = 20_000,
        batch_size: int = _BATCH_SIZE,
        schedule_s: float = _SCHEDULE_S,
    ) -> None:
        self.endpoint = endpoint
        self._timeout_s = timeout_s
        self._max_queue = max_queue
        self._max_backlog = max_queue * _BACKLOG_PER_SPAN
        self._batch_size = batch_size
        self._schedule_s = schedule_s
        self._resource = run_resource(service_name)
        self._exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout_s)
        # Appended to by the bus thread, taken from by the export thread: deque operations are atomic.
        self._backlog: deque[Event | bytes | threading.Event] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._kinds: dict[str, str] = {}
        self._runs: dict[str, RunSpans] = {}
        self._ready: list[ReadableSpan] = []
        self._sent = 0
        self._dropped_spans = 0
        self._dropped_events = 0  # written by the bus thread only
        self._failing = False
        self._error: str | None = None
        self._thread = threading.Thread(target=self._work, name="otlp-export", daemon=True)
        self._thread.start()

    # --- the bus side: one append per event ------------------------------------------------

    def __call__(self, event: Event) -> None:
        backlog = self._backlog
        if len(backlog) >= self._max_backlog:
            self._dropped_events += 1
            return
        backlog.append(event)
        if event.event_type in TERMINAL_EVENT_TYPES or len(backlog) == self._batch_size:
            self._wake.set()

    def on_line(self, event_type: str, line: bytes) -> None:
        """The bus's line subscriber: keep the lines of events that make or end spans, unparsed.

        Progress, findings and the like make no span; they are dropped here for the price of a
        lookup, and what is kept is parsed on the export thread, not the bus's.
        """
        if event_type not in SPAN_EVENT_TYPES and not event_type.startswith("trajectory."):
            return
        backlog = self._backlog
        if len(backlog) >= self._max_backlog:
            self._dropped_events += 1
            return
        backlog.append(line)
        if event_type in TERMINAL_EVENT_TYPES or len(backlog) == self._batch_size:
            self._wake.set()

    def describe_run(self, run_id: str, *, kind: str) -> None:
        """Record ``run_id``'s job kind (``ui``, ``scenario``, ``pack``) on its run spans."""
        self._kinds[run_id] = kind

    # --- the caller side -------------------------------------------------------------------

    @property
    def stats(self) -> ExportStats:
        return ExportStats(self._sent, self._dropped_spans, self._dropped_events, self._error)

    def flush(self, timeout: float | None = None) -> bool:
        """Export every span the events queued so far have ended; ``False`` if ``timeout`` passed first."""
        if self._closed:
            return True
        marker = threading.Event()
        self._backlog.append(marker)
        self._wake.set()
        return marker.wait(self._timeout_s if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> ExportStats:
        """End every run's open spans, export what is left (within ``timeout``), stop the thread.

        When the collector was failing, what is left is dropped rather than waited for. Logs one
        warning with the count when anything was dropped. Safe to call twice.
        """
        if self._closed:
            return self.stats
        self._closed = True
        stopped_early = self._failing
        if stopped_early:
            # The collector is down: stop the exporter's retries now; what is left is dropped.
            self._exporter.shutdown()  # type: ignore[no-untyped-call]
        self._closing.set()
        self._wake.set()
        self._thread.join(self._timeout_s if timeout is None else timeout)
        if not stopped_early:
            # Past the deadline this aborts the retries; an export in flight ends within its timeout.
            self._exporter.shutdown()  # type: ignore[no-untyped-call]
        self._thread.join(self._timeout_s + _JOIN_GRACE_S)
        stats = self.stats
        if stats.dropped_spans or stats.dropped_events:
            warn_dropped(self.endpoint, stats)
        return stats

    # --- the export thread -----------------------------------------------------------------

    def _work(self) -> None:
        _QUIET.threads.add(threading.get_ident())
        try:
            while True:
                self._wake.wait(self._schedule_s)
                self._wake.clear()
                closing = self._closing.is_set()
                self._map_backlog()
                if closing:
                    for mapper in self._runs.values():
                        self._keep(mapper.finish())
                    self._runs.clear()
                    self._export_ready(give_up=self._failing)
                    return
                self._export_ready(give_up=False)
        except Exception:
            log.exception("OpenTelemetry export stopped")
        finally:
            _QUIET.threads.discard(threading.get_ident())

    def _map_backlog(self) -> None:
        backlog = self._backlog
        while backlog:
            item = backlog.popleft()
            if isinstance(item, threading.Event):
                self._export_ready(give_up=False)
                item.set()
                continue
            if isinstance(item, bytes):
                item = Event.model_validate_json(item)
            mapper = self._runs.get(item.run_id)
            if mapper is None:
                kind = self._kinds.get(item.run_id)
                mapper = self._runs[item.run_id] = RunSpans(item.run_id, resource=self._resource, kind=kind)
            self._keep(mapper.feed(item))
            if len(self._ready) >= self._batch_size and not self._failing:
                self._export_ready(give_up=False)

    def _keep(self, spans: list[ReadableSpan]) -> None:
        room = self._max_queue - len(self._ready)
        if len(spans) > room:
            self._dropped_spans += len(spans) - max(room, 0)
            spans = spans[: max(room, 0)]
        self._ready.extend(spans)

    def _export_ready(self, *, give_up: bool) -> None:
        while self._ready:
            batch, self._ready = self._ready[: self._batch_size], self._ready[self._batch_size :]
            if give_up:
                self._dropped_spans += len(batch)
                continue
            try:
                result = self._exporter.export(batch)
            except Exception as exc:  # the exporter reports failures as results; anything else is one too
                result, self._error = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
            if result is SpanExportResult.SUCCESS:
                self._sent += len(batch)
                self._failing = False
            else:
                self._dropped_spans += len(batch)
                self._failing = True
                self._error = self._error or "the collector did not accept the spans"
                # While the collector is down, spans wait for the next round (or are dropped past
                # max_queue) instead of each batch waiting out the exporter's retries.
                return


def export_run_events(
    events: Iterable[Event],
    endpoint: str,
    *,
    kind: str | None = None,
    service_name: str = "orchestrate",
    timeout_s: float = 10.0,
) -> int:
    """Replay a run's events to ``endpoint`` as its trace; the number of spans the collector took.

    The spans and their ids are the ones a live export of the run gave. Raises
    :class:`~orchestrator.errors.EventError` when the collector does not take them.
    """
    resource: Resource = run_resource(service_name)
    materialized = list(events)
    kinds = {event.run_id: kind for event in materialized} if kind else None
    spans = spans_of_events(materialized, resource=resource, kinds=kinds)
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout_s)
    _QUIET.threads.add(threading.get_ident())
    try:
        sent = 0
        for start in range(0, len(spans), _BATCH_SIZE):
            batch = spans[start : start + _BATCH_SIZE]
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                raise EventError(
                    f"the OTLP collector at {endpoint} did not accept the spans "
                    f"({sent} of {len(spans)} sent); check that it runs and listens for OTLP/HTTP there"
                )
            sent += len(batch)
        return sent
    finally:
        _QUIET.threads.discard(threading.get_ident())
        exporter.shutdown()  # type: ignore[no-untyped-call]
