"""Output helpers: errors on stderr, tables on a terminal, JSON documents for scripts.

Commands print through these helpers so every command behaves the same way: a rich table when
stdout is a terminal, plain aligned lines (never wrapped or cut) when it is piped, and with
``--json`` exactly one JSON document on stdout and nothing else. Warnings and notes go to stderr,
so they never mix with what a script reads.

Text is always printed literally: user input, page text and our messages (which name
``[targets.web]`` and other sections) are never read as rich markup, so no value can restyle the
output or crash it. Control characters (escape sequences, carriage returns, bidi overrides) are
shown escaped, ``\\x1b`` rather than the byte, so no value can move the cursor or disguise itself.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.errors import OrchestrateError

__all__ = [
    "as_utc",
    "err_console",
    "format_duration_ms",
    "format_time",
    "literal",
    "out_console",
    "print_error",
    "print_json",
    "print_line",
    "print_note",
    "print_table",
    "print_warning",
    "printable",
    "shorten",
]

out_console = Console()
err_console = Console(stderr=True)


# C0 and C1 controls but newline and tab, DEL, and the bidi embeddings, overrides and isolates.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters escaped as Python writes them (``\\x1b``, ``\\r``, ``\\u202e``)."""
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)


def literal(text: str, style: str = "") -> Text:
    """``text`` as a rich :class:`Text`: shown as written, never parsed as markup (see the module)."""
    return Text(printable(text), style=style)


def print_error(error: OrchestrateError | str) -> None:
    """Print an error as one readable paragraph on stderr (no traceback), exactly as worded."""
    err_console.print(
        Text.assemble(("error: ", "bold red"), literal(str(error))), highlight=False, soft_wrap=True
    )


def print_warning(message: str) -> None:
    """Print a warning line on stderr."""
    err_console.print(
        Text.assemble(("warning: ", "yellow"), literal(message)), highlight=False, soft_wrap=True
    )


def print_note(message: str) -> None:
    """Print a hint on stderr (what to do next); stdout stays clean for scripts."""
    err_console.print(literal(message, "dim"), highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Print a JSON document, and nothing else, on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_line(text: str = "") -> None:
    """Print one line of plain text on stdout as given: no markup, no wrapping, controls escaped."""
    sys.stdout.write(printable(text) + "\n")
    sys.stdout.flush()


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """Print rows under column headers: a rich table on a terminal, aligned plain lines otherwise.

    Plain lines keep every cell whole (a run id cut to fit 80 columns would be useless to a
    script), separated by two spaces, with the header as the first line.
    """
    if out_console.is_terminal:
        table = Table(title=literal(title) if title else None, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(literal(column), overflow="fold")
        for row in rows:
            table.add_row(*(literal(cell) for cell in row))
        out_console.print(table, markup=False, highlight=False)
        return
    if title:
        print_line(title)
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    for cells in (columns, *rows):
        print_line("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())


def format_time(moment: datetime | str | None) -> str:
    """A time for a table cell: UTC, to the second, one word (``2024-03-09T23:59:59Z``); blank when unknown.

    One word, so a script splitting a plain line on whitespace gets one cell for it.
    """
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    else:
        parsed = moment
    return as_utc(parsed).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_duration_ms(duration_ms: float | None) -> str:
    """A duration for people: ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``, ``31d04h``; blank when unknown."""
    if duration_ms is None:
        return ""
    if duration_ms < 1000:
        return f"{round(duration_ms)}ms"
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters (ending in ``...``) when longer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 3, 0)] + "..."
