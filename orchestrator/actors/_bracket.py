"""One bracket for tool calls and model calls: measured, correlated, recorded the same everywhere.

``with tool_call(emit, "playwright.goto", summary=url) as call:`` emits ``worker.tool.call`` on
entry and ``worker.tool.result`` on exit, inside a fresh ``tool_trace_id`` correlation, with the
duration measured on one clock (``time.perf_counter``, milliseconds to three decimals) and
success or the error: an exception marks it failed (and goes on up); ``call.fail(reason)`` marks a
call that returned but did not succeed (a program's non-zero exit). ``call.details`` adds fields
to the result event. :func:`model_call` is the same bracket for ``llm.call.started|completed|failed``
with a ``trace_id``; the caller sets ``call.usage`` from the model's answer.

``emit`` is any ``emit(event_type, **payload)`` callable (a worker's :meth:`emit`), or ``None`` to
measure without recording, so a function a worker calls can take the worker's emitter as-is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from orchestrator.correlation import correlation_scope

__all__ = ["Emit", "ModelCallRecord", "ToolCallRecord", "model_call", "new_trace_id", "tool_call"]

Emit = Callable[..., None]
"""``emit(event_type, **payload)``: how a bracket records its events."""


def new_trace_id() -> str:
    """The one id format of calls, tasks, ``tool_trace_id`` and ``trace_id``: 16 random hex digits.

    ``os.urandom`` rather than uuid4: ids are made several times per request, and it is cheaper.
    """
    return os.urandom(8).hex()


def _error_text(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@dataclass
class ToolCallRecord:
    """What a block inside :func:`tool_call` can say about its call."""

    tool_trace_id: str
    tool_name: str
    success: bool = True
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def fail(self, error: str) -> None:
        """Mark the call unsuccessful without raising (the result event says why)."""
        self.success, self.error = False, error


@contextmanager
def tool_call(emit: Emit | None, tool_name: str, *, summary: str = "") -> Iterator[ToolCallRecord]:
    """Bracket one tool call with ``worker.tool.call`` and ``worker.tool.result`` (see module doc)."""
    call = ToolCallRecord(tool_trace_id=new_trace_id(), tool_name=tool_name)
    with correlation_scope(tool_trace_id=call.tool_trace_id):
        if emit is not None:
            emit(
                "worker.tool.call",
                tool_trace_id=call.tool_trace_id,
                tool_name=tool_name,
                args_summary=summary,
            )
        started = time.perf_counter()
        try:
            yield call
        except BaseException as exc:
            call.fail(_error_text(exc))
            raise
        finally:
            if emit is not None:
                fixed = {
                    "tool_trace_id": call.tool_trace_id,
                    "tool_name": tool_name,
                    "success": call.success,
                    "duration_ms": _elapsed_ms(started),
                    "error": call.error,
                }
                emit("worker.tool.result", **{**call.details, **fixed})


@dataclass
class ModelCallRecord:
    """What a block inside :func:`model_call` reports: the token usage of the answer.

    ``details`` adds fields to the result event; a key the bracket sets itself (``model``,
    ``duration_ms``, ...) keeps the bracket's value, so set the model a provider actually served
    as ``details["served_model"]``.
    """

    trace_id: str
    model: str
    provider: str
    usage: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _usage(usage: dict[str, int]) -> dict[str, int]:
    input_tokens = int(usage.get("input_tokens", 0))
    output_tokens = int(usage.get("output_tokens", 0))
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": int(usage.get("cached_input_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", input_tokens + output_tokens)),
    }


@contextmanager
def model_call(emit: Emit | None, *, model: str, provider: str) -> Iterator[ModelCallRecord]:
    """Bracket one model call with ``llm.call.started`` and ``llm.call.completed|failed``."""
    call = ModelCallRecord(trace_id=new_trace_id(), model=model, provider=provider)
    with correlation_scope(trace_id=call.trace_id):
        if emit is not None:
            emit("llm.call.started", trace_id=call.trace_id, model=model, provider=provider)
        started = time.perf_counter()
        try:
            yield call
        except BaseException as exc:
            if emit is not None:
                fixed = {"trace_id": call.trace_id, "model": model, "provider": provider}
                failed = {"duration_ms": _elapsed_ms(started), "error": _error_text(exc)}
                emit("llm.call.failed", **{**call.details, **fixed, **failed})
            raise
        if emit is not None:
            fixed = {"trace_id": call.trace_id, "model": model, "provider": provider}
            done = {"duration_ms": _elapsed_ms(started), "usage": _usage(call.usage)}
            emit("llm.call.completed", **{**call.details, **fixed, **done})
