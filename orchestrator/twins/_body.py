"""Reading a request body under a size cap, for twin routes and the admin API alike.

A twin keeps what it is sent (journal summaries, state), so a body has a cap
(:data:`DEFAULT_MAX_BODY_BYTES`, 1 MiB, unless the twin is served with another). The cap is
checked twice: against a declared ``Content-Length`` before a byte is read, and against the bytes
as they arrive (a chunked body, or one longer than it said). A body over the cap is never kept:
what was read is dropped, the rest is read and discarded (up to :data:`DRAIN_LIMIT`), so the
client, which sends its whole body before it reads the answer, gets a clean 413 instead of a
broken pipe; the answer closes the connection.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Receive

from orchestrator.errors import OrchestrateError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DRAIN_LIMIT", "BodyTooLargeError", "read_capped_body", "too_large"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024
"""Past this many discarded bytes the twin stops reading and closes the connection."""


class BodyTooLargeError(OrchestrateError):
    """The request body is over the cap (it has been discarded)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is over {limit} bytes")


def too_large(limit: int) -> dict[str, str]:
    """The JSON body of a 413 answer: what the cap is and how to raise it."""
    return {
        "error": "body_too_large",
        "message": (
            f"the request body is larger than this twin accepts ({limit} bytes); send less, or serve "
            "the twin with a larger cap (orchestrate twin serve --max-body-bytes N, or "
            "serve_twins(..., max_body_bytes=N))"
        ),
    }


async def read_capped_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The whole body, or :class:`BodyTooLargeError` once it is known to be over ``limit`` bytes."""
    declared = headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        # A client waiting for "100 Continue" has not sent the body: answering is enough.
        if headers.get("expect", "").lower() != "100-continue":
            await _drain(receive)
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:
            chunks.clear()
            if more:
                await _drain(receive)
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
        if not more:
            break
    return b"".join(chunks)


async def _drain(receive: Receive) -> None:
    """Read and discard the rest of the body, up to :data:`DRAIN_LIMIT` bytes."""
    drained = 0
    while drained <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
