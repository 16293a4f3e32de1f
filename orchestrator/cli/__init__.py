"""The ``orchestrate`` command line: a thin typer layer over the Python API.

Each command group lives in its own private module and is mounted here. Every command turns an
:class:`~orchestrator.errors.OrchestrateError` into a short message on stderr and the error's exit
code (2 for framework and configuration errors), never a traceback.
"""

from __future__ import annotations

import sys

from orchestrator.cli._app import app
from orchestrator.errors import OrchestrateError

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: run the app and map our errors to exit codes."""
    try:
        app()
    except OrchestrateError as exc:
        from orchestrator.cli._output import print_error

        print_error(exc)
        sys.exit(exc.exit_code)
