"""An OTLP/HTTP receiver on loopback: the system under test's own spans, kept by trace.

A scenario run with ``[telemetry] intake = true`` gives each slot's system under test this
receiver's URL as ``OTEL_EXPORTER_OTLP_ENDPOINT``; whatever the system exports under a
trajectory's trace (see :mod:`._intake_map`) becomes events of that trajectory.

- ``POST /v1/traces`` takes an ``ExportTraceServiceRequest`` as protobuf (``application/
  x-protobuf``, gzip or not), the OTLP/HTTP default every OpenTelemetry SDK sends. Other content
  types are answered 415, bodies that do not decode 400, bodies over :data:`MAX_BODY_BYTES` 413;
  a good one is stored before it is answered, so a span exported synchronously
  (``SimpleSpanProcessor``) is here by the time the system under test answers the request that
  made it.
- Memory is bounded: at most ``max_traces`` traces (the oldest is dropped first) and
  ``max_spans_per_trace`` spans in each; what is dropped is counted (:attr:`OtlpIntake.dropped`).
- :meth:`OtlpIntake.spans_for` waits on a condition with a deadline, never a sleep, for spans
  still on their way: it returns as soon as the trace is *closed* (every span's parent is either
  in the trace or one of the ``parents`` the caller put in its ``traceparent`` headers), since
  a parent span ends, and is exported, after its children.
"""

from __future__ import annotations

import gzip
import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # protobuf ships no stubs
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from orchestrator.asgi_server import AsgiServer

__all__ = ["MAX_BODY_BYTES", "TRACES_PATH", "IntakeSpan", "OtlpIntake", "SpanStatus", "decode_spans"]

TRACES_PATH = "/v1/traces"
MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest export accepted (after decompression)."""
_PROTOBUF = "application/x-protobuf"
_KINDS = {
    Span.SPAN_KIND_INTERNAL: "internal",
    Span.SPAN_KIND_SERVER: "server",
    Span.SPAN_KIND_CLIENT: "client",
    Span.SPAN_KIND_PRODUCER: "producer",
    Span.SPAN_KIND_CONSUMER: "consumer",
}

SpanStatus = Literal["unset", "ok", "error"]
_STATUSES: dict[int, SpanStatus] = {
    Status.STATUS_CODE_UNSET: "unset",
    Status.STATUS_CODE_OK: "ok",
    Status.STATUS_CODE_ERROR: "error",
}

AttributeValue = str | bool | int | float | list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class IntakeSpan:
    """One received span, decoded: ids as lowercase hex, times in Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: SpanStatus = "unset"
    status_message: str = ""
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    service: str | None = None
    """The exporting resource's ``service.name``."""
    events: tuple[str, ...] = ()
    """The names of the span's events (``exception`` among them when one was recorded)."""

    @property
    def duration_ms(self) -> float:
        return round(max(0, self.end_ns - self.start_ns) / 1e6, 3)


def _value(value: AnyValue) -> AttributeValue:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    if which is None:
        return None
    result: AttributeValue = getattr(value, which)
    return result


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, AttributeValue]:
    return {pair.key: _value(pair.value) for pair in pairs}


def decode_spans(body: bytes) -> list[IntakeSpan]:
    """The spans of a protobuf ``ExportTraceServiceRequest``; :class:`DecodeError` when it is not one."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[IntakeSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    raise DecodeError(f"span {span.name!r} has a trace or span id of the wrong size")
                spans.append(
                    IntakeSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=_KINDS.get(span.kind, "unspecified"),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=_STATUSES.get(span.status.code, "unset"),
                        status_message=span.status.message,
                        attributes=_attributes(span.attributes),
                        service=service if isinstance(service, str) else None,
                        events=tuple(event.name for event in span.events),
                    )
                )
    return spans


class OtlpIntake:
    """The receiver (see the module docstring): :meth:`start` gives its base URL, :meth:`stop` ends it."""

    def __init__(
        self, *, name: str = "otlp-intake", max_traces: int = 1_000, max_spans_per_trace: int = 2_000
    ) -> None:
        self.name = name
        self.max_traces = max_traces
        self.max_spans_per_trace = max_spans_per_trace
        self.received = 0
        """Spans received since start (kept or not)."""
        self.dropped = 0
        """Spans dropped to keep memory bounded."""
        self._traces: OrderedDict[str, list[IntakeSpan]] = OrderedDict()
        self._changed = threading.Condition()
        self._server = AsgiServer(
            Starlette(routes=[Route(TRACES_PATH, self._export, methods=["POST"])]), name=name, lifespan="off"
        )
        self.url: str | None = None
        """``http://127.0.0.1:<port>`` once started: the value of ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

    @property
    def traces_url(self) -> str | None:
        """Where spans are posted (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return self.url + TRACES_PATH if self.url is not None else None

    def start(self, timeout: float = 10.0) -> str:
        self.url = self._server.start(timeout)
        return self.url

    def stop(self) -> None:
        """Stop serving and forget every span (idempotent)."""
        self.url = None
        try:
            self._server.stop()
        finally:
            with self._changed:
                self._traces.clear()
                self._changed.notify_all()

    def __enter__(self) -> OtlpIntake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """What a system under test needs to export here, in the standard OpenTelemetry variables."""
        if self.url is None or self.traces_url is None:
            return {}
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.url,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.traces_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        }

    def add(self, spans: Iterable[IntakeSpan]) -> None:
        """Keep ``spans`` (what a ``POST /v1/traces`` does once decoded) and wake the waiters."""
        with self._changed:
            for span in spans:
                self.received += 1
                kept = self._traces.get(span.trace_id)
                if kept is None:
                    kept = self._traces[span.trace_id] = []
                    while len(self._traces) > self.max_traces:
                        _, evicted = self._traces.popitem(last=False)
                        self.dropped += len(evicted)
                if len(kept) >= self.max_spans_per_trace:
                    self.dropped += 1
                    continue
                kept.append(span)
            self._changed.notify_all()

    def spans_for(
        self, trace_id: str, *, wait_s: float = 0.0, parents: Collection[str] = ()
    ) -> list[IntakeSpan]:
        """The spans of ``trace_id`` received so far, waiting up to ``wait_s`` for the trace to close.

        A trace is closed when it has spans and every span's parent is in it or among
        ``parents`` (the span ids the caller sent in its ``traceparent`` headers). No wait at
        all when nothing has ever been received: the system under test does not export.
        """
        trace_id = trace_id.lower()
        known = set(parents)
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self.received == 0 or self.url is None or _closed(self._traces.get(trace_id, []), known)
                ),
                timeout=max(0.0, wait_s),
            )
            return list(self._traces.get(trace_id, []))

    def discard(self, trace_id: str) -> None:
        """Forget a trace whose spans were taken (late ones for it start a new entry)."""
        with self._changed:
            self._traces.pop(trace_id.lower(), None)

    async def _export(self, request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != _PROTOBUF:
            return PlainTextResponse(f"send OTLP protobuf ({_PROTOBUF})", status_code=415)
        body = await _read_capped(request)
        if body is None:
            return PlainTextResponse("the export is too large", status_code=413)
        encoding = request.headers.get("content-encoding", "").strip().lower()
        try:
            if encoding == "gzip":
                body = _gunzip(body)
            elif encoding not in ("", "identity"):
                return PlainTextResponse(f"content-encoding {encoding} is not supported", status_code=415)
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("the export is too large", status_code=413)
            spans = decode_spans(body)
        except _TooLargeError:
            return PlainTextResponse("the export is too large", status_code=413)
        except (DecodeError, OSError, EOFError, zlib.error) as exc:
            return PlainTextResponse(f"not an OTLP ExportTraceServiceRequest: {exc}", status_code=400)
        self.add(spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=_PROTOBUF)


class _TooLargeError(Exception):
    pass


async def _read_capped(request: Request) -> bytes | None:
    """The request's body, or ``None`` as soon as it is known to pass :data:`MAX_BODY_BYTES`.

    A declared ``Content-Length`` over the cap is refused before anything is read; otherwise the
    body is read chunk by chunk and given up the moment it passes the cap, so a huge POST never
    sits whole in memory.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes) -> bytes:
    """``body`` decompressed, refusing more than :data:`MAX_BODY_BYTES` (a small bomb stays small)."""
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
        data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise _TooLargeError
    return data


def _closed(spans: list[IntakeSpan], parents: set[str]) -> bool:
    if not spans:
        return False
    ids = {span.span_id for span in spans}
    return all(
        span.parent_span_id is None or span.parent_span_id in ids or span.parent_span_id in parents
        for span in spans
    )
