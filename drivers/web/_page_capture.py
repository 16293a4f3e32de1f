"""Capturing routes: load the URL in a lane's tab, take the evidence, describe it as a Capture.

A route whose server answers with an HTTP error is still captured (the error page is what a user
sees, and the failed response is in the network evidence); a navigation that fails or times out
makes the capture fail (``ok=False`` with the reason), with whatever evidence could still be
taken. Console and network files are always written, empty when the page was quiet, so every
path a manifest names exists.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._evidence import Evidence, take_evidence
from orchestrator.drivers.web._naming import ROUTES_DIR, artifact_name, inside, relative
from orchestrator.drivers.web._recorder import MAX_TEXT, PageRecorder, write_console, write_network
from orchestrator.drivers.web._text import clean_text, cut_text
from orchestrator.gate import Capture, ConsoleEntry, NetworkFailure

__all__ = ["RouteTab", "Timeouts", "join_url", "record_capture"]

CONSOLE = "console.ndjson"
NETWORK = "network.json"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long one navigation, and one action or piece of evidence, may take."""

    navigation_s: float = 30.0
    action_s: float = 10.0

    @property
    def navigation_ms(self) -> float:
        return self.navigation_s * 1000

    @property
    def action_ms(self) -> float:
        return self.action_s * 1000


def join_url(base_url: str, route: str) -> str:
    """The URL of ``route`` under ``base_url`` (an absolute http(s) route is used as it is)."""
    if route.startswith(("http://", "https://")):
        return route
    return base_url.rstrip("/") + "/" + route.lstrip("/")


def record_capture(
    *,
    run_dir: Path,
    directory: Path,
    kind: Literal["route", "journey_step"],
    name: str,
    url: str | None,
    evidence: Evidence,
    console: list[ConsoleEntry],
    network: list[NetworkFailure],
    errors: list[str],
    journey: str | None = None,
    step_index: int | None = None,
) -> Capture:
    """Write the console and network files beside the evidence and describe it all."""
    directory.mkdir(parents=True, exist_ok=True)
    write_console(directory / CONSOLE, console)
    write_network(directory / NETWORK, network)

    def rel(path: Path | None) -> str | None:
        return relative(run_dir, path) if path is not None else None

    return Capture(
        kind=kind,
        name=name,
        url=cut_text(url, MAX_TEXT) if url is not None else None,
        journey=journey,
        step_index=step_index,
        screenshot=rel(evidence.screenshot),
        aria_snapshot=rel(evidence.aria_snapshot),
        axe=rel(evidence.axe),
        console=rel(directory / CONSOLE),
        network=rel(directory / NETWORK),
        ok=not errors,
        error=clean_text("; ".join(errors)) or None,
    )


class RouteTab:
    """One lane's browser tab, reused route after route, as a person clicking through would.

    Reusing the tab keeps the per-route cost at a navigation (a new page per route costs more
    than the capture itself once axe-core is installed in the context). Between routes the
    context's cookies are cleared, and whatever the previous document reported on its way out is
    dropped, so each capture holds only its own route's evidence. A tab whose navigation failed
    (a hung or crashed page) is closed, and the next route gets a fresh one.
    """

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self._page: Page | None = None
        self._recorder: PageRecorder | None = None

    async def _open(self) -> tuple[Page, PageRecorder]:
        if self._page is None or self._recorder is None or self._page.is_closed():
            self._page = await self.context.new_page()
            self._recorder = PageRecorder(self._page)
        return self._page, self._recorder

    async def close(self) -> None:
        page, recorder = self._page, self._recorder
        self._page = self._recorder = None
        if recorder is not None:
            recorder.stop()
        if page is not None:
            with contextlib.suppress(PlaywrightError):
                await page.close()

    async def capture(self, *, run_dir: Path, route: str, base_url: str, timeouts: Timeouts) -> Capture:
        """Visit ``route`` and capture it under ``web/routes/<name>/``."""
        directory = inside(run_dir, f"{ROUTES_DIR}/{artifact_name(route)}")
        url = join_url(base_url, route)
        errors: list[str] = []
        page, recorder = await self._open()
        recorder.take()
        try:
            await page.goto(url, wait_until="load", timeout=timeouts.navigation_ms)
        except PlaywrightError as exc:
            errors.append(f"navigation to {url} failed: {first_line(exc)}")
            # What the user is left looking at is still worth keeping; axe on it is not.
            evidence = await take_evidence(page, directory, axe=False, timeout_ms=timeouts.action_ms)
            console, network = recorder.take()
            await self.close()
        else:
            evidence = await take_evidence(page, directory, timeout_ms=timeouts.action_ms)
            errors.extend(evidence.errors)
            console, network = recorder.take()
        await self.context.clear_cookies()
        return record_capture(
            run_dir=run_dir,
            directory=directory,
            kind="route",
            name=route,
            url=url,
            evidence=evidence,
            console=console,
            network=network,
            errors=errors,
        )
