"""OpenTelemetry for runs: export each run as an OTLP trace, and take in the SUT's own spans.

Export: :func:`resolve_endpoint` finds the collector (``[telemetry] otlp_endpoint`` or the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT``); :class:`OtlpEventExporter` maps events to spans and
sends them as they end, never blocking the run, and :class:`OtlpExportProcess` (what a job
subscribes) runs it in a child process fed through a pipe, so the job's own threads keep the
interpreter to themselves; :func:`export_run_events` replays a
finished run's ``events.jsonl``. :class:`RunSpans` and :func:`spans_of_events` map events to
spans following the GenAI semantic conventions (see :mod:`orchestrator.telemetry._mapping`).

Intake: :class:`OtlpIntake` receives the system under test's OTLP/HTTP spans during a scenario
run, and :func:`place_spans` / :func:`span_events` turn them into events of its trajectories.
"""

from __future__ import annotations

from orchestrator.telemetry._export import (
    ENDPOINT_VARIABLE,
    TRACES_ENDPOINT_VARIABLE,
    ExportStats,
    OtlpEventExporter,
    export_run_events,
    resolve_endpoint,
)
from orchestrator.telemetry._export_process import OtlpExportProcess
from orchestrator.telemetry._intake import (
    MAX_BODY_BYTES,
    TRACES_PATH,
    IntakeSpan,
    OtlpIntake,
    SpanStatus,
    decode_spans,
)
from orchestrator.telemetry._intake_map import (
    MAX_ATTRIBUTES,
    TRACEPARENT_HEADER,
    TrajectoryTrace,
    place_spans,
    span_events,
)
from orchestrator.telemetry._mapping import RunSpans, run_resource, run_trace_id, spans_of_events

__all__ = [
    "ENDPOINT_VARIABLE",
    "MAX_ATTRIBUTES",
    "MAX_BODY_BYTES",
    "TRACEPARENT_HEADER",
    "TRACES_ENDPOINT_VARIABLE",
    "TRACES_PATH",
    "ExportStats",
    "IntakeSpan",
    "OtlpEventExporter",
    "OtlpExportProcess",
    "OtlpIntake",
    "RunSpans",
    "SpanStatus",
    "TrajectoryTrace",
    "decode_spans",
    "export_run_events",
    "place_spans",
    "resolve_endpoint",
    "run_resource",
    "run_trace_id",
    "span_events",
    "spans_of_events",
]
