"""The trace viewer: an HTTP API over the event index, a live stream, and a page that draws runs.

``orchestrate serve`` serves :func:`create_app` on 127.0.0.1; ``orchestrate export RUN --html``
writes one run's detail as a self-contained file (:func:`export_html`). The views are built by
the pure functions of :mod:`._model` from a run's events (delegations matched by ``call_id``,
worker lifecycles by ``task_id``, model and tool calls by their trace ids), so the API, the
exported file and the tests share them. DESIGN section 7.
"""

from __future__ import annotations

from orchestrator.viewer._app import STATIC_DIR, ViewerState, create_app, run_detail, stop_streams
from orchestrator.viewer._export import export_html, inline_page
from orchestrator.viewer._index import IndexReader
from orchestrator.viewer._job_panel import job_panel
from orchestrator.viewer._model import (
    DEFAULT_BUCKET,
    RUN_KINDS,
    RUN_STATUSES,
    SLOW_MS,
    SPARKLINE_BUCKETS,
    RunFacts,
    build_graph,
    build_grid,
    delegations,
    detail_document,
    facts_from_events,
    lifecycles,
    llm_calls,
    run_kind,
    run_status,
    run_summary,
    sparkline,
    tool_calls,
    worst,
)
from orchestrator.viewer._stream import StreamSettings, sse_frame
from orchestrator.viewer._trajectory_view import trajectory_events

__all__ = [
    "DEFAULT_BUCKET",
    "RUN_KINDS",
    "RUN_STATUSES",
    "SLOW_MS",
    "SPARKLINE_BUCKETS",
    "STATIC_DIR",
    "IndexReader",
    "RunFacts",
    "StreamSettings",
    "ViewerState",
    "build_graph",
    "build_grid",
    "create_app",
    "delegations",
    "detail_document",
    "export_html",
    "facts_from_events",
    "inline_page",
    "job_panel",
    "lifecycles",
    "llm_calls",
    "run_detail",
    "run_kind",
    "run_status",
    "run_summary",
    "sparkline",
    "sse_frame",
    "stop_streams",
    "tool_calls",
    "trajectory_events",
    "worst",
]
