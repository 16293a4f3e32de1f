"""A real OTLP/HTTP trace receiver for tests: decodes ``ExportTraceServiceRequest`` and keeps the spans.

It serves ``POST /v1/traces`` (protobuf, gzip or not) on a loopback port the OS picks, as a
collector would, so the exporter under test goes through its real HTTP and protobuf path.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.loopback import serve_app

_PROTOBUF = "application/x-protobuf"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector got it: ids in hex, attributes and events decoded."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    service_name: str

    def identity(self) -> tuple[str, str, str, str]:
        return (self.trace_id, self.span_id, self.parent_span_id, self.name)


@dataclass
class OtlpReceiver:
    """The spans received so far (thread-safe), and how to wait for more."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, request: ExportTraceServiceRequest) -> None:
        received: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[
                                (e.name, {a.key: _value(a.value) for a in e.attributes}) for e in span.events
                            ],
                            status_code=span.status.code,
                            service_name=str(resource.get("service.name")),
                        )
                    )
        with self._changed:
            self.spans.extend(received)
            self.requests += 1
            self._changed.notify_all()

    def wait_for(
        self, condition: Callable[[list[ReceivedSpan]], bool], timeout: float = 20.0
    ) -> list[ReceivedSpan]:
        """The spans once ``condition`` holds for them; AssertionError when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.spans):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for spans; have {[s.name for s in self.spans]}")
                self._changed.wait(remaining)
            return list(self.spans)

    def named(self, name: str) -> list[ReceivedSpan]:
        with self._changed:
            return [span for span in self.spans if span.name == name]


def receiver_app(receiver: OtlpReceiver) -> Starlette:
    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if not request.headers.get("content-type", "").startswith(_PROTOBUF):
            return Response("protobuf only", status_code=415)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        receiver.add(message)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=_PROTOBUF)

    return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


@contextlib.contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Serve a receiver on loopback; ``receiver.url`` is its base URL (the exporter adds /v1/traces)."""
    receiver = OtlpReceiver()
    with serve_app(receiver_app(receiver)) as origin:
        receiver.url = origin
        yield receiver
