"""Serving one ASGI app in process: uvicorn on 127.0.0.1, a port the OS picks, one background thread.

The scenario runner serves a system under test given as ``[sut] app = "module:attr"`` this way,
one server per slot. Start-up waits on an event the server sets right after it starts listening
(or fails to), never on a sleep loop, and fails with the cause when the app does not come up.
Stopping asks uvicorn to exit and joins its thread with a deadline, so no thread outlives the
server; stopping twice is harmless. The socket is bound before the thread starts, so the URL is
known at once and no other process can take the port in between.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

from orchestrator.errors import OrchestrateError, UsageError

__all__ = ["LOOPBACK", "AsgiServer", "serve_asgi"]

LOOPBACK = "127.0.0.1"


class _NotifyingServer(uvicorn.Server):
    """uvicorn's server, telling a waiting thread the moment it listens (or fails to)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class AsgiServer:
    """Serves ``app`` from a background uvicorn server; use :meth:`start`/:meth:`stop` or ``with``.

    ``name`` names the thread (and the server in errors). ``lifespan`` is uvicorn's: ``auto``
    runs the app's start-up and shut-down handlers when it has them.
    """

    def __init__(
        self,
        app: Any,
        *,
        name: str = "app",
        host: str = LOOPBACK,
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "auto",
    ) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.port = port
        self.lifespan = lifespan
        self._socket: socket.socket | None = None
        self._server: _NotifyingServer | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.url: str | None = None
        """``http://127.0.0.1:<port>`` once started."""

    @property
    def alive(self) -> bool:
        """Whether the server is serving: started, its thread running, not asked to exit."""
        server, thread = self._server, self._thread
        return server is not None and thread is not None and thread.is_alive() and not server.should_exit

    def start(self, timeout: float = 10.0) -> str:
        """Bind, start serving, and return the URL once the app listens."""
        if self._thread is not None:
            raise UsageError(f"the {self.name} server is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except (OSError, OverflowError) as exc:
            sock.close()
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self._socket = sock
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host=self.host,
            log_config=None,
            access_log=False,
            lifespan=self.lifespan,
            ws="none",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        ready = threading.Event()
        self._server = _NotifyingServer(config, ready)
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"orchestrate-{self.name}:{port}", daemon=True
        )
        self._thread.start()
        in_time = ready.wait(timeout)
        if not in_time or not self._server.started:
            if in_time:
                self._thread.join(timeout)  # a failed start-up ends the thread at once: wait for its error
            if not in_time:
                problem = f"not listening after {timeout:g} s"
            elif self._error is None or isinstance(self._error, SystemExit):
                problem = "its start-up failed (the app's own start-up raised; uvicorn logs the error)"
            else:
                problem = repr(self._error)
            self.stop()
            raise OrchestrateError(f"the {self.name} server on {self.host}:{port} did not start: {problem}")
        self.url = f"http://{self.host}:{port}"
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the server thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        self._server = None
        self._thread = None
        self.url = None
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        if thread is not None and thread.is_alive():
            raise OrchestrateError(f"the {self.name} server thread did not stop within {2 * timeout:g} s")

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, server: _NotifyingServer, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])  # an event loop of this thread's own
        except BaseException as exc:  # uvicorn exits with SystemExit on start-up failures
            self._error = exc
        finally:
            server.ready.set()


@contextmanager
def serve_asgi(app: Any, *, name: str = "app", timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yield its URL; stop it on the way out."""
    server = AsgiServer(app, name=name)
    url = server.start(timeout)
    try:
        yield url
    finally:
        server.stop()
