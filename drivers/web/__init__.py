"""The web driver: Playwright for Python with a real Chromium, for the UI gate.

Per route and per marked journey step it leaves a full-page screenshot, an ARIA snapshot,
axe-core results, the console and page errors as NDJSON and the failed requests in the run dir,
plus one HAR for the run and a Playwright trace per browser context, all described by
``captures/web.json``. Routes are captured in parallel browser contexts of one browser. A project
with its own Playwright suite can be run as it is instead (suite mode).

- :class:`WebDriver` is the actor (entry point ``orchestrate.drivers: web``).
- :func:`capture_web` and :func:`run_suite` do the work without actors.
- :class:`Crawler` is ``routes: auto``: it finds a site's routes in a browser from
  :func:`launch_chromium` (:class:`CrawlLimits` bounds it, :class:`Discovery` is what it found).
- :func:`capture_routes_bare` is the benchmarks' baseline: the bare Playwright script one would
  write by hand.
"""

from __future__ import annotations

from orchestrator.drivers.web._browser import (
    CHROMIUM_ENV,
    LAUNCH_ARGS,
    BrowserCandidate,
    BrowserLaunchError,
    browser_candidates,
    launch_chromium,
)
from orchestrator.drivers.web._crawl import Crawler, CrawlLimits, Discovery, FoundRoute
from orchestrator.drivers.web._driver import WebDriver
from orchestrator.drivers.web._naming import artifact_name
from orchestrator.drivers.web._outcome import DriverOutcome
from orchestrator.drivers.web._page_capture import Timeouts
from orchestrator.drivers.web._playwright_baseline import capture_routes_bare
from orchestrator.drivers.web._select import Selection, select_for_changes
from orchestrator.drivers.web._session import (
    ProgressCallback,
    WebCaptureOptions,
    capture_web,
    capture_web_async,
    default_parallel,
)
from orchestrator.drivers.web._suite import parse_suite_report, run_suite, wants_suite

__all__ = [
    "CHROMIUM_ENV",
    "LAUNCH_ARGS",
    "BrowserCandidate",
    "BrowserLaunchError",
    "CrawlLimits",
    "Crawler",
    "Discovery",
    "DriverOutcome",
    "FoundRoute",
    "ProgressCallback",
    "Selection",
    "Timeouts",
    "WebCaptureOptions",
    "WebDriver",
    "artifact_name",
    "browser_candidates",
    "capture_routes_bare",
    "capture_web",
    "capture_web_async",
    "default_parallel",
    "launch_chromium",
    "parse_suite_report",
    "run_suite",
    "select_for_changes",
    "wants_suite",
]
