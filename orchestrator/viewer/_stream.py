"""The live stream: every event as it is indexed, as Server-Sent Events, resumable.

The stream tails the SQLite index (see :class:`~orchestrator.viewer._index.IndexReader`), so it
shows runs written by any process on the machine, not only this one. Each event is sent once as

    id: <cursor>
    event: event
    data: <the event's JSON line>

and a client that reconnects with ``Last-Event-ID: <cursor>`` (browsers do it by themselves) gets
exactly the events after it. A ``: keepalive`` comment goes out when nothing happened for a while,
so proxies and the browser keep the connection. The stream ends when the client goes away or the
app is told to stop (:func:`~orchestrator.viewer.stop_streams`); it polls on the server's own
event loop, so no thread is left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.requests import Request

from orchestrator.viewer._index import IndexReader

__all__ = ["StreamSettings", "event_stream", "sse_frame"]

_BATCH = 500


@dataclass(frozen=True)
class StreamSettings:
    """How often the stream looks for new events, and how long it may stay silent."""

    poll_interval_s: float = 0.1
    keepalive_s: float = 15.0


def sse_frame(cursor: int, line: str) -> bytes:
    """One event as an SSE frame (a JSON line never holds a newline: JSON escapes them)."""
    return f"id: {cursor}\nevent: event\ndata: {line}\n\n".encode()


async def event_stream(
    request: Request,
    reader: Callable[[], IndexReader],
    cursor: int,
    *,
    run_id: str | None,
    settings: StreamSettings,
    stopping: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """Frames of every event indexed after ``cursor`` (of ``run_id`` when given), until the end."""
    yield b"retry: 1000\n\n"
    last_sent = time.monotonic()
    while not stopping():
        rows = reader().tail(cursor, run_id=run_id, limit=_BATCH)
        if rows:
            for row_cursor, line in rows:
                yield sse_frame(row_cursor, line)
            cursor = rows[-1][0]
            last_sent = time.monotonic()
            if len(rows) == _BATCH:
                continue  # more are waiting: send them before looking at the clock
        elif time.monotonic() - last_sent >= settings.keepalive_s:
            yield b": keepalive\n\n"
            last_sent = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(settings.poll_interval_s)
