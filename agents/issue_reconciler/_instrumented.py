"""A tracker wrapper that reports every call to the outside world as a tool call.

Each call that reaches the tracker (list, find, list comments, create, comment) is bracketed by
``worker.tool.call`` and ``worker.tool.result`` events, inside a ``tool_trace_id`` correlation
scope, so the trace viewer shows the tracker traffic of a run step by step. The argument summary
names the operation and its shape (title, labels, body size, issue number); bodies and secrets
are never in it. Describing a request (dry run) sends nothing and is not a tool call; neither is
taking the tracker's write lock.

The wrapper offers the optional capabilities of :mod:`orchestrator.trackers` whatever the wrapped
tracker has: without them, :meth:`write_lock` is a no-op and :meth:`find_open_issue` finds nothing
without asking the tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from pydantic import JsonValue

from orchestrator.actors import tool_call
from orchestrator.trackers import IssueDraft, SearchingTracker, Tracker, TrackerIssue, write_lock

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
        with tool_call(self._emit, f"tracker.{self.name}.{operation}", summary=summary):
            return call()

    def list_open_issues(self) -> list[TrackerIssue]:
        label = getattr(self.tracker, "label", None)
        summary = f"open issues labelled {label}" if label else "open issues"
        return self._call("list_open_issues", summary, self.tracker.list_open_issues)

    def find_open_issue(self, fingerprint: str) -> TrackerIssue | None:
        tracker = self.tracker
        if not isinstance(tracker, SearchingTracker):
            return None
        return self._call(
            "find_open_issue", f"fingerprint {fingerprint}", lambda: tracker.find_open_issue(fingerprint)
        )

    def write_lock(self) -> AbstractContextManager[object]:
        return write_lock(self.tracker)

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
