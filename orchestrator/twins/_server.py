"""Serving twins in process: one uvicorn server, one thread, every twin on its own port.

:func:`serve_twins` is the API our tests, the scenario runner and ``orchestrate twin serve`` all
use: it loads the twins, starts them on 127.0.0.1 (ports chosen by the OS unless given), yields
their URLs and stops them on the way out.

Why one server with several sockets: each twin gets its own origin, so its base URL is simply
``http://127.0.0.1:<port><base path>`` (what real clients expect, e.g. ``.../api/v4`` for
GitLab), while a whole slot of twins costs one thread and one event loop. Requests are routed to
a twin by the local port they arrived on.

Start-up waits on an event set by the server right after it starts listening (never a sleep
loop), with a deadline. Stopping asks uvicorn to exit, releases requests held by latency or
timeout chaos, and joins the thread with a deadline, so no thread outlives the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.errors import ConfigError, OrchestrateError, UsageError
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.twins._app import TRANSPORT_SCOPE_KEY, build_twin_app
from orchestrator.twins._body import DEFAULT_MAX_BODY_BYTES
from orchestrator.twins._chaos import load_chaos_profiles, resolve_chaos_profile
from orchestrator.twins._connect import ClientHint, client_hint
from orchestrator.twins._definition import TwinDefinition
from orchestrator.twins._discovery import load_twin
from orchestrator.twins._runtime import TwinRuntime
from orchestrator.twins._seed import split_by_twin

__all__ = ["RunningTwins", "TwinEndpoint", "TwinServer", "serve_twins"]

LOOPBACK = "127.0.0.1"
_MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class TwinEndpoint:
    """Where one running twin answers."""

    name: str
    port: int
    origin: str
    """``http://127.0.0.1:<port>``."""
    url: str
    """The base URL clients use: the origin plus the twin's base path."""

    @property
    def admin_url(self) -> str:
        return f"{self.origin}/__twin"


class RunningTwins(Mapping[str, str]):
    """The twins of one server: a mapping of twin name to base URL, plus endpoints and runtimes."""

    def __init__(self, endpoints: Mapping[str, TwinEndpoint], runtimes: Mapping[str, TwinRuntime]) -> None:
        self.endpoints = dict(endpoints)
        self.runtimes = dict(runtimes)

    def __getitem__(self, name: str) -> str:
        return self.endpoints[name].url

    def __iter__(self) -> Iterator[str]:
        return iter(self.endpoints)

    def __len__(self) -> int:
        return len(self.endpoints)

    def admin_url(self, name: str) -> str:
        return self.endpoints[name].admin_url

    def client(self, name: str) -> ClientHint:
        """How the official client of twin ``name`` connects: its URL, a valid token, a line of code."""
        return client_hint(self.runtimes[name].definition.manifest, self.endpoints[name].origin)


class _PortRouter:
    """Routes each connection to the twin app bound to the port it arrived on."""

    def __init__(self, apps: Mapping[int, ASGIApp]) -> None:
        self.apps = dict(apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1]) if server else None
        if app is None:  # pragma: no cover - every listening socket has an app
            raise RuntimeError(f"no twin listens on {server}")
        # uvicorn's send is a method of the request cycle, which holds the connection's transport;
        # handing it down lets connection_reset chaos abort the real TCP connection.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            scope[TRANSPORT_SCOPE_KEY] = transport
        await app(scope, receive, send)


class _NotifyingServer(uvicorn.Server):
    """uvicorn's server, telling a waiting thread the moment it listens (or fails to)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class TwinServer:
    """Serves ``runtimes`` from one background uvicorn server; use as a context manager."""

    def __init__(self, runtimes: Sequence[TwinRuntime], *, host: str = LOOPBACK, port: int = 0) -> None:
        names = [runtime.name for runtime in runtimes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise UsageError(f"twin {duplicates[0]!r} is listed twice; one server serves each twin once")
        if not runtimes:
            raise UsageError("no twins to serve: name at least one")
        last_port = port + len(runtimes) - 1
        if not 0 <= port <= _MAX_PORT:
            raise UsageError(f"port {port} is not a TCP port: use 1..{_MAX_PORT}, or 0 to let the OS choose")
        if port and last_port > _MAX_PORT:
            raise UsageError(
                f"port {port} does not leave room for {len(runtimes)} twin(s): they need ports "
                f"{port}..{last_port}, and ports go up to {_MAX_PORT}; pick a first port of at most "
                f"{_MAX_PORT - len(runtimes) + 1}, or 0 to let the OS choose"
            )
        self.runtimes = list(runtimes)
        self.host = host
        self.first_port = port
        self._sockets: list[socket.socket] = []
        self._server: _NotifyingServer | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.twins: RunningTwins | None = None

    def start(self, timeout: float = 10.0) -> RunningTwins:
        """Bind, start serving, and return the running twins once every socket listens."""
        if self._thread is not None:
            raise UsageError("this twin server is already started")
        apps: dict[int, ASGIApp] = {}
        endpoints: dict[str, TwinEndpoint] = {}
        try:
            for offset, runtime in enumerate(self.runtimes):
                sock = self._bind(self.first_port + offset if self.first_port else 0)
                port = sock.getsockname()[1]
                runtime.stopping = asyncio.Event()
                apps[port] = build_twin_app(runtime)
                origin = f"http://{self.host}:{port}"
                endpoints[runtime.name] = TwinEndpoint(
                    runtime.name, port, origin, origin + runtime.definition.base_path
                )
        except BaseException:
            self._close_sockets()
            raise
        config = uvicorn.Config(
            _PortRouter(apps),
            host=self.host,
            log_config=None,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        ready = threading.Event()
        self._server = _NotifyingServer(config, ready)
        ports = ",".join(str(endpoint.port) for endpoint in endpoints.values())
        self._thread = threading.Thread(target=self._run, name=f"orchestrate-twins:{ports}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or not self._server.started:
            problem = repr(self._error) if self._error is not None else f"not listening after {timeout:g} s"
            self.stop()
            raise OrchestrateError(f"the twin server on port(s) {ports} did not start: {problem}")
        self.twins = RunningTwins(endpoints, {runtime.name: runtime for runtime in self.runtimes})
        return self.twins

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the server thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            self._close_sockets()
            return
        server.should_exit = True
        loop = server.loop
        if loop is not None:
            for runtime in self.runtimes:
                with contextlib.suppress(RuntimeError):  # the loop already closed
                    loop.call_soon_threadsafe(runtime.stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._close_sockets()
        self._server = None
        self._thread = None
        if thread.is_alive():
            raise OrchestrateError(
                f"the twin server thread {thread.name} did not stop within {2 * timeout:g} s"
            )

    def __enter__(self) -> RunningTwins:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self, port: int) -> socket.socket:
        # IPPROTO_TCP (not 0) lets asyncio switch Nagle off on accepted connections; without it every
        # keep-alive request waits for a delayed ACK (about 40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0..65535
            sock.close()
            reason = (exc.strerror if isinstance(exc, OSError) else None) or exc
            raise UsageError(f"cannot listen on {self.host}:{port}: {reason}") from exc
        self._sockets.append(sock)
        return sock

    def _run(self) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=self._sockets)
        except BaseException as exc:  # uvicorn exits with SystemExit on start-up failures
            self._error = exc
        finally:
            self._server.ready.set()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets = []


@contextmanager
def serve_twins(
    twins: Sequence[str | Path | TwinDefinition],
    *,
    project_root: Path | None = None,
    twins_dir: Path | None = None,
    seed: int | None = None,
    chaos_profile: str | None = None,
    chaos: ChaosConfig | None = None,
    data: Mapping[str, Any] | None = None,
    data_source: Path | str | None = None,
    port: int = 0,
    host: str = LOOPBACK,
    startup_timeout: float = 10.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Iterator[RunningTwins]:
    """Start ``twins`` (names, folders or loaded definitions) and yield their URLs; stop on exit.

    ``seed`` seeds every twin's chaos RNG (a fresh one is drawn when omitted, and recorded in the
    journal). ``chaos_profile`` names a profile of the ``chaos-profiles`` policy, or ``chaos``
    gives a configuration outright. ``data`` maps twin name to that twin's seed data (what a
    scenario's ``context.data`` holds); ``data_source`` names its file in error messages.
    ``port`` 0 lets the OS choose; otherwise the twins get ``port``, ``port + 1``, ...
    A request body over ``max_body_bytes`` (default 1 MiB) is refused with 413 and never stored.
    """
    definitions = [
        twin if isinstance(twin, TwinDefinition) else load_twin(twin, project_root, twins_dir=twins_dir)
        for twin in twins
    ]
    profiles = load_chaos_profiles(project_root)
    if chaos is None and chaos_profile is not None:
        chaos = resolve_chaos_profile(chaos_profile, profiles)
    per_twin = split_by_twin(data, [definition.name for definition in definitions], source=data_source)
    runtimes: list[TwinRuntime] = []
    for definition in definitions:
        try:
            runtime = TwinRuntime(
                definition,
                seed=seed,
                profiles=profiles,
                data=per_twin.get(definition.name),
                data_source=data_source,
                max_body_bytes=max_body_bytes,
            )
        except ConfigError as exc:
            # The data document is keyed by twin name; say where in it the mistake is.
            field = exc.field if exc.field.startswith("(") else f"{definition.name}.{exc.field}"
            raise ConfigError(exc.path, field, exc.problem, exc.fix) from None
        try:
            runtime.set_chaos(chaos, profile=chaos_profile)
        except ConfigError as exc:
            # A route override of the profile names a route this twin lacks.
            where = f"profiles.{chaos_profile}.{exc.field}" if chaos_profile else exc.field
            raise ConfigError(exc.path or "chaos-profiles", where, exc.problem, exc.fix) from None
        runtimes.append(runtime)
    server = TwinServer(runtimes, host=host, port=port)
    running = server.start(startup_timeout)
    try:
        yield running
    finally:
        server.stop()
