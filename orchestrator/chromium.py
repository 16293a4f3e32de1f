"""Finding and launching Chromium: the system browser first, Playwright's managed one as a fallback.

Shared by everything that drives a browser: the UI gate's web driver and the scenario runner's
``browser:`` steps.

Order: ``ORCHESTRATE_CHROMIUM`` when set (it replaces the system lookup), else the distribution's
``/usr/bin/chromium`` and any ``chromium`` / ``chromium-browser`` on ``PATH``; then the browser
Playwright manages itself (``playwright install chromium``). Every launch uses the flags that make
Chromium quiet and deterministic in CI (no sandbox, no GPU, no background network, no component
updates, no sync, no first-run UI), and one renderer process per page: no spare renderer and no
address-bar renderer per browser context, which parallel contexts would pay for over and over.
When nothing starts, :class:`BrowserLaunchError` names every candidate tried and why it failed, so
the fix is obvious from the message alone.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

from orchestrator.errors import OrchestrateError

__all__ = [
    "CHROMIUM_ENV",
    "LAUNCH_ARGS",
    "SYSTEM_CHROMIUM",
    "BrowserCandidate",
    "BrowserLaunchError",
    "browser_candidates",
    "display_available",
    "first_line",
    "launch_chromium",
]

CHROMIUM_ENV = "ORCHESTRATE_CHROMIUM"
SYSTEM_CHROMIUM = "/usr/bin/chromium"
_PLAYWRIGHT_DISABLED_FEATURES: tuple[str, ...] = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
"""The features Playwright disables itself. Chromium reads only the last ``--disable-features``,
so ours repeats them (a test fails when a Playwright upgrade disables one more)."""
_DISABLED_FEATURES: tuple[str, ...] = (
    # Every browser context gets a window, and each window would start two renderer processes
    # nobody looks at in headless runs: a spare one kept ready for the next navigation, and one
    # for the address bar's popups. Each costs as much CPU as a page's own renderer, per context.
    "SpareRendererForSitePerProcess",
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
)
LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=" + ",".join(_PLAYWRIGHT_DISABLED_FEATURES + _DISABLED_FEATURES),
)
_LAUNCH_TIMEOUT_MS = 60_000
_FIX = (
    "install the distribution's Chromium (e.g. `apt-get install chromium`), point "
    f"{CHROMIUM_ENV} at a Chromium or Chrome executable, or run `playwright install chromium`"
)


class BrowserLaunchError(OrchestrateError):
    """No Chromium could be started; ``tried`` lists each candidate and what went wrong."""

    error_code = "browser_unavailable"

    def __init__(self, tried: list[str]) -> None:
        self.tried = tried
        super().__init__(f"no Chromium could be started; tried: {'; '.join(tried)}. Fix: {_FIX}")


@dataclass(frozen=True, slots=True)
class BrowserCandidate:
    """One browser to try: an executable, or ``path=None`` for Playwright's managed Chromium."""

    label: str
    path: str | None


def browser_candidates(env: Mapping[str, str] | None = None) -> list[BrowserCandidate]:
    """The browsers to try, in order (see the module docstring)."""
    env = os.environ if env is None else env
    candidates: list[BrowserCandidate] = []
    override = env.get(CHROMIUM_ENV, "").strip()
    if override:
        candidates.append(BrowserCandidate(f"{CHROMIUM_ENV}={override}", override))
    else:
        search_path = env.get("PATH")
        seen: set[str] = set()
        for path in (
            SYSTEM_CHROMIUM,
            shutil.which("chromium", path=search_path),
            shutil.which("chromium-browser", path=search_path),
        ):
            if path is None:
                continue
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            candidates.append(BrowserCandidate(path, path))
    candidates.append(BrowserCandidate("Playwright's managed Chromium", None))
    return candidates


def display_available(env: Mapping[str, str] | None = None) -> bool:
    """Whether a headed browser could show a window (always on macOS and Windows)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def first_line(error: BaseException | str, limit: int = 240) -> str:
    """The first non-empty line of an error, cut to ``limit`` characters (Playwright's are long)."""
    text = str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), text.strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def launch_chromium(
    playwright: Playwright, *, headless: bool = True, env: Mapping[str, str] | None = None
) -> tuple[Browser, BrowserCandidate]:
    """Launch the first candidate that starts; raise :class:`BrowserLaunchError` naming all tried."""
    tried: list[str] = []
    for candidate in browser_candidates(env):
        if candidate.path is not None and not os.access(candidate.path, os.X_OK):
            tried.append(f"{candidate.label} (not found or not executable)")
            continue
        try:
            browser = await playwright.chromium.launch(
                executable_path=candidate.path,
                headless=headless,
                args=list(LAUNCH_ARGS),
                timeout=_LAUNCH_TIMEOUT_MS,
            )
        except PlaywrightError as exc:
            tried.append(f"{candidate.label} ({first_line(exc)})")
            continue
        return browser, candidate
    raise BrowserLaunchError(tried)
