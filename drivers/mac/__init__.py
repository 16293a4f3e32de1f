"""The mac driver: captures a macOS app through the ``peekaboo`` command line.

Per scenario of the profile it takes an AX snapshot (``peekaboo see``) and a screenshot
(``peekaboo image``) of the target's app, after a platform gate (macOS 15 or later, else a skip
with exit 0) and a permission probe (Screen Recording and Accessibility, else exit 2). Registered
as ``mac`` in the ``orchestrate.drivers`` entry-point group; :func:`capture_mac` does the same
work without an actor.
"""

from __future__ import annotations

from orchestrator.drivers.mac._capture import DEFAULT_SCENARIO, capture_mac
from orchestrator.drivers.mac._driver import MacDriver
from orchestrator.drivers.mac._peekaboo import REQUIRED_PERMISSIONS, missing_permissions, validate_app_name
from orchestrator.drivers.mac._platform import MIN_MACOS, MacPlatform

__all__ = [
    "DEFAULT_SCENARIO",
    "MIN_MACOS",
    "REQUIRED_PERMISSIONS",
    "MacDriver",
    "MacPlatform",
    "capture_mac",
    "missing_permissions",
    "validate_app_name",
]
