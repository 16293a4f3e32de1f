"""The baseline the web driver is benchmarked against: a bare Playwright script, no framework.

:func:`capture_routes_bare` is what someone would write by hand with no framework: one browser,
one page, the routes visited one after another, and for each a full-page screenshot, an ARIA
snapshot and an axe-core run (axe-playwright-python's ``Axe().run(page)``, as its documentation
shows). No HAR, no traces, no console or network recording, no manifest, no parallelism. It uses
the same Chromium the driver would, so timings compare the work, not the browsers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from orchestrator.drivers.web._browser import LAUNCH_ARGS, BrowserLaunchError, browser_candidates, first_line
from orchestrator.drivers.web._naming import artifact_name
from orchestrator.drivers.web._page_capture import join_url

__all__ = ["capture_routes_bare"]


def _launch(playwright: Playwright, env: Mapping[str, str] | None) -> Browser:
    tried: list[str] = []
    for candidate in browser_candidates(env):
        try:
            return playwright.chromium.launch(executable_path=candidate.path, args=list(LAUNCH_ARGS))
        except PlaywrightError as exc:
            tried.append(f"{candidate.label} ({first_line(exc)})")
    raise BrowserLaunchError(tried)


def capture_routes_bare(
    base_url: str, routes: Sequence[str], out_dir: Path, *, env: Mapping[str, str] | None = None
) -> list[Path]:
    """Visit ``routes`` in order in one page; write ``<name>.png``, ``.aria.yaml``, ``.axe.json`` each.

    Returns the screenshot paths. Raises :class:`BrowserLaunchError` when no Chromium starts and
    Playwright's errors as they come (a bare script has no error handling to speak of).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    screenshots: list[Path] = []
    axe = Axe()
    with sync_playwright() as playwright:
        browser = _launch(playwright, env)
        try:
            page = browser.new_page()
            for route in routes:
                name = artifact_name(route)
                page.goto(join_url(base_url, route))
                shot = out_dir / f"{name}.png"
                page.screenshot(path=shot, full_page=True)
                aria = page.locator("body").aria_snapshot()
                (out_dir / f"{name}.aria.yaml").write_text(aria, encoding="utf-8")
                results = axe.run(page)
                (out_dir / f"{name}.axe.json").write_text(json.dumps(results.response), encoding="utf-8")
                screenshots.append(shot)
        finally:
            browser.close()
    return screenshots
