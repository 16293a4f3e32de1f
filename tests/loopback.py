"""Serve an ASGI app on a loopback port the OS picks, for a test: one helper for every test server.

It is the product's own server (:class:`orchestrator.asgi_server.AsgiServer`, which serves a
scenario slot's in-process system under test), so tests exercise the code users run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
