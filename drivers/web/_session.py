"""One capture session: one browser, routes and journeys spread over parallel browser contexts.

:func:`capture_web` is the web driver's real work, usable without actors. It launches one
Chromium, then runs ``parallel`` lanes at once, each pulling the next unit of work from a shared
queue: journeys first (they take longest), then routes. A lane captures its routes in one
browser context of its own, in one tab reused route after route with cookies cleared in between
(see :class:`~orchestrator.drivers.web._page_capture.RouteTab`), and runs each journey in a
context of the journey's own, so a journey always starts signed out and empty. With ``routes:
auto`` the routes are first found by crawling the target (:mod:`~orchestrator.drivers.web._crawl`)
in the same browser, within the same deadline; what was found is ``web/routes.json``, named in the
manifest's ``extra`` as ``discovered_routes``. A route or journey ``goto`` naming an origin the
profile does not allow is refused before any browser starts (exit 2, naming the profile's file and
field).

Every context records a HAR (bodies omitted) and a Playwright trace, both with credentials
redacted (:mod:`~orchestrator.drivers.web._redact`). The trace zips are kept per
context (``web/traces/<lane or journey>.zip``); the HAR parts are merged into one
``web/run.har`` for the run. Captures are listed in a fixed order (routes as the profile lists
them, then each journey's steps), so the manifest does not depend on which lane was faster.

A stop (the ``cancelled`` event, set from any thread) or the profile's deadline cancels the lanes
where they are, a hanging navigation included, and closes the browser within a few seconds;
units not finished are failed captures saying why. A unit that fails in a way nobody foresaw fails
its own capture only.

Exit codes: 0 when everything was captured, 1 when any capture failed (a navigation error or
timeout, a failed journey step, the profile's timeout running out), 2 when the session itself
could not run (no browser, the browser died, an unexpected error). Nothing is raised for any of
these; the manifest says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog
from playwright.async_api import Browser, BrowserContext, async_playwright
from playwright.async_api import Error as PlaywrightError

from orchestrator.artifacts import atomic_write_json
from orchestrator.drivers.web._browser import (
    BrowserLaunchError,
    display_available,
    first_line,
    launch_chromium,
)
from orchestrator.drivers.web._crawl import CrawlLimits, Discovery
from orchestrator.drivers.web._evidence import install_axe
from orchestrator.drivers.web._journey import STOPPED, run_journey
from orchestrator.drivers.web._naming import HAR_FILE, TRACES_DIR, WEB_DIR, artifact_name, inside, relative
from orchestrator.drivers.web._outcome import DriverOutcome, finish
from orchestrator.drivers.web._page_capture import RouteTab, Timeouts, join_url
from orchestrator.drivers.web._redact import redact_har_entry, redact_trace
from orchestrator.drivers.web._routes import (
    DISCOVERED_ROUTES_FILE,
    discover_routes,
    foreign_route_error,
    nothing_found,
)
from orchestrator.drivers.web._select import Selection, select_for_changes
from orchestrator.drivers.web._text import clean_json, clean_text
from orchestrator.gate import Capture, CaptureManifest, JourneyRecord
from orchestrator.policy.test_profiles import AUTO_ROUTES, JourneySpec

__all__ = ["ProgressCallback", "WebCaptureOptions", "capture_web", "capture_web_async", "default_parallel"]

ProgressCallback = Callable[[str, Mapping[str, Any]], None]

_log = structlog.get_logger(__name__)
_HAR_PARTS_DIR = f"{WEB_DIR}/har-parts"
_SELECTION_FILE = f"{WEB_DIR}/selection.json"
_VIEWPORT = {"width": 1280, "height": 720}
_CANCEL_POLL_S = 0.1
_CLOSE_GRACE_S = 2.0
"""How long stopped lanes may take to save their traces and close their pages."""


def default_parallel() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class WebCaptureOptions:
    """What to capture, where, and how."""

    run_dir: Path
    base_url: str
    routes: Sequence[str] | Literal["auto"] = ()
    """Routes to visit, or ``auto``: crawl the target for them, within ``crawl``'s limits."""
    journeys: Sequence[JourneySpec] = ()
    crawl: CrawlLimits = field(default_factory=CrawlLimits)
    allowed_origins: Sequence[str] = ()
    """Origins other than ``base_url``'s that routes and journey ``goto`` steps may name."""
    parallel: int | None = None
    """Browser contexts at once; ``None`` means the number of CPU cores."""
    headless: bool = True
    timeout_s: float = 300.0
    """The whole session's deadline; units not finished by then are failed captures."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    changed_files: Sequence[str] | None = None
    changed_paths: Mapping[str, Sequence[str]] = field(default_factory=dict)
    env: Mapping[str, str] | None = None
    """Where the browser lookup reads ``ORCHESTRATE_CHROMIUM`` and ``PATH`` (default: the process's)."""
    driver: str = "web"
    profile_name: str | None = None
    profile_file: Path | None = None
    """The file the profile came from, named by errors about its routes."""


def capture_web(
    options: WebCaptureOptions,
    *,
    on_progress: ProgressCallback | None = None,
    cancelled: threading.Event | None = None,
) -> DriverOutcome:
    """Capture ``options``' routes and journeys; write the manifest; never raise for capture problems.

    Runs its own event loop; from async code, await :func:`capture_web_async` instead.
    """
    return asyncio.run(capture_web_async(options, on_progress=on_progress, cancelled=cancelled))


async def capture_web_async(
    options: WebCaptureOptions,
    *,
    on_progress: ProgressCallback | None = None,
    cancelled: threading.Event | None = None,
) -> DriverOutcome:
    """:func:`capture_web` for callers already inside an event loop."""
    run_dir = options.run_dir.resolve()
    progress = on_progress or (lambda message, details: None)
    refused = foreign_route_error(
        options.routes,
        options.journeys,
        base_url=options.base_url,
        allowed_origins=options.allowed_origins,
        profile_name=options.profile_name,
        profile_file=options.profile_file,
    )
    if refused is not None:
        return finish(run_dir, CaptureManifest(driver=options.driver, exit_code=2, error=str(refused)))
    extra: dict[str, str] = {}
    selection: Selection | None = None
    if options.routes != AUTO_ROUTES:
        selection = _select(options, options.routes, run_dir, extra, progress)
        if not selection.routes and not selection.journeys:
            why = selection.reason or "the profile names no routes and no journeys"
            manifest = CaptureManifest(driver=options.driver, exit_code=0, skipped=why, extra=extra)
            return finish(run_dir, manifest)
    try:
        manifest = await _Session(options, run_dir, selection, progress, cancelled).run(extra)
    except BrowserLaunchError as exc:
        manifest = CaptureManifest(driver=options.driver, exit_code=2, error=str(exc), extra=extra)
    except Exception as exc:  # the contract: a session that cannot run is exit 2, never raised
        _log.warning("web capture session failed", error=str(exc), exc_info=True)
        error = clean_text(f"the capture session failed: {type(exc).__name__}: {first_line(exc)}")
        manifest = CaptureManifest(driver=options.driver, exit_code=2, error=error, extra=extra)
    return finish(run_dir, manifest)


def _select(
    options: WebCaptureOptions,
    routes: Sequence[str],
    run_dir: Path,
    extra: dict[str, str],
    progress: ProgressCallback,
) -> Selection:
    """Narrow ``routes`` and the journeys to what changed (``--since``), recording why."""
    selection = select_for_changes(
        routes, options.journeys, changed_files=options.changed_files, changed_paths=options.changed_paths
    )
    if selection.reason is not None:
        atomic_write_json(inside(run_dir, _SELECTION_FILE), selection.as_json())
        extra["selection"] = _SELECTION_FILE
        progress(selection.reason, {"skipped_routes": selection.skipped_routes})
    return selection


_Unit = tuple[int, str | JourneySpec]


class _Session:
    """The state of one capture session (see the module docstring)."""

    def __init__(
        self,
        options: WebCaptureOptions,
        run_dir: Path,
        selection: Selection | None,
        progress: ProgressCallback,
        cancelled: threading.Event | None,
    ) -> None:
        self.options = options
        self.run_dir = run_dir
        self.discover = selection is None
        """``routes: auto``: the routes are found once the browser runs, and selected then."""
        self.selection = selection or Selection([], list(options.journeys))
        self.progress = progress
        self.cancelled = cancelled or threading.Event()
        self.route_results: dict[int, Capture] = {}
        self.journey_results: dict[int, tuple[list[Capture], JourneyRecord]] = {}
        self.har_parts: list[Path] = []
        self.traces: list[str] = []
        self.done = 0
        self.total = len(self.selection.routes) + len(self.selection.journeys)
        self.browser_lost = False
        self.deadline = 0.0
        """The session's end on the event loop's clock: the crawl and the captures share it."""

    async def run(self, extra: dict[str, str]) -> CaptureManifest:
        options = self.options
        headless = options.headless
        if not headless and not display_available(options.env):
            headless = True
            extra["mode"] = "headless: headed mode was asked for, but there is no display"
        stopped_by: str | None = None
        self.deadline = asyncio.get_running_loop().time() + options.timeout_s
        async with async_playwright() as playwright:
            browser, candidate = await launch_chromium(playwright, headless=headless, env=options.env)
            browser.on("disconnected", lambda _: setattr(self, "browser_lost", True))
            platform = f"chromium {browser.version} ({candidate.label})"
            self.progress(f"browser started: {platform}", {"browser": candidate.label})
            if self.discover:
                found = await self._discover(browser, extra)
                if not self.selection.routes and not self.selection.journeys:
                    # Nothing found is an error (the gate saw nothing); nothing changed is a skip.
                    with contextlib.suppress(PlaywrightError):
                        await browser.close()
                    return CaptureManifest(
                        driver=options.driver,
                        exit_code=0 if found.routes else 2,
                        platform=platform,
                        skipped=self.selection.reason if found.routes else None,
                        error=None if found.routes else nothing_found(found),
                        extra=extra,
                    )
            units: deque[_Unit] = deque(
                [(index, journey) for index, journey in enumerate(self.selection.journeys)]
                + [(index, route) for index, route in enumerate(self.selection.routes)]
            )
            lanes = max(1, min(options.parallel or default_parallel(), len(units)))
            # Every lane finishes (or is cancelled) before an error of one of them is raised.
            work = asyncio.gather(
                *(self._lane(browser, number, units) for number in range(1, lanes + 1)),
                return_exceptions=True,
            )
            stop = asyncio.ensure_future(self._until_cancelled())
            either: set[asyncio.Future[Any]] = {work, stop}
            try:
                async with asyncio.timeout_at(self.deadline):
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                stopped_by = f"not captured: the profile's timeout of {options.timeout_s:g} s ran out"
            finally:
                # A stop or the deadline cancels the lanes where they are (a hanging navigation
                # included); each closes its contexts on the way out. Closing a page in the middle
                # of a cancelled call can itself hang, so the lanes get a short grace, then the
                # browser is closed under them (failing whatever they still wait for).
                finished = work.done()
                stop.cancel()
                work.cancel()
                await asyncio.wait(either, timeout=_CLOSE_GRACE_S)
                lost = self.browser_lost
                with contextlib.suppress(PlaywrightError):
                    await browser.close()
                await asyncio.wait(either)
            # A cancelled gather holds a CancelledError, not the lanes' results.
            outcomes: list[BaseException | None] = work.result() if finished else []
            if not finished:
                with contextlib.suppress(asyncio.CancelledError):
                    work.exception()  # retrieved, so asyncio does not report it as lost
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        if stopped_by is None and self.cancelled.is_set():
            stopped_by = STOPPED
        har = self._merge_har()
        captures, journeys = self._collect(stopped_by or "not captured")
        failed = any(not capture.ok for capture in captures)
        error = "the browser closed unexpectedly during the run" if lost else None
        unreachable = _unreachable(captures)
        if unreachable is not None and not lost:
            # Not one page answered: a wrong base_url or a target that is down is the setup's
            # fault, not a defect of the product, so nothing is left for the evaluator to file.
            return CaptureManifest(
                driver=options.driver,
                exit_code=2,
                platform=platform,
                error=f"the target did not answer at {options.base_url}: {unreachable}",
                har=har,
                traces=sorted(self.traces),
                extra=extra,
            )
        return CaptureManifest(
            driver=options.driver,
            exit_code=2 if lost else (1 if failed else 0),
            platform=platform,
            error=error,
            captures=captures,
            journeys=journeys,
            har=har,
            traces=sorted(self.traces),
            extra=extra,
        )

    async def _discover(self, browser: Browser, extra: dict[str, str]) -> Discovery:
        """Crawl for the routes (``routes: auto``), record them, and select what to visit."""
        options = self.options
        found = await discover_routes(
            browser,
            base_url=options.base_url,
            limits=options.crawl,
            parallel=options.parallel or default_parallel(),
            timeouts=options.timeouts,
            deadline=self.deadline,
            until_stopped=self._until_cancelled,
            run_dir=self.run_dir,
            progress=self.progress,
        )
        extra["discovered_routes"] = DISCOVERED_ROUTES_FILE
        self.selection = _select(options, found.routes, self.run_dir, extra, self.progress)
        self.total = len(self.selection.routes) + len(self.selection.journeys)
        return found

    async def _until_cancelled(self) -> None:
        """Return once the run is stopped (the event is set from another thread, so it is polled)."""
        while not self.cancelled.is_set():
            await asyncio.sleep(_CANCEL_POLL_S)

    async def _lane(self, browser: Browser, number: int, units: deque[_Unit]) -> None:
        """Capture units from the shared queue until it is empty (or the run is stopped)."""
        label = f"lane-{number}"
        context: BrowserContext | None = None
        tab: RouteTab | None = None
        try:
            while units and not self.cancelled.is_set() and not self.browser_lost:
                index, unit = units.popleft()
                if isinstance(unit, JourneySpec):
                    await self._journey(browser, index, unit)
                    continue
                try:
                    if context is None or tab is None:
                        context = await self._open_context(browser, label)
                        tab = RouteTab(context)
                    capture = await tab.capture(
                        run_dir=self.run_dir,
                        route=unit,
                        base_url=self.options.base_url,
                        timeouts=self.options.timeouts,
                    )
                except PlaywrightError as exc:
                    error = f"the browser could not capture {unit}: {first_line(exc)}"
                    capture = self._failed_route(unit, error)
                except Exception as exc:  # one route's surprise must not cost the others their evidence
                    _log.warning("route capture failed", route=unit, exc_info=True)
                    capture = self._failed_route(
                        unit, f"capturing {unit} failed: {type(exc).__name__}: {first_line(exc)}"
                    )
                self.route_results[index] = capture
                self._report(f"captured {unit}", name=unit, ok=capture.ok)
        finally:
            if tab is not None:
                await tab.close()
            if context is not None:
                await self._close_context(context, label)

    async def _journey(self, browser: Browser, index: int, journey: JourneySpec) -> None:
        """Run one journey in a context of its own."""
        label = f"journey-{artifact_name(journey.name)}"
        try:
            context = await self._open_context(browser, label)
            try:
                captures, record = await run_journey(
                    context,
                    journey,
                    run_dir=self.run_dir,
                    base_url=self.options.base_url,
                    timeouts=self.options.timeouts,
                    cancelled=self.cancelled,
                )
            finally:
                await self._close_context(context, label)
        except Exception as exc:  # one journey's surprise must not cost the others their evidence
            if isinstance(exc, PlaywrightError):
                error = f"the browser could not run journey {journey.name!r}: {first_line(exc)}"
            else:
                _log.warning("journey failed", journey=journey.name, exc_info=True)
                error = f"journey {journey.name!r} failed: {type(exc).__name__}: {first_line(exc)}"
            failed = Capture(
                kind="journey_step",
                name=journey.name,
                journey=journey.name,
                ok=False,
                error=clean_text(error),
            )
            captures, record = [failed], JourneyRecord(name=journey.name, onboarding=journey.onboarding)
        self.journey_results[index] = (captures, record)
        ok = all(capture.ok for capture in captures)
        self._report(f"journey {journey.name}: {record.step_count} marked steps", name=journey.name, ok=ok)

    def _failed_route(self, route: str, error: str) -> Capture:
        url = join_url(self.options.base_url, route)
        return Capture(kind="route", name=route, url=clean_text(url), ok=False, error=clean_text(error))

    def _report(self, message: str, *, name: str, ok: bool) -> None:
        self.done += 1
        self.progress(
            f"{message} ({self.done}/{self.total})" + ("" if ok else " - failed"),
            {"name": name, "ok": ok, "done": self.done, "total": self.total},
        )

    async def _open_context(self, browser: Browser, label: str) -> BrowserContext:
        har = inside(self.run_dir, f"{_HAR_PARTS_DIR}/{label}.har")
        har.parent.mkdir(parents=True, exist_ok=True)
        context = await browser.new_context(
            viewport={"width": _VIEWPORT["width"], "height": _VIEWPORT["height"]},
            device_scale_factor=1,
            locale="en-US",
            timezone_id="UTC",
            color_scheme="light",
            reduced_motion="reduce",
            record_har_path=har,
            record_har_content="omit",
        )
        self.har_parts.append(har)
        await install_axe(context)
        await context.tracing.start(title=label, snapshots=True, screenshots=False, sources=False)
        return context

    async def _close_context(self, context: BrowserContext, label: str) -> None:
        """Save the context's trace, then close it (which writes its HAR part)."""
        trace = inside(self.run_dir, f"{TRACES_DIR}/{label}.zip")
        trace.parent.mkdir(parents=True, exist_ok=True)
        try:
            await context.tracing.stop(path=trace)
            await asyncio.to_thread(redact_trace, trace)
        except (PlaywrightError, OSError, ValueError, zipfile.BadZipFile) as exc:
            _log.warning("trace not saved", trace=str(trace), error=first_line(exc))
            trace.unlink(missing_ok=True)
        else:
            self.traces.append(relative(self.run_dir, trace))
        with contextlib.suppress(PlaywrightError):
            await context.close()

    def _merge_har(self) -> str | None:
        """Merge the contexts' HAR parts into the run's one HAR; return its path (or ``None``)."""
        pages: list[Any] = []
        entries: list[Any] = []
        log: dict[str, Any] | None = None
        for part in self.har_parts:
            try:
                document = json.loads(part.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                _log.warning("HAR part unreadable", part=str(part), error=str(exc))
                continue
            part_log = document.get("log", {}) if isinstance(document, dict) else {}
            if log is None:
                log = {key: value for key, value in part_log.items() if key not in ("pages", "entries")}
            pages.extend(part_log.get("pages", []))
            for entry in part_log.get("entries", []):
                redact_har_entry(entry)
                entries.append(entry)
        parts_dir = inside(self.run_dir, _HAR_PARTS_DIR)
        for part in self.har_parts:
            part.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            parts_dir.rmdir()
        if log is None:
            return None
        pages.sort(key=lambda page: str(page.get("startedDateTime", "")))
        entries.sort(key=lambda entry: str(entry.get("startedDateTime", "")))
        atomic_write_json(
            inside(self.run_dir, HAR_FILE), clean_json({"log": {**log, "pages": pages, "entries": entries}})
        )
        return HAR_FILE

    def _collect(self, missing_reason: str) -> tuple[list[Capture], list[JourneyRecord]]:
        """Captures in profile order; units that never finished become failed captures."""
        captures: list[Capture] = []
        for index, route in enumerate(self.selection.routes):
            found = self.route_results.get(index)
            url = join_url(self.options.base_url, route)
            captures.append(
                found or Capture(kind="route", name=route, url=url, ok=False, error=missing_reason)
            )
        journeys: list[JourneyRecord] = []
        for index, journey in enumerate(self.selection.journeys):
            result = self.journey_results.get(index)
            if result is None:
                captures.append(
                    Capture(
                        kind="journey_step",
                        name=journey.name,
                        journey=journey.name,
                        ok=False,
                        error=missing_reason,
                    )
                )
                continue
            captures.extend(result[0])
            journeys.append(result[1])
        return captures, journeys


_UNREACHABLE = re.compile(
    r"net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|NAME_NOT_RESOLVED|"
    r"ADDRESS_UNREACHABLE|CONNECTION_TIMED_OUT|INVALID_URL|UNSAFE_PORT)"
)


def _unreachable(captures: list[Capture]) -> str | None:
    """The network error when every capture failed to reach the target at all, else ``None``."""
    errors = [capture.error or "" for capture in captures]
    if not captures or any(capture.ok for capture in captures):
        return None
    found = [match.group(0) for error in errors if (match := _UNREACHABLE.search(error))]
    return found[0] if len(found) == len(captures) else None

