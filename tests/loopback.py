"""Serve an ASGI app on a loopback port the OS picks, for a test: one helper for every test server.

It is the product's own server (:class:`orchestrator.asgi_server.AsgiServer`, which serves a
scenario slot's in-process system under test), so tests exercise the code users run.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.asgi_server import AsgiServer


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` on 127.0.0.1 and a free port; yield its origin; stop it afterwards."""
    server = AsgiServer(app)
    origin = server.start(timeout=15)
    try:
        yield origin
    finally:
        server.stop()


@contextlib.contextmanager
def serve_script(
    argv: Sequence[str], *, cwd: Path, banner: str, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run a server script that prints ``<banner> http://127.0.0.1:<port>`` first; yield that origin.

    The banner is waited for with a deadline (never a sleep); the process is stopped with SIGTERM
    afterwards and must exit cleanly (uvicorn re-raises the signal it handled).
    """
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            line = pool.submit(process.stdout.readline)
            try:
                first = line.result(timeout=20).strip()
            except concurrent.futures.TimeoutError:
                process.kill()
                raise
        assert first.startswith(f"{banner} http://127.0.0.1:"), first
        yield first.rsplit(" ", 1)[-1]
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode in (0, -signal.SIGTERM)
