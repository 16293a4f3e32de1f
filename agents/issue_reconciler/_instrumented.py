"""A tracker wrapper that reports every call to the outside world as a tool call.

Each call that reaches the tracker (list, list comments, create, comment) is bracketed by
``worker.tool.call`` and ``worker.tool.result`` events, inside a ``tool_trace_id`` correlation
scope, so the trace viewer shows the tracker traffic of a run step by step. The argument summary
names the operation and its shape (title, labels, body size, issue number); bodies and secrets
are never in it. Describing a request (dry run) sends nothing and is not a tool call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import JsonValue

from orchestrator.agents.issue_reconciler._body import IssueDraft
from orchestrator.agents.issue_reconciler._tracker import Tracker, TrackerIssue
from orchestrator.correlation import correlation_scope

__all__ = ["InstrumentedTracker"]

T = TypeVar("T")
Emit = Callable[..., None]


class InstrumentedTracker:
    """Wraps ``tracker``; ``emit(event_type, **payload)`` is the worker's event emitter."""

    def __init__(self, tracker: Tracker, emit: Emit) -> None:
        self.tracker = tracker
        self.name = tracker.name
        self._emit = emit

    def _call(self, operation: str, summary: str, call: Callable[[], T]) -> T:
        tool_trace_id = uuid.uuid4().hex[:16]
        tool_name = f"tracker.{self.name}.{operation}"
        with correlation_scope(tool_trace_id=tool_trace_id):
            self._emit(
                "worker.tool.call", tool_trace_id=tool_trace_id, tool_name=tool_name, args_summary=summary
            )
            started = time.perf_counter()
            result: dict[str, Any] = {"tool_trace_id": tool_trace_id, "tool_name": tool_name}
            try:
                value = call()
            except Exception as exc:
                duration_ms = (time.perf_counter() - started) * 1000
                self._emit(
                    "worker.tool.result", **result, success=False, duration_ms=duration_ms,
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
                raise
            duration_ms = (time.perf_counter() - started) * 1000
            self._emit("worker.tool.result", **result, success=True, duration_ms=duration_ms)
            return value

    def list_open_issues(self) -> list[TrackerIssue]:
        label = getattr(self.tracker, "label", None)
        summary = f"open issues labelled {label}" if label else "open issues"
        return self._call("list_open_issues", summary, self.tracker.list_open_issues)

    def list_comments(self, number: int) -> list[str]:
        return self._call("list_comments", f"issue #{number}", lambda: self.tracker.list_comments(number))

    def create_issue(self, draft: IssueDraft) -> int:
        summary = (
            f"title={draft.title!r} labels={','.join(draft.labels)} "
            f"body_bytes={len(draft.body.encode('utf-8'))}"
        )
        return self._call("create_issue", summary, lambda: self.tracker.create_issue(draft))

    def add_comment(self, number: int, body: str) -> None:
        summary = f"issue #{number} body_bytes={len(body.encode('utf-8'))}"
        self._call("add_comment", summary, lambda: self.tracker.add_comment(number, body))

    def describe_create(self, draft: IssueDraft) -> dict[str, JsonValue]:
        return self.tracker.describe_create(draft)

    def describe_comment(self, number: int, body: str) -> dict[str, JsonValue]:
        return self.tracker.describe_comment(number, body)

    def close(self) -> None:
        self.tracker.close()
