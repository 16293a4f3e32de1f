"""``orchestrate serve`` (the trace viewer on 127.0.0.1) and ``orchestrate export RUN --html FILE``.

``serve`` runs the viewer's API and page in this process until Ctrl-C (or SIGTERM), then ends its
live streams and stops the server before returning. ``export`` writes one run's detail as a single
self-contained HTML file that opens without a server.
"""

from __future__ import annotations

import signal
import threading
import webbrowser
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from orchestrator.asgi_server import LOOPBACK, AsgiServer
from orchestrator.cli._context import cli_context
from orchestrator.cli._output import print_line, print_note, print_warning
from orchestrator.viewer import create_app, export_html, stop_streams

__all__ = ["export_command", "serve_command"]

_DEFAULT_PORT = 8765


def serve_command(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = _DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on. Anything but 127.0.0.1 exposes your traces."),
    ] = LOOPBACK,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in the default browser.")
    ] = False,
) -> None:
    """Serve the trace viewer: the run list, each run's detail, and new events live.

    Prints the URL, then serves until Ctrl-C. The API (`/runs`, `/logs/events`, `/logs/stream`,
    ...) reads the project's event index; runs written by other processes appear as they happen.

    Example: orchestrate serve --port 8765 --open
    """
    config = cli_context(ctx).config
    app = create_app(config, host=host, port=port)
    server = AsgiServer(app, name="viewer", host=host, port=port)
    url = server.start()
    if host != LOOPBACK:
        print_warning(f"the viewer listens on {host}: anyone who can reach this machine can read your traces")
    print_line(f"Trace viewer at {url}/ (Ctrl-C to stop)")
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        if open_browser:
            webbrowser.open(f"{url}/")
        # Wake now and then to notice a server that stopped by itself.
        while not stop.wait(1.0) and server.alive:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_streams(app)
        server.stop()
    print_note("The trace viewer stopped.")


def export_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run's id (see `orchestrate runs list`).")],
    html: Annotated[
        Path, typer.Option("--html", metavar="FILE", help="Write the page here (replaced if it exists).")
    ],
) -> None:
    """Write one run's detail as a self-contained HTML file (data inlined, no server needed).

    Example: orchestrate export 2024-03-09-001 --html trace.html
    """
    config = cli_context(ctx).config
    written = export_html(config, run_id, html)
    print_line(f"Wrote {written}")
