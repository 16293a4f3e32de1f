"""The viewer's HTTP API and page: a read-only Starlette app over the project's event index.

Routes (JSON unless said otherwise; bad parameters are 422 and unknown runs 404, each with a
``detail`` message):

- ``GET /`` the page; ``GET /static/{file}`` its script and style sheet.
- ``GET /health``.
- ``GET /runs?kind=&status=&limit=50&before=`` the run list, newest first, a page at a time.
- ``GET /runs/{run_id}`` a run's detail; ``/graph`` and ``/grid?bucket=80`` its parts.
- ``GET /runs/{run_id}/files/{path}`` a file of the run dir (a finding's screenshot, a trace).
- ``GET /logs/events?event_type_prefix=&run_id=&since_seq=&limit=`` indexed events.
- ``GET /conductor/runs/{run_id}/timeline`` the run's timeline (categories and counts).
- ``GET /logs/stream?run_id=&since_seq=`` the live stream (Server-Sent Events).

The app has no write routes. It answers only requests whose ``Host`` is the address it serves
(``127.0.0.1:PORT`` or ``localhost:PORT``), so a web page elsewhere cannot reach it through DNS
rebinding. Handlers run on the server's event loop thread, which owns the database connections
(opened at start-up, closed at shut-down).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.config import ProjectConfig
from orchestrator.events import Event, EventStore, RunRow, build_timeline
from orchestrator.runs import RunInfo, read_run
from orchestrator.viewer._index import IndexReader
from orchestrator.viewer._job_panel import job_panel
from orchestrator.viewer._model import (
    DEFAULT_BUCKET,
    RUN_KINDS,
    RUN_STATUSES,
    build_graph,
    build_grid,
    detail_document,
    facts_from_events,
    run_kind,
    run_status,
    run_summary,
)
from orchestrator.viewer._stream import StreamSettings, event_stream
from orchestrator.viewer._trajectory_view import trajectory_events

__all__ = ["STATIC_DIR", "ViewerState", "create_app", "run_detail", "stop_streams"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page's files, shipped in the package."""

_STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
_MAX_LIMIT = 5000
_MAX_SEQ = 2**63 - 1


def _json(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status, media_type="application/json")


def _problem(status: int, detail: str) -> Response:
    return _json({"detail": detail}, status)


class ViewerState:
    """The app's connections to the index (opened on start-up) and its stop flag for streams."""

    def __init__(self, config: ProjectConfig, stream: StreamSettings) -> None:
        self.config = config
        self.stream = stream
        self.stopping = threading.Event()
        self._store: EventStore | None = None
        self._reader: IndexReader | None = None
        self._closed = False

    def open(self) -> None:
        # The store makes the database when there is none yet, so a server started before any
        # run still streams the first run that comes.
        self._store = EventStore(self.config.events_db)
        self._reader = IndexReader(self.config.events_db)

    def close(self) -> None:
        self._closed = True
        self.stopping.set()
        if self._reader is not None:
            self._reader.close()
        if self._store is not None:
            self._store.close()
        self._store = self._reader = None

    @property
    def store(self) -> EventStore:
        if self._store is None:
            if self._closed:
                raise HTTPException(503, "the viewer is stopping")
            self.open()
        assert self._store is not None
        return self._store

    @property
    def reader(self) -> IndexReader:
        if self._reader is None:
            if self._closed:
                raise HTTPException(503, "the viewer is stopping")
            self.open()
        assert self._reader is not None
        return self._reader


# --- parameters --------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(422, f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise HTTPException(422, f"{name} must be between {low} and {high}, not {value}")
    return value


def _choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and raw not in choices:
        raise HTTPException(422, f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


# --- reading runs ------------------------------------------------------------------------------


def _info(row: RunRow) -> RunInfo | None:
    return read_run(Path(row.events_path).parent)


def _row(state: ViewerState, run_id: str) -> RunRow:
    row = state.store.run(run_id)
    if row is None:
        raise HTTPException(404, f"no run {run_id!r} in the event index {state.config.events_db}")
    return row


def run_detail(
    state: ViewerState, run_id: str, *, bucket: int = DEFAULT_BUCKET, trajectory: str | None = None
) -> dict[str, Any]:
    """The detail document of ``run_id``; a 404 ``HTTPException`` when the index has no such run.

    With ``trajectory``, the detail of that one trajectory of a scenario run: its events only
    (:func:`trajectory_events`), under the run's summary.
    """
    row = _row(state, run_id)
    info = _info(row)
    events = state.store.query(run_id=run_id, limit=None)
    summary = run_summary(row, info, facts_from_events(events))
    job = job_panel(state.config, info, summary["kind"])
    if trajectory is None:
        return detail_document(summary, events, job, bucket=bucket)
    chosen = trajectory_events(events, trajectory)
    if not chosen:
        raise HTTPException(404, f"run {run_id!r} has no events of trajectory {trajectory!r}")
    return {**detail_document(summary, chosen, job, bucket=bucket), "trajectory": trajectory}


def _runs(state: ViewerState, request: Request) -> Response:
    kind = _choice(request, "kind", RUN_KINDS)
    status = _choice(request, "status", RUN_STATUSES)
    limit = _int_param(request, "limit", 50, 1, 1000) or 50
    before = request.query_params.get("before") or None
    rows = state.store.runs()
    if before is not None:
        position = next((index for index, row in enumerate(rows) if row.run_id == before), None)
        if position is None:
            raise HTTPException(422, f"before names no known run: {before!r}")
        rows = rows[position + 1 :]
    chosen: list[tuple[RunRow, RunInfo | None]] = []
    more = False
    for row in rows:
        if status is not None and run_status(row.status) != status:
            continue
        info = _info(row)
        if kind is not None and run_kind(info) != kind:
            continue
        if len(chosen) == limit:
            more = True
            break
        chosen.append((row, info))
    summaries = [run_summary(row, info, state.reader.facts(row.run_id)) for row, info in chosen]
    next_before = chosen[-1][0].run_id if more and chosen else None
    return _json({"runs": summaries, "next_before": next_before})


def _events(state: ViewerState, request: Request) -> Response:
    run_id = request.query_params.get("run_id") or None
    prefix = request.query_params.get("event_type_prefix") or None
    since = _int_param(request, "since_seq", None, 0, _MAX_SEQ)
    limit = _int_param(request, "limit", 500, 1, _MAX_LIMIT) or 500
    if run_id is not None:
        _row(state, run_id)
    lines = state.store.query_lines(run_id=run_id, type_prefix=prefix, since_seq=since, limit=limit)
    # Paging by seq is only meaningful within one run.
    next_since = lines[-1][0] if run_id is not None and len(lines) == limit else None
    # The index holds each event as the bus encoded it: passed on as it is, never parsed again.
    body = (
        '{"events":['
        + ",".join(line for _, line in lines)
        + '],"next_since_seq":'
        + orjson.dumps(next_since).decode()
        + "}"
    )
    return Response(body.encode(), media_type="application/json")


def _timeline(state: ViewerState, run_id: str) -> Response:
    _row(state, run_id)
    events = state.store.query(run_id=run_id, limit=None)
    return _json(build_timeline(run_id, events).model_dump(mode="json"))


def _run_events(state: ViewerState, run_id: str) -> tuple[RunRow, list[Event]]:
    row = _row(state, run_id)
    return row, state.store.query(run_id=run_id, limit=None)


def _run_file(state: ViewerState, run_id: str, relative: str) -> Response:
    info = _info(_row(state, run_id))
    if info is None:
        raise HTTPException(404, f"run {run_id!r} has no run dir")
    root = info.path.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, f"run {run_id!r} has no file {relative!r}")
    return FileResponse(target)


def _stream(state: ViewerState, request: Request) -> Response:
    run_id = request.query_params.get("run_id") or None
    since = _int_param(request, "since_seq", None, 0, _MAX_SEQ)
    last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if since is not None and run_id is None:
        raise HTTPException(422, "since_seq needs run_id: seqs count within one run")
    if last_id:
        try:
            cursor = int(last_id)
            if not 0 <= cursor <= _MAX_SEQ:
                raise ValueError(last_id)
        except ValueError:
            raise HTTPException(
                422, f"Last-Event-ID must be a cursor this stream sent, not {last_id!r}"
            ) from None
    elif run_id is not None and since is not None:
        cursor = state.reader.cursor_before(run_id, since)
    else:
        cursor = state.reader.last_cursor()
    frames = event_stream(
        request,
        lambda: state.reader,
        cursor,
        run_id=run_id,
        settings=state.stream,
        stopping=state.stopping.is_set,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


def _page(name: str) -> Response:
    path = STATIC_DIR / name
    if name not in _STATIC_FILES:
        raise HTTPException(404, f"no static file {name!r}")
    if not path.is_file():
        if name == "index.html":
            return _problem(503, f"the viewer's page is not installed: {path} is missing")
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, media_type=_STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


# --- the app -----------------------------------------------------------------------------------


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _HostCheck:
    """Refuses (421) a request whose ``Host`` is not the address the app is served on."""

    def __init__(self, app: ASGIApp, *, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Port 0 means the OS chose one when the server bound: the scope says which.
        if self.host not in _LOOPBACK:
            # Served on an outside address on purpose (--host): the Host names whatever the
            # clients used to reach it; the check guards loopback servers from DNS rebinding.
            await self.app(scope, receive, send)
            return
        server = scope.get("server") or (self.host, self.port)
        port = self.port or int(server[1])
        allowed = {f"127.0.0.1:{port}", f"localhost:{port}", f"{self.host}:{port}"}
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
        if host not in allowed:
            shown = host or "(none)"
            detail = f"this server answers only to Host 127.0.0.1:{port} or localhost:{port}, not {shown}"
            await _problem(421, detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route(path: str, handler: Callable[[Request], Response]) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            return handler(request)
        except HTTPException as problem:
            return _problem(problem.status_code, problem.detail)

    return Route(path, endpoint, methods=["GET"])


def create_app(
    config: ProjectConfig,
    *,
    host: str = "127.0.0.1",
    port: int,
    stream: StreamSettings | None = None,
) -> Starlette:
    """The viewer app over ``config``'s event index, answering to ``host:port`` (0: the bound port).

    ``stream`` sets how often the live stream polls and how long it may stay silent. The app's
    :class:`ViewerState` is ``app.state.viewer``.
    """
    state = ViewerState(config, stream or StreamSettings())

    def bucket_of(request: Request) -> int:
        return _int_param(request, "bucket", DEFAULT_BUCKET, 1, 10_000) or DEFAULT_BUCKET

    def detail(request: Request) -> Response:
        trajectory = request.query_params.get("trajectory") or None
        return _json(
            run_detail(state, request.path_params["run_id"], bucket=bucket_of(request), trajectory=trajectory)
        )

    def graph(request: Request) -> Response:
        row, events = _run_events(state, request.path_params["run_id"])
        return _json(build_graph(events, run_status(row.status)))

    def grid(request: Request) -> Response:
        bucket = bucket_of(request)
        _, events = _run_events(state, request.path_params["run_id"])
        return _json(build_grid(events, bucket))

    routes = [
        _route("/", lambda request: _page("index.html")),
        _route("/static/{name}", lambda request: _page(request.path_params["name"])),
        _route("/health", lambda request: _json({"status": "ok"})),
        _route("/runs", lambda request: _runs(state, request)),
        _route("/runs/{run_id}", detail),
        _route("/runs/{run_id}/graph", graph),
        _route("/runs/{run_id}/grid", grid),
        _route(
            "/runs/{run_id}/files/{path:path}",
            lambda request: _run_file(state, request.path_params["run_id"], request.path_params["path"]),
        ),
        _route("/logs/events", lambda request: _events(state, request)),
        _route(
            "/conductor/runs/{run_id}/timeline",
            lambda request: _timeline(state, request.path_params["run_id"]),
        ),
        _route("/logs/stream", lambda request: _stream(state, request)),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.open()
        try:
            yield
        finally:
            state.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(_HostCheck, host=host, port=port)],
        lifespan=lifespan,
    )
    app.state.viewer = state
    return app


def stop_streams(app: Starlette) -> None:
    """End every open stream of ``app`` (before its server stops, so it need not wait for them)."""
    viewer = getattr(app.state, "viewer", None)
    if isinstance(viewer, ViewerState):
        viewer.stopping.set()
