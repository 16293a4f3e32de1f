"""What a page says while it is captured: console messages, uncaught errors and failed requests.

A :class:`PageRecorder` listens to one page from the moment it is opened. Console messages and
uncaught page errors become :class:`~orchestrator.gate.ConsoleEntry` lines (``type`` is the
browser's message type, or ``pageerror``); requests that fail outright or answer HTTP 4xx/5xx
become :class:`~orchestrator.gate.NetworkFailure` records. Requests the browser aborted itself
(``net::ERR_ABORTED``: the page navigated away or cancelled them) are not failures a user sees
and are left out. :meth:`PageRecorder.take` hands over
what arrived since the last call, so each journey step gets only its own evidence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, Request, Response
from playwright.async_api import Error as PlaywrightError

from orchestrator.artifacts import atomic_write_bytes, atomic_write_json
from orchestrator.gate import ConsoleEntry, NetworkFailure

__all__ = ["PageRecorder", "write_console", "write_network"]

_ABORTED = "net::ERR_ABORTED"
_STACK_LOCATION = re.compile(r"((?:https?|file)://[^\s()]+:\d+:\d+)")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PageRecorder:
    """Collects one page's console entries and network failures until :meth:`stop`."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[ConsoleEntry] = []
        self.network: list[NetworkFailure] = []
        self._recording = True
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def take(self) -> tuple[list[ConsoleEntry], list[NetworkFailure]]:
        """Everything recorded since the previous call (and forget it)."""
        console, network = self.console, self.network
        self.console, self.network = [], []
        return console, network

    def stop(self) -> None:
        """Ignore whatever the page reports from now on (closing it aborts pending requests)."""
        self._recording = False

    def _on_console(self, message: ConsoleMessage) -> None:
        if not self._recording:
            return
        location = message.location
        where = None
        if location and location.get("url"):
            where = f"{location['url']}:{location.get('lineNumber', 0)}:{location.get('columnNumber', 0)}"
        self.console.append(
            ConsoleEntry(ts=_now(), type=message.type, text=message.text, location=where, url=self.page.url)
        )

    def _on_page_error(self, error: PlaywrightError) -> None:
        if not self._recording:
            return
        name = error.name or "Error"
        message = error.message or str(error)
        text = message if message.startswith(f"{name}:") else f"{name}: {message}"
        found = _STACK_LOCATION.search(error.stack or "")
        self.console.append(
            ConsoleEntry(
                ts=_now(),
                type="pageerror",
                text=text,
                location=found.group(1) if found else None,
                url=self.page.url,
            )
        )

    def _on_request_failed(self, request: Request) -> None:
        if not self._recording or request.failure == _ABORTED:
            return
        self.network.append(
            NetworkFailure(
                url=request.url,
                method=request.method,
                status=None,
                failure=request.failure,
                resource_type=request.resource_type,
            )
        )

    def _on_response(self, response: Response) -> None:
        if not self._recording or response.status < 400:
            return
        request = response.request
        self.network.append(
            NetworkFailure(
                url=response.url,
                method=request.method,
                status=response.status,
                failure=response.status_text or None,
                resource_type=request.resource_type,
            )
        )


def write_console(path: Path, entries: list[ConsoleEntry]) -> None:
    """Write ``entries`` as NDJSON (one :class:`ConsoleEntry` per line; empty file for none)."""
    lines = "".join(entry.model_dump_json() + "\n" for entry in entries)
    atomic_write_bytes(path, lines.encode("utf-8"))


def write_network(path: Path, failures: list[NetworkFailure]) -> None:
    """Write ``failures`` as a JSON list of :class:`NetworkFailure`."""
    atomic_write_json(path, [failure.model_dump(mode="json") for failure in failures])
