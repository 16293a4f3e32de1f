"""What a page says while it is captured: console messages, uncaught errors and failed requests.

A :class:`PageRecorder` listens to one page from the moment it is opened. Console messages and
uncaught page errors become :class:`~orchestrator.gate.ConsoleEntry` lines (``type`` is the
browser's message type, or ``pageerror``); requests that fail outright or answer HTTP 4xx/5xx
become :class:`~orchestrator.gate.NetworkFailure` records. Requests the browser aborted itself
(``net::ERR_ABORTED``: the page navigated away or cancelled them) are not failures a user sees
and are left out. :meth:`PageRecorder.take` hands over
what arrived since the last call, so each journey step gets only its own evidence.

A page can say a great deal: each message's text is cut to :data:`MAX_TEXT` characters, and a
capture keeps at most :data:`MAX_ENTRIES` console entries (and as many network failures); what
is left out is counted in one last entry, so the evidence says it is incomplete. Text is made
valid UTF-8 (:mod:`~orchestrator.drivers.web._text`) as it arrives.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, Request, Response
from playwright.async_api import Error as PlaywrightError

from orchestrator.artifacts import atomic_write_bytes, atomic_write_json
from orchestrator.drivers.web._text import clean_json, clean_text, cut_text
from orchestrator.gate import ConsoleEntry, NetworkFailure

__all__ = ["MAX_ENTRIES", "MAX_TEXT", "PageRecorder", "write_console", "write_network"]

MAX_TEXT = 8192
"""Characters kept of one console message, error location or URL."""
MAX_ENTRIES = 1000
"""Console entries, and network failures, kept for one capture."""

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
        self._dropped_console = 0
        self._dropped_network = 0
        self._recording = True
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def take(self) -> tuple[list[ConsoleEntry], list[NetworkFailure]]:
        """Everything recorded since the previous call (and forget it).

        When entries were dropped for the cap, the last console entry says how many.
        """
        console, network = self.console, self.network
        if self._dropped_console or self._dropped_network:
            console.append(
                ConsoleEntry(
                    ts=_now(),
                    type="truncated",
                    text=(
                        f"{self._dropped_console} more console messages and {self._dropped_network} "
                        f"more network failures were not kept (at most {MAX_ENTRIES} of each per capture)"
                    ),
                    url=self._url(),
                )
            )
        self.console, self.network = [], []
        self._dropped_console = self._dropped_network = 0
        return console, network

    @property
    def pending(self) -> bool:
        """Whether anything was recorded (or dropped) since the previous :meth:`take`."""
        return bool(self.console or self.network or self._dropped_console or self._dropped_network)

    def stop(self) -> None:
        """Ignore whatever the page reports from now on (closing it aborts pending requests)."""
        self._recording = False

    def _url(self) -> str:
        return cut_text(self.page.url, MAX_TEXT)

    def _add_console(self, entry_type: str, text: str, location: str | None) -> None:
        if len(self.console) >= MAX_ENTRIES:
            self._dropped_console += 1
            return
        self.console.append(
            ConsoleEntry(
                ts=_now(),
                type=clean_text(entry_type),
                text=cut_text(text, MAX_TEXT),
                location=cut_text(location, MAX_TEXT) if location is not None else None,
                url=self._url(),
            )
        )

    def _add_network(self, url: str, method: str, status: int | None, failure: str | None, kind: str) -> None:
        if len(self.network) >= MAX_ENTRIES:
            self._dropped_network += 1
            return
        self.network.append(
            NetworkFailure(
                url=cut_text(url, MAX_TEXT),
                method=clean_text(method),
                status=status,
                failure=cut_text(failure, MAX_TEXT) if failure is not None else None,
                resource_type=clean_text(kind),
            )
        )

    def _on_console(self, message: ConsoleMessage) -> None:
        if not self._recording:
            return
        location = message.location
        where = None
        if location and location.get("url"):
            where = f"{location['url']}:{location.get('lineNumber', 0)}:{location.get('columnNumber', 0)}"
        self._add_console(message.type, message.text, where)

    def _on_page_error(self, error: PlaywrightError) -> None:
        if not self._recording:
            return
        name = error.name or "Error"
        message = error.message or str(error)
        text = message if message.startswith(f"{name}:") else f"{name}: {message}"
        found = _STACK_LOCATION.search(error.stack or "")
        self._add_console("pageerror", text, found.group(1) if found else None)

    def _on_request_failed(self, request: Request) -> None:
        if not self._recording or request.failure == _ABORTED:
            return
        self._add_network(request.url, request.method, None, request.failure, request.resource_type)

    def _on_response(self, response: Response) -> None:
        if not self._recording or response.status < 400:
            return
        request = response.request
        self._add_network(
            response.url, request.method, response.status, response.status_text or None, request.resource_type
        )


def write_console(path: Path, entries: list[ConsoleEntry]) -> None:
    """Write ``entries`` as NDJSON (one :class:`ConsoleEntry` per line; empty file for none)."""
    lines = "".join(
        json.dumps(clean_json(entry.model_dump()), ensure_ascii=False, separators=(",", ":")) + "\n"
        for entry in entries
    )
    atomic_write_bytes(path, lines.encode("utf-8"))


def write_network(path: Path, failures: list[NetworkFailure]) -> None:
    """Write ``failures`` as a JSON list of :class:`NetworkFailure`."""
    atomic_write_json(path, [clean_json(failure.model_dump()) for failure in failures])
