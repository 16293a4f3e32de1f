"""The ASGI side of a twin: route dispatch with auth, chaos effects and journaling.

:func:`build_twin_app` returns a Starlette app: the admin API under ``/__twin/`` and, for every
other path, :class:`TwinDispatcher`. Per request the dispatcher reads the body, matches a route
(an unmatched one gets a 404 saying the twin does not cover it), rolls chaos, applies the
injected effect, checks credentials, calls the handler and journals the exchange.

Chaos effects:

- ``latency`` / ``timeout`` wait with ``asyncio`` (other requests go on), and stop waiting as
  soon as the client disconnects or the server stops; a timeout that runs its course answers 504.
- ``latency`` on a read-only route waits *before* the handler runs. On a route that may write it
  delays the *answer*, as a slow real service does: the handler runs first (its changes land),
  then the answer waits. A client that gives up meanwhile gets nothing, yet the write stays
  (the ambiguous timeout a client's retry must cope with); its journal entry keeps the status
  the handler produced, with the outcome ``client_disconnected``. A server that stops during
  that wait sends the answer at once.
- ``connection_reset`` aborts the TCP connection with an RST (``SO_LINGER`` 0), so the client
  sees a transport error and no response at all.
- ``partial_response`` sends the first part of the body with a matching ``Content-Length``:
  a well-framed answer whose JSON does not parse.
- ``stale_data`` hands the handler a state snapshot at least ``age_s`` old, on routes the twin
  marks read-only (by default its ``GET`` routes and declarative lists and reads; an API whose
  reads are ``POST`` marks them). A write still rolls (so request *n* keeps its draws and a seed
  replays), but it runs against the live state: a create numbered from an old snapshot would
  clash with records made since. Its journal entry says the fault was not applied.
- A request body over the twin's cap (1 MiB by default) is answered 413 before anything else
  (no route runs, no chaos rolls) and never stored; see :mod:`orchestrator.twins._body`.

Journal entries take their sequence number when the request arrives, so the journal lists
requests in arrival order even when a slow one finishes after a fast one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from orchestrator.policy.chaos import RateLimitMode, ServerErrorMode, StaleDataMode, TimeoutMode
from orchestrator.twins._admin import admin_routes
from orchestrator.twins._body import BodyTooLargeError, read_capped_body, too_large
from orchestrator.twins._chaos import Roll
from orchestrator.twins._handler import TwinCall, TwinReply
from orchestrator.twins._journal import (
    FALLBACK_TRAJECTORY_HEADER,
    TRAJECTORY_HEADER,
    redact_data,
    redact_headers,
    summarize,
)
from orchestrator.twins._manifest import CannedResponse
from orchestrator.twins._runtime import AuthResult, TwinRuntime
from orchestrator.twins._template import utc_now

__all__ = ["TRANSPORT_SCOPE_KEY", "TwinDispatcher", "build_twin_app"]

TRANSPORT_SCOPE_KEY = "orchestrate.transport"
"""Scope key under which the server puts the connection's asyncio transport (for connection resets)."""

log = structlog.get_logger(__name__)

_GENERIC_FAULTS: dict[str, tuple[int, Any]] = {
    "error_429": (429, {"message": "Too Many Requests"}),
    "error_500": (500, {"message": "Internal Server Error"}),
    "error_503": (503, {"message": "Service Unavailable"}),
    "timeout": (504, {"message": "Gateway Timeout"}),
    "auth_expired": (401, {"message": "The access token has expired", "error": "token_expired"}),
}
_STALE_WRITE = "stale_data serves read-only routes only; this route may write, so it used the live state"
_JSON = b"application/json"
_TEXT = "text/plain; charset=utf-8"


def build_twin_app(runtime: TwinRuntime) -> Starlette:
    """The Starlette app serving ``runtime``: admin API plus the twin's routes."""
    return Starlette(
        routes=[
            Mount("/__twin", routes=admin_routes(runtime)),
            Route("/{path:path}", TwinDispatcher(runtime), methods=None),
        ]
    )


class TwinDispatcher:
    """Serves every non-admin request of one twin (an ASGI app)."""

    def __init__(self, runtime: TwinRuntime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        runtime = self.runtime
        method: str = scope["method"]
        path: str = scope["path"]
        headers = Headers(scope=scope)
        entry: dict[str, Any] = {
            "seq": runtime.journal.reserve(),
            "timestamp": utc_now(),
            # Epoch seconds at full precision: a trajectory places each request on its own clock.
            "received_at": time.time(),
            "twin": runtime.name,
            "trajectory_id": headers.get(TRAJECTORY_HEADER) or headers.get(FALLBACK_TRAJECTORY_HEADER),
            "method": method,
            "path": path,
            "route": None,
            "covered": True,
            "status": None,
            "duration_ms": 0.0,
            "outcome": "answered",
            "chaos": None,
        }
        secrets: list[str] = runtime.known_tokens()
        sent: dict[str, Any] = {"status": None, "body": b""}
        raw_body = b""
        answer = _HeldAnswer(send, entry)
        send = answer.send
        try:
            try:
                raw_body = await read_capped_body(receive, headers, runtime.max_body_bytes)
            except BodyTooLargeError as exc:
                found = runtime.match(method, path)
                entry["route"] = found[0].id if found is not None else None
                entry["outcome"] = "body_too_large"
                await _send(send, sent, 413, too_large(exc.limit), {"Connection": "close"})
                return
            await self._serve(scope, receive, answer, headers, raw_body, entry, secrets, sent)
        except ConnectionResetError:
            raise  # connection_reset without a transport to abort (in-process clients): let it surface
        except Exception as exc:  # a broken handler answers 500 instead of killing the connection
            log.error("twin.handler_failed", twin=runtime.name, route=entry["route"], error=repr(exc))
            entry["outcome"] = "handler_error"
            if sent["status"] is None:
                await _send(
                    send, sent, 500, {"message": f"the {runtime.name} twin failed: {type(exc).__name__}"}
                )
        finally:
            entry["status"] = sent["status"]
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            query = scope.get("query_string", b"").decode("latin-1")
            entry["query"] = redact_data(dict(QueryParams(query)), secrets) if query else {}
            entry["request_headers"] = redact_headers(headers.items(), sensitive=runtime.sensitive_headers)
            try:
                entry["request_summary"] = summarize(_parsed_or_raw(headers, raw_body), secrets=secrets)
                entry["response_summary"] = summarize(sent["body"], secrets=secrets)
            except RecursionError:
                # A body nested past what can be summarised: the entry is still journalled, so the
                # journal's sequence never stalls on a hole.
                entry["request_summary"] = entry["response_summary"] = "(nested too deeply to summarise)"
            entry["response_bytes"] = len(sent["body"])
            runtime.journal.append(entry)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        answer: _HeldAnswer,
        headers: Headers,
        raw_body: bytes,
        entry: dict[str, Any],
        secrets: list[str],
        sent: dict[str, Any],
    ) -> None:
        runtime = self.runtime
        send = answer.send
        found = runtime.match(scope["method"], scope["path"])
        if found is None:
            entry["covered"] = False
            entry["outcome"] = "not_covered"
            what = f"{scope['method']} {scope['path']}"
            body = {
                "error": "not_covered",
                "message": f"The {runtime.name} twin does not cover {what}",
                "twin": runtime.name,
                "method": scope["method"],
                "path": scope["path"],
            }
            log.info("twin.not_covered", twin=runtime.name, method=scope["method"], path=scope["path"])
            await _send(send, sent, 404, body)
            return
        route, params = found
        entry["route"] = route.id
        roll = runtime.chaos.roll(route.id)
        entry["chaos"] = roll.record() if roll is not None else None
        decision = roll.decision if roll is not None else None
        if decision is not None and decision.latency_ms > 0:
            if route.read_only:
                interrupted = await self._hold(decision.latency_ms / 1000, receive)
                if interrupted is not None:
                    await self._interrupted(interrupted, send, sent, entry)
                    return
            else:
                answer.hold_with(partial(self._hold, decision.latency_ms / 1000, receive))
        fault = decision.fault if decision is not None else None
        if (
            fault is not None
            and roll is not None
            and await self._fault_preempts(scope, roll, receive, answer, sent, entry)
        ):
            return
        auth = runtime.authenticate(headers) if not route.public else AuthResult("none")
        if auth.token:
            secrets.append(auth.token)
        if auth.outcome in ("missing", "invalid", "expired"):
            entry["outcome"] = f"auth_{auth.outcome}"
            canned = getattr(runtime.definition.manifest.auth, auth.outcome)
            await _send_canned(send, sent, canned, 401)
            return
        try:
            body = _parse_body(headers, raw_body)
        except ValueError as exc:
            await _send(send, sent, 400, {"message": f"Problems parsing the request body: {exc}"})
            return
        state = runtime.state.live
        if fault == "stale_data" and decision is not None and isinstance(decision.fault_mode, StaleDataMode):
            if route.read_only:
                state = runtime.state.as_of(decision.fault_mode.age_s)
                entry["chaos"]["snapshot_age_s"] = round(state.age_s or 0.0, 3)
            else:
                entry["chaos"]["applied"] = False
                entry["chaos"]["reason"] = _STALE_WRITE
        call = TwinCall(
            twin=runtime.name,
            route_id=route.id,
            method=scope["method"],
            path=scope["path"],
            path_params=params,
            query=QueryParams(scope.get("query_string", b"")),
            headers=headers,
            body=body,
            raw_body=raw_body,
            state=state,
            principal=auth.principal,
            base_url=_base_url(scope, headers, runtime.definition.base_path),
            url=_full_url(scope, headers),
            presenters=runtime.definition.presenters,
        )
        result = route.handler(call)
        reply = await result if inspect.isawaitable(result) else result
        if not isinstance(reply, TwinReply):
            raise TypeError(f"route {route.id!r} returned {type(reply).__name__}, not TwinReply")
        payload, content_type = _encode(reply)
        if fault == "partial_response" and decision is not None and decision.fault_mode is not None:
            keep = getattr(decision.fault_mode, "keep_fraction", 0.5)
            payload = payload[: int(len(payload) * keep)]
        await _send_raw(send, sent, reply.status, payload, content_type, reply.headers)

    async def _fault_preempts(
        self,
        scope: Scope,
        roll: Roll,
        receive: Receive,
        answer: _HeldAnswer,
        sent: dict[str, Any],
        entry: dict[str, Any],
    ) -> bool:
        """Apply a fault that replaces the real answer; ``False`` for faults that alter it instead."""
        fault, mode = roll.decision.fault, roll.decision.fault_mode
        scale = roll.time_scale
        send = answer.send
        if fault == "connection_reset":
            if await answer.release():  # a write's latency comes first; the client may leave meanwhile
                entry["outcome"] = "connection_reset"
                await _reset_connection(scope, receive)
            return True
        if fault == "timeout" and isinstance(mode, TimeoutMode):
            interrupted = await self._hold(mode.hold_s * scale, receive)
            if interrupted is not None:
                await self._interrupted(interrupted, send, sent, entry)
                return True
        if fault not in _GENERIC_FAULTS or fault is None:
            return False
        status, body = _GENERIC_FAULTS[fault]
        canned = self.runtime.definition.manifest.chaos.responses.get(fault)
        headers: dict[str, str] = {}
        retry_after = (
            getattr(mode, "retry_after_s", None)
            if isinstance(mode, RateLimitMode | ServerErrorMode)
            else None
        )
        if retry_after is not None:
            headers["Retry-After"] = str(round(retry_after * scale))
        if canned is not None:
            await _send_canned(send, sent, canned, status, headers)
        else:
            await _send(send, sent, status, body, headers)
        return True

    async def _interrupted(
        self, reason: str, send: Send, sent: dict[str, Any], entry: dict[str, Any]
    ) -> None:
        entry["outcome"] = reason
        if reason == "server_stopping":
            await _send(send, sent, 503, {"message": "Service Unavailable"})

    async def _hold(self, seconds: float, receive: Receive) -> str | None:
        """Wait ``seconds``; ``None`` if the time ran out, else why the wait ended early."""
        if seconds <= 0:
            return None
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        gone = asyncio.ensure_future(_wait_disconnect(receive))
        stopping = asyncio.ensure_future(self.runtime.stopping.wait())
        done, pending = await asyncio.wait({sleeper, gone, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if sleeper in done:
            return None
        return "client_disconnected" if gone in done else "server_stopping"


class _HeldAnswer:
    """The ``send`` of one request, holding its answer back while a write's latency runs.

    Unarmed, it passes messages straight through. Armed by :meth:`hold_with` (latency on a route
    that may write), the first message of the answer waits for the hold: when the client
    disconnects meanwhile, nothing is sent and the journal entry's outcome says so (its status
    stays the one the handler produced); when the server stops, the answer goes out at once.
    """

    def __init__(self, send: Send, entry: dict[str, Any]) -> None:
        self._send = send
        self._entry = entry
        self._hold: Callable[[], Awaitable[str | None]] | None = None
        self._dropped = False

    def hold_with(self, hold: Callable[[], Awaitable[str | None]]) -> None:
        """Make the answer wait for ``hold`` (``None`` when it ran its course, else why it ended)."""
        self._hold = hold

    async def release(self) -> bool:
        """Wait out the hold, if any (once); ``False`` when the client left, so nothing may be sent."""
        hold, self._hold = self._hold, None
        if hold is not None:
            interrupted = await hold()
            if interrupted == "client_disconnected":
                self._dropped = True
                self._entry["outcome"] = interrupted
        return not self._dropped

    async def send(self, message: Any) -> None:
        if await self.release():
            await self._send(message)


# ------------------------------------------------------------------------------------------ helpers


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _reset_connection(scope: Scope, receive: Receive) -> None:
    """Abort the TCP connection under this request (RST); without one, raise a reset error."""
    transport = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionResetError("connection reset by twin chaos")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let the server notice the loss, so it does not complain that no response was sent.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_wait_disconnect(receive), timeout=1.0)


def _parse_body(headers: Headers, raw: bytes) -> Any:
    if not raw:
        return None
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(QueryParams(raw.decode("utf-8", errors="replace")))
    if content_type in ("", "application/json") or content_type.endswith("+json"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            if content_type:
                raise ValueError(
                    f"invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
                ) from None
        except RecursionError:
            raise ValueError("invalid JSON (nested too deeply)") from None
    return raw.decode("utf-8", errors="replace")


def _parsed_or_raw(headers: Headers, raw: bytes) -> Any:
    try:
        return _parse_body(headers, raw)
    except ValueError:
        return raw


def _encode(reply: TwinReply) -> tuple[bytes, str | None]:
    body = reply.body
    if reply.status == 204 or (body is None and reply.status >= 300):
        return b"", None
    if isinstance(body, bytes):
        return body, reply.media_type or _TEXT
    if isinstance(body, str) and reply.media_type is not None:
        return body.encode(), reply.media_type
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), None


async def _send(
    send: Send, sent: dict[str, Any], status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    await _send_raw(send, sent, status, payload, None, headers or {})


async def _send_canned(
    send: Send,
    sent: dict[str, Any],
    canned: CannedResponse,
    status: int,
    headers: dict[str, str] | None = None,
) -> None:
    await _send(send, sent, canned.status or status, canned.body, {**(headers or {}), **canned.headers})


async def _send_raw(
    send: Send,
    sent: dict[str, Any],
    status: int,
    payload: bytes,
    content_type: str | None,
    headers: dict[str, str],
) -> None:
    raw_headers = [(b"content-length", str(len(payload)).encode())]
    extra = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.items()
        if name.lower() != "content-length"
    ]
    own_type = any(name == b"content-type" for name, _ in extra)
    if (payload or content_type is not None) and not own_type:
        raw_headers.append((b"content-type", content_type.encode() if content_type else _JSON))
    raw_headers.extend(extra)
    sent["status"] = status
    sent["body"] = payload
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def _origin(scope: Scope, headers: Headers) -> str:
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _base_url(scope: Scope, headers: Headers, base_path: str) -> str:
    return _origin(scope, headers) + base_path


def _full_url(scope: Scope, headers: Headers) -> str:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    url = _origin(scope, headers) + raw_path.decode("latin-1")
    query = scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url
