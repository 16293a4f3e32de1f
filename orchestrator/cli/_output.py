"""Output helpers: errors on stderr, tables on a terminal, JSON documents for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from orchestrator.errors import OrchestrateError

__all__ = ["err_console", "out_console", "print_error", "print_json"]

out_console = Console()
err_console = Console(stderr=True)


def print_error(exc: OrchestrateError) -> None:
    """Print an error as one readable paragraph on stderr (no traceback)."""
    err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Print a JSON document, and nothing else, on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
