"""The correlation ids of the work in progress, bound per thread (and per asyncio task).

While an actor handles a message, its ids (``run_id``, ``task_id``, ``call_id``, ``trace_id``,
``tool_trace_id``) are bound here and in structlog's contextvars, so every log line and every
event emitted from that code carries them without passing ids by hand. Code outside actors (a
CLI command, a test) binds them the same way with :func:`correlation_scope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

import structlog

__all__ = [
    "CORRELATION_KEYS",
    "bind_correlation",
    "correlation_scope",
    "current_correlation",
    "unbind_correlation",
]

CORRELATION_KEYS = ("run_id", "task_id", "call_id", "trace_id", "tool_trace_id")

_KEYS = frozenset(CORRELATION_KEYS)
_current: ContextVar[Mapping[str, str]] = ContextVar("orchestrate_correlation", default=MappingProxyType({}))


def current_correlation() -> Mapping[str, str]:
    """The ids bound in this context (treat as read-only; empty outside any scope)."""
    return _current.get()


class correlation_scope:  # noqa: N801 - named and used like contextlib-style managers
    """Bind correlation ids for the duration of a ``with`` block, on top of those already bound.

    Ids given as ``None`` are left as they were. Unknown keys are refused, so a typo cannot
    silently drop an id. This runs for every message an actor handles, so it is a plain class
    (no generator) and binds structlog's contextvars with tokens rather than re-reading them.
    """

    __slots__ = ("_bound", "_structlog_tokens", "_token")

    def __init__(self, **ids: str | None) -> None:
        if not ids.keys() <= _KEYS:
            unknown = ", ".join(sorted(ids.keys() - _KEYS))
            raise TypeError(f"unknown correlation keys: {unknown}")
        self._bound = {key: value for key, value in ids.items() if value is not None}

    def __enter__(self) -> Mapping[str, str]:
        self._token, self._structlog_tokens = bind_correlation(self._bound)
        return _current.get()

    def __exit__(self, *exc: object) -> None:
        unbind_correlation(self._token, self._structlog_tokens)


_Tokens = tuple[Token[Mapping[str, str]], Mapping[str, Token[Any]]]


def bind_correlation(ids: Mapping[str, str]) -> _Tokens:
    """Bind ``ids`` (known keys, no ``None`` values) until :func:`unbind_correlation`.

    The actor base calls this pair around every message; code elsewhere uses
    :class:`correlation_scope`.
    """
    token = _current.set({**_current.get(), **ids})
    return token, structlog.contextvars.bind_contextvars(**ids)


def unbind_correlation(token: Token[Mapping[str, str]], structlog_tokens: Mapping[str, Token[Any]]) -> None:
    """Undo one :func:`bind_correlation`."""
    structlog.contextvars.reset_contextvars(**structlog_tokens)
    _current.reset(token)
