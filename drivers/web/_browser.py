"""Finding and launching Chromium, for the web driver: see :mod:`orchestrator.chromium`.

The scenario runner's ``browser:`` steps launch Chromium the same way, so the lookup and the launch
flags live in the runtime package and this module re-exports them under their driver names.
"""

from __future__ import annotations

from orchestrator.chromium import (
    CHROMIUM_ENV,
    LAUNCH_ARGS,
    SYSTEM_CHROMIUM,
    BrowserCandidate,
    BrowserLaunchError,
    browser_candidates,
    display_available,
    first_line,
    launch_chromium,
)

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
