"""The correlation ids of the work in progress, bound per thread (and per asyncio task).

While an actor handles a message, its ids (``run_id``, ``task_id``, ``call_id``, ``trace_id``,
``tool_trace_id``) are bound here and in structlog's contextvars, so every log line and every
event emitted from that code carries them without passing ids by hand. Code outside actors (a
CLI command, a test) binds them the same way with :func:`correlation_scope`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

import structlog

__all__ = ["CORRELATION_KEYS", "correlation_scope", "current_correlation"]

CORRELATION_KEYS = ("run_id", "task_id", "call_id", "trace_id", "tool_trace_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_current: ContextVar[Mapping[str, str]] = ContextVar("orchestrate_correlation", default=_EMPTY)


def current_correlation() -> Mapping[str, str]:
    """The ids bound in this context (read-only; empty outside any scope)."""
    return _current.get()


@contextmanager
def correlation_scope(**ids: str | None) -> Iterator[Mapping[str, str]]:
    """Bind correlation ids for the duration of the block, on top of those already bound.

    Ids given as ``None`` are left as they were. Unknown keys are refused, so a typo cannot
    silently drop an id.
    """
    unknown = set(ids) - set(CORRELATION_KEYS)
    if unknown:
        raise TypeError(f"unknown correlation keys: {', '.join(sorted(unknown))}")
    bound = {key: value for key, value in ids.items() if value is not None}
    merged = MappingProxyType({**_current.get(), **bound})
    token = _current.set(merged)
    try:
        with structlog.contextvars.bound_contextvars(**bound):
            yield merged
    finally:
        _current.reset(token)
